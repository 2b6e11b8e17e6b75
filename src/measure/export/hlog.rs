//! `--hlog FILE`: a run as an HdrHistogram interval log, one histogram per second in the V2
//! compressed form that HdrHistogram's `HistogramLogProcessor` and its visualisers read. Runs on
//! several load-generating machines are merged with those tools (histograms add up; percentiles
//! cannot be averaged).

use std::io::Write;

use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};

use crate::measure::report::Histograms;

/// What an interval log holds, all its intervals added.
#[derive(Debug)]
pub(crate) struct ReadLog {
    pub(crate) latency: hdrhistogram::Histogram<u64>,
    /// From the first interval's start to the last one's end.
    pub(crate) seconds: f64,
    /// The log's start time (its `StartTime`), if it says.
    pub(crate) started: Option<std::time::SystemTime>,
}

/// Reads an interval log (as `--hlog` writes it, or any HdrHistogram tool), adding its intervals
/// into one histogram. The error says what is wrong with it.
pub(crate) fn read(bytes: &[u8]) -> Result<ReadLog, String> {
    use base64::Engine;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let mut latency = crate::measure::tally::new_histogram();
    let (mut first, mut last) = (None::<std::time::Duration>, std::time::Duration::ZERO);
    let mut started = None;
    let mut intervals = 0;
    for entry in IntervalLogIterator::new(bytes) {
        match entry.map_err(|err| format!("not an HdrHistogram interval log ({err:?})"))? {
            LogEntry::StartTime(since_epoch) => started = Some(std::time::UNIX_EPOCH + since_epoch),
            LogEntry::BaseTime(_) => {}
            LogEntry::Interval(interval) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(interval.encoded_histogram())
                    .map_err(|_| "an interval's histogram is not base64".to_string())?;
                let histogram = super::json::decode(&bytes)?;
                latency
                    .add(&histogram)
                    .map_err(|err| format!("an interval does not add up ({err:?})"))?;
                let start = interval.start_timestamp();
                first = Some(first.map_or(start, |first| first.min(start)));
                last = last.max(start + interval.duration());
                intervals += 1;
            }
        }
    }
    if intervals == 0 {
        return Err("not an HdrHistogram interval log (no interval in it)".into());
    }
    let seconds = last.saturating_sub(first.unwrap_or_default()).as_secs_f64();
    Ok(ReadLog {
        latency,
        seconds,
        started,
    })
}

/// `histogram` as HdrHistogram's V2 compressed form in base64: what an interval log holds for
/// each interval, and a JSON report for its whole run.
pub(crate) fn base64(histogram: &hdrhistogram::Histogram<u64>) -> String {
    use base64::Engine;
    let mut bytes = Vec::new();
    // Serialising into memory cannot fail but for a histogram the format cannot hold, which a
    // run's never is; an empty string then reads as "no histogram" to a merge.
    if V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .is_err()
    {
        return String::new();
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Writes `histograms.intervals` to `out`, timestamps counted from the start of the measured time
/// (its wall-clock time is the log's StartTime and BaseTime), values in nanoseconds.
pub(super) fn write(
    histograms: &Histograms,
    title: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut serializer = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("[Histogram log format version 1.3]")
        .add_comment(&format!("[{title}]"))
        .add_comment("[values in nanoseconds; each interval holds the round trips sent in it]")
        .with_start_time(histograms.start)
        .with_base_time(histograms.start)
        // Interval_Max column in milliseconds, for whoever reads the file itself.
        .with_max_value_divisor(1e6)
        .begin_log_with(out, &mut serializer)?;
    let interval = histograms.interval;
    for (index, histogram) in histograms.intervals.iter().enumerate() {
        log.write_histogram(histogram, interval * index as u32, interval, None)
            .map_err(|err| anyhow::anyhow!("could not write the interval log: {err:?}"))?;
    }
    Ok(())
}
