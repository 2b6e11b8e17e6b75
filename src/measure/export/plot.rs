//! `--plot FILE.svg`: a run's latency as a picture to open in a browser. Above, latency by
//! percentile on HdrHistogram's axis (90 %, 99 %, 99.9 %, …: each step one more nine), the
//! corrected and uncorrected curves of an open-loop run side by side; below, latency over time,
//! p50, p99 and max per second, where a stall shows as a spike.
//!
//! Drawn with plotters' SVG backend alone: the SVG names a font family and the viewer draws the
//! text, so no font library or system font is needed to make it.

use hdrhistogram::Histogram;
use plotters::prelude::*;

use crate::measure::report::Histograms;

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 900;

/// Quantile steps per halving of the distance to 100 % for the percentile curve.
const TICKS_PER_HALF_DISTANCE: u32 = 20;

/// The series' colours: the corrected (or only) latency, the uncorrected one, then p50/p99/max.
const CORRECTED: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const UNCORRECTED: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const P50: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
const P99: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const MAX: RGBColor = RGBColor(0x94, 0x67, 0xbd);

/// The picture of `histograms` as SVG text, under `title` (what was measured).
pub fn svg(histograms: &Histograms, title: &str) -> anyhow::Result<String> {
    let mut svg = String::new();
    draw(&mut svg, histograms, title).map_err(|err| anyhow::anyhow!("could not draw: {err}"))?;
    Ok(svg)
}

fn draw(
    svg: &mut String,
    histograms: &Histograms,
    title: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 18))?;
    let (upper, lower) = root.split_vertically(HEIGHT / 2);

    // (name, points, colour, dashed): the uncorrected curve is dashed, so that where the two
    // coincide (small messages fit in the socket buffers) both still show.
    let mut curves = vec![(
        if histograms.uncorrected.is_some() {
            "latency, from each message's scheduled time (corrected)"
        } else {
            "latency"
        },
        percentile_curve(&histograms.latency),
        CORRECTED,
        false,
    )];
    if let Some(uncorrected) = &histograms.uncorrected {
        curves.push((
            "latency, from each message's first byte written (uncorrected)",
            percentile_curve(uncorrected),
            UNCORRECTED,
            true,
        ));
    }
    let nines = most_nines(histograms.latency.len());
    let top = curves
        .iter()
        .flat_map(|(_, points, _, _)| points.iter().map(|&(_, ms)| ms))
        .fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(&upper)
        .caption("latency by percentile", ("sans-serif", 16))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..nines, 0.0..headroom(top))?;
    chart
        .configure_mesh()
        // One label per nine: 0%, 90%, 99%, 99.9%, …
        .x_labels(nines as usize + 1)
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_label_formatter(&|nines| percent_label(*nines))
        .draw()?;
    for (name, points, colour, dashed) in curves {
        let points = points.into_iter().map(|(x, ms)| (x.min(nines), ms));
        let style = colour.stroke_width(2);
        let drawn = match dashed {
            true => chart.draw_series(DashedLineSeries::new(points, 8, 6, style))?,
            false => chart.draw_series(LineSeries::new(points, style))?,
        };
        drawn
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    let seconds = histograms.interval.as_secs_f64();
    let per_interval: Vec<(f64, [f64; 3])> = histograms
        .intervals
        .iter()
        .enumerate()
        .filter(|(_, histogram)| !histogram.is_empty())
        .map(|(index, histogram)| {
            let ms = |nanos: u64| nanos as f64 / 1e6;
            (
                (index as f64 + 0.5) * seconds,
                [
                    ms(histogram.value_at_quantile(0.5)),
                    ms(histogram.value_at_quantile(0.99)),
                    ms(histogram.max()),
                ],
            )
        })
        .collect();
    let end = (histograms.intervals.len() as f64 * seconds).max(seconds);
    let top = per_interval
        .iter()
        .map(|(_, values)| values[2])
        .fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(&lower)
        .caption("latency over time, per second", ("sans-serif", 16))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..end, 0.0..headroom(top))?;
    chart
        .configure_mesh()
        .x_desc("time into the measured run (s)")
        .y_desc("latency (ms)")
        .draw()?;
    for (which, (name, colour)) in [("p50", P50), ("p99", P99), ("max", MAX)]
        .into_iter()
        .enumerate()
    {
        chart
            .draw_series(LineSeries::new(
                per_interval.iter().map(|&(t, values)| (t, values[which])),
                colour.stroke_width(2),
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The latency curve: at each quantile step, (nines of the quantile, value in ms). The nines of
/// quantile q are log10(1 / (1 - q)): 90 % is 1, 99 % is 2; 100 % is infinite and drawn at the
/// axis' end.
fn percentile_curve(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    if histogram.is_empty() {
        return Vec::new();
    }
    histogram
        .iter_quantiles(TICKS_PER_HALF_DISTANCE)
        .map(|step| {
            let quantile = step.quantile_iterated_to();
            let nines = match quantile < 1.0 {
                true => (1.0 / (1.0 - quantile)).log10(),
                false => f64::INFINITY,
            };
            (nines, step.value_iterated_to() as f64 / 1e6)
        })
        .collect()
}

/// How many nines the axis reaches: as far as the samples resolve (10 000 samples: 99.99 %),
/// at least 99 %, at most 99.9999 %.
fn most_nines(samples: u64) -> f64 {
    (samples.max(1) as f64).log10().ceil().clamp(2.0, 6.0)
}

/// `0.301` → `50%`, `3` → `99.9%`.
fn percent_label(nines: f64) -> String {
    let percent = 100.0 * (1.0 - 10f64.powf(-nines));
    let decimals = (nines.round() as usize).saturating_sub(2);
    format!("{percent:.decimals$}%")
}

/// A little room above the highest value, and a non-empty range when there is none.
fn headroom(top: f64) -> f64 {
    if top > 0.0 {
        top * 1.1
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_percentile_axis_counts_nines() {
        assert_eq!(percent_label(0.0), "0%");
        assert_eq!(percent_label(2f64.log10()), "50%");
        assert_eq!(percent_label(1.0), "90%");
        assert_eq!(percent_label(2.0), "99%");
        assert_eq!(percent_label(3.0), "99.9%");
        assert_eq!(percent_label(4.0), "99.99%");
        assert_eq!(most_nines(10_000), 4.0);
        assert_eq!(most_nines(5), 2.0);
    }
}
