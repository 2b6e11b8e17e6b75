//! `--plot FILE.svg`: a run's latency as a picture to open in a browser. Above, latency by
//! percentile on HdrHistogram's axis (90 %, 99 %, 99.9 %, …: each step one more nine), the
//! corrected and uncorrected curves of an open-loop run side by side; below, latency over time,
//! p50, p99 and max of each second, drawn as steps (one level a second, nothing joining seconds
//! that are apart), where a stall shows as a step up.
//!
//! Both latency axes are logarithmic: a spike of 300 ms beside a p50 of 0.05 ms would otherwise
//! press everything but the spike flat on zero.
//!
//! Drawn with plotters' SVG backend alone: the SVG names a font family and the viewer draws the
//! text, so no font library or system font is needed to make it.

use hdrhistogram::Histogram;
use plotters::coord::combinators::{IntoLogRange, LogCoord};
use plotters::prelude::*;

use crate::measure::report::Histograms;

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 900;

/// Room kept free right of each chart, so that the last tick's label (`99.999%`) is drawn whole.
const RIGHT_MARGIN: u32 = 48;

/// Quantile steps per halving of the distance to 100 % for the percentile curve.
const TICKS_PER_HALF_DISTANCE: u32 = 20;

/// The series' colours: the corrected (or only) latency, the uncorrected one, then p50/p99/max.
const CORRECTED: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const UNCORRECTED: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const P50: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
const P99: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const MAX: RGBColor = RGBColor(0x94, 0x67, 0xbd);

type Drawn = Result<(), Box<dyn std::error::Error>>;
type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// The picture of `histograms` as SVG text, under `title` (what was measured).
pub(crate) fn svg(histograms: &Histograms, title: &str) -> anyhow::Result<String> {
    let mut svg = String::new();
    draw(&mut svg, histograms, title).map_err(|err| anyhow::anyhow!("could not draw: {err}"))?;
    Ok(svg)
}

fn draw(svg: &mut String, histograms: &Histograms, title: &str) -> Drawn {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 18))?;
    let (upper, lower) = root.split_vertically(HEIGHT / 2);
    by_percentile(&upper, histograms)?;
    over_time(&lower, histograms)?;
    root.present()?;
    Ok(())
}

/// A curve to draw: its name, its points, its colour, and whether it is dashed.
struct Curve {
    name: &'static str,
    points: Vec<(f64, f64)>,
    colour: RGBColor,
    dashed: bool,
}

/// Latency by percentile: the corrected (or only) curve, and the uncorrected one dashed beside it,
/// so that where the two coincide (small messages fit in the socket buffers) both still show.
fn by_percentile(area: &Area, histograms: &Histograms) -> Drawn {
    let mut curves = vec![Curve {
        name: match histograms.uncorrected {
            Some(_) => "latency, from each message's scheduled time (corrected)",
            None => "latency",
        },
        points: percentile_curve(&histograms.latency),
        colour: CORRECTED,
        dashed: false,
    }];
    if let Some(uncorrected) = &histograms.uncorrected {
        curves.push(Curve {
            name: "latency, from each message's first byte written (uncorrected)",
            points: percentile_curve(uncorrected),
            colour: UNCORRECTED,
            dashed: true,
        });
    }
    let nines = most_nines(histograms.latency.len());
    let values = curves
        .iter()
        .flat_map(|curve| curve.points.iter().map(|&(_, ms)| ms));
    let mut chart = chart(area, "latency by percentile")
        .build_cartesian_2d(0.0..nines, latency_axis(values))?;
    chart
        .configure_mesh()
        // One label per nine: 0%, 90%, 99%, 99.9%, …
        .x_labels(nines as usize + 1)
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_label_formatter(&|nines| percent_label(*nines))
        .y_label_formatter(&|ms| ms_label(*ms))
        .draw()?;
    for curve in curves {
        let points = curve.points.into_iter().map(|(x, ms)| (x.min(nines), ms));
        let style = curve.colour.stroke_width(2);
        let drawn = match curve.dashed {
            true => chart.draw_series(DashedLineSeries::new(points, 8, 6, style))?,
            false => chart.draw_series(LineSeries::new(points, style))?,
        };
        drawn
            .label(curve.name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    legend(&mut chart)
}

/// Latency over time: each second's p50, p99 and max as a step a second wide, with a dot on it;
/// a second without a round trip has none.
fn over_time(area: &Area, histograms: &Histograms) -> Drawn {
    let seconds = histograms.interval.as_secs_f64();
    let per_interval: Vec<(f64, [f64; 3])> = histograms
        .intervals
        .iter()
        .enumerate()
        .filter(|(_, histogram)| !histogram.is_empty())
        .map(|(index, histogram)| {
            let ms = |nanos: u64| nanos as f64 / 1e6;
            (
                index as f64 * seconds,
                [
                    ms(histogram.value_at_quantile(0.5)),
                    ms(histogram.value_at_quantile(0.99)),
                    ms(histogram.max()),
                ],
            )
        })
        .collect();
    let end = (histograms.intervals.len() as f64 * seconds).max(seconds);
    let values = per_interval
        .iter()
        .flat_map(|(_, values)| values.iter().copied());
    let mut chart = chart(area, "latency over time, per second")
        .build_cartesian_2d(0.0..end, latency_axis(values))?;
    chart
        .configure_mesh()
        .x_desc("time into the measured run (s)")
        .y_desc("latency (ms)")
        .y_label_formatter(&|ms| ms_label(*ms))
        .draw()?;
    for (which, (name, colour)) in [("p50", P50), ("p99", P99), ("max", MAX)]
        .into_iter()
        .enumerate()
    {
        let style = colour.stroke_width(2);
        let steps = per_interval.iter().map(|&(start, values)| {
            let level = values[which];
            PathElement::new([(start, level), (start + seconds, level)], style)
        });
        chart
            .draw_series(steps)?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
        let dots = per_interval.iter().map(|&(start, values)| {
            Circle::new((start + seconds / 2.0, values[which]), 3, colour.filled())
        });
        chart.draw_series(dots)?;
    }
    legend(&mut chart)
}

/// A chart on `area` under `caption`, with room for its labels on every side.
fn chart<'a, 'b>(area: &'a Area<'b>, caption: &str) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(caption, ("sans-serif", 16))
        .margin(16)
        .margin_right(RIGHT_MARGIN)
        .x_label_area_size(40)
        .y_label_area_size(70);
    builder
}

fn legend<'a, X, Y>(chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>) -> Drawn
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// A logarithmic latency axis (ms) from a little below the smallest of `values` to a little
/// above the largest; one decade around 1 ms when there is nothing to show.
fn latency_axis(values: impl Iterator<Item = f64>) -> LogCoord<f64> {
    let (low, high) = values
        .filter(|ms| *ms > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(low, high), ms| {
            (low.min(ms), high.max(ms))
        });
    let (low, high) = match low.is_finite() {
        true => (low / 1.5, (high * 1.5).max(low * 2.0)),
        false => (0.1, 10.0),
    };
    (low..high).log_scale().into()
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

/// A latency tick's label: as many decimals as the value needs (`0.05`, `2`, `300`).
fn ms_label(ms: f64) -> String {
    let text = format!("{ms:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
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

    #[test]
    fn latency_labels_carry_the_decimals_they_need() {
        assert_eq!(ms_label(0.05), "0.05");
        assert_eq!(ms_label(2.0), "2");
        assert_eq!(ms_label(300.0), "300");
    }
}
