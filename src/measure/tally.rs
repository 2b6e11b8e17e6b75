//! What a load generator's event loop accumulates while it runs, and how the loops' tallies add
//! up to one: a latency histogram, counts, errors and fairness, with one [`Tally::merge`].

use hdrhistogram::Histogram;

use super::report::{ErrorCounts, Fairness, LatencyMs};

/// Latencies are kept in nanoseconds, with 3 significant digits, up to a minute.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

/// One event loop's measurements, or (merged) a whole run's.
pub(crate) struct Tally {
    /// Latency of each round trip in the measured window, in nanoseconds.
    pub(crate) latency: Histogram<u64>,
    /// Round trips completed and verified in the measured window.
    pub(crate) round_trips: u64,
    /// Connections that were up when measuring started.
    pub(crate) connected: usize,
    pub(crate) errors: ErrorCounts,
    pub(crate) fairness: Fairness,
    /// Why the last connect failed, if one did: the error to show when none succeeded.
    pub(crate) connect_error: Option<anyhow::Error>,
}

impl Tally {
    pub(crate) fn new() -> Self {
        Tally {
            latency: new_histogram(),
            round_trips: 0,
            connected: 0,
            errors: ErrorCounts::default(),
            fairness: Fairness::default(),
            connect_error: None,
        }
    }

    /// Records one measured round trip of `nanos` nanoseconds.
    pub(crate) fn record(&mut self, nanos: u64) {
        self.latency.saturating_record(nanos);
        self.round_trips += 1;
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
        self.latency
            .add(&other.latency)
            .map_err(|err| anyhow::anyhow!("could not merge latency histograms: {err:?}"))?;
        self.round_trips += other.round_trips;
        self.connected += other.connected;
        let (e, o) = (&mut self.errors, other.errors);
        e.connect_failures += o.connect_failures;
        e.resets += o.resets;
        e.timeouts += o.timeouts;
        e.corrupted += o.corrupted;
        e.self_connections += o.self_connections;
        e.after_warmup += o.after_warmup;
        e.closed_at_once += o.closed_at_once;
        let (f, o) = (&mut self.fairness, other.fairness);
        f.fewest = f.fewest.min(o.fewest);
        f.most = f.most.max(o.most);
        f.silent += o.silent;
        self.connect_error = self.connect_error.take().or(other.connect_error);
        Ok(())
    }

    /// The latency percentiles, in milliseconds.
    pub(crate) fn latency_ms(&self) -> LatencyMs {
        let ms = |nanos: u64| nanos as f64 / 1e6;
        let h = &self.latency;
        LatencyMs {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_tallies_add_up() {
        let mut one = Tally::new();
        one.record(1_000_000);
        one.count_connection(1);
        one.errors.resets = 2;
        let mut other = Tally::new();
        other.record(3_000_000);
        other.record(5_000_000);
        other.count_connection(2);
        other.count_connection(0);
        other.errors.resets = 1;
        one.merge(other).unwrap();
        assert_eq!(one.round_trips, 3);
        assert_eq!(one.latency.len(), 3);
        assert_eq!(one.errors.resets, 3);
        assert_eq!((one.fairness.fewest, one.fairness.most), (0, 2));
        assert_eq!(one.fairness.silent, 1);
        let latency = one.latency_ms();
        assert!((latency.p50 - 3.0).abs() < 0.01, "{latency:?}");
        assert!((latency.max - 5.0).abs() < 0.01, "{latency:?}");
    }
}
