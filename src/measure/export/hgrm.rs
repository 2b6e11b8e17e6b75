//! `--hgrm FILE`: a latency histogram as HdrHistogram's percentile distribution, the table that
//! Java's `outputPercentileDistribution` writes and wrk2 `--latency` prints as its "Detailed
//! Percentile spectrum", so that HdrHistogram's plotter and the tools built on the format read it
//! unchanged. Values are in milliseconds.

use std::io::{self, Write};

use hdrhistogram::Histogram;

/// Quantile steps per halving of the distance to 100 %, as HdrHistogram's tools print by default.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Nanoseconds per millisecond: the histograms hold nanoseconds, the table milliseconds.
const NANOS_PER_MS: f64 = 1e6;

/// Writes `histogram` (nanoseconds) as a percentile distribution in milliseconds.
pub(super) fn write(histogram: &Histogram<u64>, out: &mut impl Write) -> io::Result<()> {
    let decimals = usize::from(histogram.sigfig());
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total = 0;
    for step in histogram.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        total += step.count_since_last_iteration();
        let value = step.value_iterated_to() as f64 / NANOS_PER_MS;
        let quantile = step.quantile_iterated_to();
        if quantile < 1.0 {
            writeln!(
                out,
                "{value:12.decimals$} {quantile:2.12} {total:10} {:14.2}",
                1.0 / (1.0 - quantile)
            )?;
        } else {
            writeln!(out, "{value:12.decimals$} {quantile:2.12} {total:10}")?;
        }
    }
    let ms = |nanos: f64| nanos / NANOS_PER_MS;
    let mean = if histogram.is_empty() {
        0.0
    } else {
        histogram.mean()
    };
    let deviation = if histogram.is_empty() {
        0.0
    } else {
        histogram.stdev()
    };
    writeln!(
        out,
        "#[Mean    = {:12.decimals$}, StdDeviation   = {:12.decimals$}]",
        ms(mean),
        ms(deviation)
    )?;
    writeln!(
        out,
        "#[Max     = {:12.decimals$}, Total count    = {:12}]",
        ms(histogram.max() as f64),
        histogram.len()
    )?;
    // HdrHistogram's sub-bucket count: the power of two that holds 2 × 10^sigfig values.
    let sub_buckets = (2 * 10u64.pow(u32::from(histogram.sigfig()))).next_power_of_two();
    writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        histogram.buckets(),
        sub_buckets
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_distribution_reads_like_hdrhistograms() {
        let mut histogram = crate::measure::tally::new_histogram();
        for micros in 1..=1000u64 {
            histogram.record(micros * 1000).unwrap();
        }
        let mut out = Vec::new();
        write(&histogram, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        // The first value, 1 µs, is 0.001 ms at quantile 0.
        assert_eq!(
            lines[2],
            "       0.001 0.000000000000          1           1.00"
        );
        let last = lines[lines.len() - 4];
        assert!(last.ends_with(" 1.000000000000       1000"), "{last}");
        assert!(
            text.contains("#[Max     =        1.000, Total count    =         1000]"),
            "{text}"
        );
        assert!(text.contains("SubBuckets     =         2048]"), "{text}");
    }
}
