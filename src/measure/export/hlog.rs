//! `--hlog FILE`: a run as an HdrHistogram interval log, one histogram per second in the V2
//! compressed form that HdrHistogram's `HistogramLogProcessor` and its visualisers read. Runs on
//! several load-generating machines are merged with those tools (histograms add up; percentiles
//! cannot be averaged).

use std::io::Write;

use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::V2DeflateSerializer;

use crate::measure::report::Histograms;

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
