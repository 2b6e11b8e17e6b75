//! What a load generator's event loop accumulates while it runs, and how the loops' tallies add
//! up to one: latency histograms, counts, errors and fairness, with one [`Tally::merge`].

use std::time::Duration;

use hdrhistogram::Histogram;

use super::report::{
    DatagramCounts, ErrorCounts, Fairness, Histograms, LatencyMs, LatenessMs, Machine,
    ScheduleCounts,
};

/// Latencies are kept in nanoseconds, with 3 significant digits. The histogram grows only as far
/// as its values need: one that covered a minute from the start would take 200 KiB, and a
/// monitor keeps several per target.
pub(crate) fn new_histogram() -> Histogram<u64> {
    histogram_of(3)
}

/// A histogram as [`new_histogram`]'s, with `digits` significant digits: 2 take a tenth of the
/// memory of 3 (a monitor's thousand targets).
fn histogram_of(digits: u8) -> Histogram<u64> {
    let mut histogram = Histogram::new(digits).expect("valid histogram precision");
    histogram.auto(true);
    histogram
}

/// The longest latency a histogram holds: an hour; longer ones count as an hour.
const LONGEST_NANOS: u64 = 3_600_000_000_000;

/// Records `nanos` in `histogram`, growing it as needed (`saturating_record` would clamp to its
/// size so far instead).
pub(crate) fn record_in(histogram: &mut Histogram<u64>, nanos: u64) {
    // Within an auto-resizing histogram's reach, so it cannot fail.
    let _ = histogram.record(nanos.min(LONGEST_NANOS));
}

/// How long each of [`Tally::intervals`] lasts.
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);

/// A run's interval histograms, one for every interval of the `seconds` measured, those in which
/// nothing was sent included (none, when they were not kept).
pub(crate) fn one_per_second(
    intervals: Option<Vec<Histogram<u64>>>,
    seconds: f64,
) -> Vec<Histogram<u64>> {
    let Some(mut intervals) = intervals else {
        return Vec::new();
    };
    let measured = (seconds / INTERVAL.as_secs_f64()).ceil() as usize;
    if intervals.len() < measured {
        intervals.resize_with(measured, new_histogram);
    }
    intervals
}

/// A duration in whole nanoseconds, the unit of every histogram (saturating, for a duration no
/// run lasts).
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// `count` a second over `seconds` (0 for a run that measured no time).
pub(crate) fn per_second(count: f64, seconds: f64) -> f64 {
    match seconds > 0.0 {
        true => count / seconds,
        false => 0.0,
    }
}

/// What an open-loop run (TCP or UDP) reports alike, from its merged tally.
pub(crate) struct OpenLoopFigures {
    pub(crate) sent_rate: f64,
    pub(crate) echoed_rate: f64,
    pub(crate) latency_ms: Option<LatencyMs>,
    pub(crate) uncorrected_latency_ms: Option<LatencyMs>,
    pub(crate) generator_lateness_ms: LatenessMs,
}

/// One event loop's measurements, or (merged) a whole run's.
pub(crate) struct Tally {
    /// Latency of each measured round trip, in nanoseconds: in an open-loop run, from the time
    /// the message was scheduled to go out.
    pub(crate) latency: Histogram<u64>,
    /// Open loop: latency from the moment a message's first byte was written.
    pub(crate) uncorrected: Histogram<u64>,
    /// Open loop: how late the generator itself wrote a message its socket could take.
    pub(crate) lateness: Histogram<u64>,
    /// When kept: `latency` again, one histogram per [`INTERVAL`] of the measured time, by the
    /// time the message was sent (or scheduled).
    pub(crate) intervals: Option<Vec<Histogram<u64>>>,
    /// Round trips completed and verified in the measured window.
    pub(crate) round_trips: u64,
    /// Connections that were up when measuring started.
    pub(crate) connected: usize,
    pub(crate) errors: ErrorCounts,
    pub(crate) fairness: Fairness,
    /// Open loop: what the schedule asked for and what became of it.
    pub(crate) schedule: ScheduleCounts,
    /// UDP: what became of the datagrams.
    pub(crate) datagrams: DatagramCounts,
    /// UDP: the marking the echoes came back with.
    pub(crate) path: super::path::PathSeen,
    /// Why the last connect failed, if one did: the error to show when none succeeded.
    pub(crate) connect_error: Option<anyhow::Error>,
}

impl Tally {
    /// The rates, the latency with and without the schedule (none without a round trip), and
    /// the generator's lateness of an open-loop run that measured `seconds`.
    pub(crate) fn open_loop_figures(&self, seconds: f64) -> OpenLoopFigures {
        let latency_ms = LatencyMs::with_p9999(&self.latency);
        OpenLoopFigures {
            sent_rate: per_second(self.schedule.sent as f64, seconds),
            echoed_rate: per_second(self.schedule.echoed_in_window as f64, seconds),
            latency_ms,
            uncorrected_latency_ms: LatencyMs::with_p9999(&self.uncorrected),
            generator_lateness_ms: LatenessMs::of(
                &self.lateness,
                latency_ms.map_or(0.0, |latency| latency.p99),
                Machine::now(),
            ),
        }
    }

    /// The histograms the exporters take, for a run that measured `seconds` from `start`;
    /// `open_loop` keeps the uncorrected latency beside the corrected one.
    pub(crate) fn into_histograms(
        self,
        seconds: f64,
        start: std::time::SystemTime,
        open_loop: bool,
    ) -> Histograms {
        Histograms {
            latency: self.latency,
            uncorrected: open_loop.then_some(self.uncorrected),
            intervals: one_per_second(self.intervals, seconds),
            interval: INTERVAL,
            start,
        }
    }

    pub(crate) fn new() -> Self {
        Tally {
            latency: new_histogram(),
            uncorrected: new_histogram(),
            lateness: new_histogram(),
            intervals: None,
            round_trips: 0,
            connected: 0,
            errors: ErrorCounts::default(),
            fairness: Fairness::default(),
            schedule: ScheduleCounts::default(),
            datagrams: DatagramCounts::default(),
            path: Default::default(),
            connect_error: None,
        }
    }

    /// A tally whose histograms keep 2 significant digits instead of 3: for many at once (a
    /// monitor's targets), where a percentile within 1 % is enough.
    pub(crate) fn compact() -> Self {
        Tally {
            latency: histogram_of(2),
            uncorrected: histogram_of(2),
            lateness: histogram_of(2),
            ..Tally::new()
        }
    }

    /// A tally that also keeps one histogram per interval (for an interval log or a plot).
    pub(crate) fn with_intervals(keep: bool) -> Self {
        Tally {
            intervals: keep.then(Vec::new),
            ..Tally::new()
        }
    }

    /// Records one measured round trip of `nanos` nanoseconds, sent (or scheduled) `since_start`
    /// into the measured time.
    pub(crate) fn record(&mut self, nanos: u64, since_start: Duration) {
        record_in(&mut self.latency, nanos);
        self.round_trips += 1;
        if let Some(intervals) = &mut self.intervals {
            let index = (since_start.as_nanos() / INTERVAL.as_nanos()) as usize;
            if intervals.len() <= index {
                intervals.resize_with(index + 1, new_histogram);
            }
            record_in(&mut intervals[index], nanos);
        }
    }

    /// Counts a connection that completed `round_trips` in the measured window.
    pub(crate) fn count_connection(&mut self, round_trips: u64) {
        let fairness = &mut self.fairness;
        fairness.fewest = fairness.fewest.min(round_trips);
        fairness.most = fairness.most.max(round_trips);
        fairness.silent += usize::from(round_trips == 0);
    }

    /// Adds `other`'s measurements to these.
    pub(crate) fn merge(&mut self, other: Tally) -> anyhow::Result<()> {
        let add = |into: &mut Histogram<u64>, from: &Histogram<u64>| {
            into.add(from)
                .map_err(|err| anyhow::anyhow!("could not merge latency histograms: {err:?}"))
        };
        add(&mut self.latency, &other.latency)?;
        add(&mut self.uncorrected, &other.uncorrected)?;
        add(&mut self.lateness, &other.lateness)?;
        if let (Some(mine), Some(theirs)) = (&mut self.intervals, &other.intervals) {
            if mine.len() < theirs.len() {
                mine.resize_with(theirs.len(), new_histogram);
            }
            for (into, from) in mine.iter_mut().zip(theirs) {
                add(into, from)?;
            }
        } else if self.intervals.is_none() {
            self.intervals = other.intervals;
        }
        self.round_trips += other.round_trips;
        self.connected += other.connected;
        self.errors += other.errors;
        self.fairness += other.fairness;
        self.schedule += other.schedule;
        self.datagrams += other.datagrams;
        self.path.merge(&other.path);
        self.connect_error = self.connect_error.take().or(other.connect_error);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_tallies_add_up() {
        let mut one = Tally::with_intervals(true);
        one.record(1_000_000, Duration::ZERO);
        one.count_connection(1);
        one.errors.resets = 2;
        let mut other = Tally::with_intervals(true);
        other.record(3_000_000, Duration::from_millis(500));
        other.record(5_000_000, Duration::from_millis(1500));
        other.count_connection(2);
        other.count_connection(0);
        other.errors.resets = 1;
        one.merge(other).unwrap();
        assert_eq!(one.round_trips, 3);
        assert_eq!(one.latency.len(), 3);
        assert_eq!(one.errors.resets, 3);
        assert_eq!((one.fairness.fewest, one.fairness.most), (0, 2));
        assert_eq!(one.fairness.silent, 1);
        let intervals = one.intervals.as_ref().unwrap();
        assert_eq!(intervals.len(), 2);
        assert_eq!((intervals[0].len(), intervals[1].len()), (2, 1));
        assert_eq!(
            intervals[1].max(),
            one.latency.max(),
            "the values themselves, not clamped"
        );
        let latency = LatencyMs::of(&one.latency).unwrap();
        assert!((latency.p50 - 3.0).abs() < 0.01, "{latency:?}");
        assert!((latency.max - 5.0).abs() < 0.01, "{latency:?}");
    }
}
