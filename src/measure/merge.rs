//! `soc_client merge`: one report from the reports of several runs (several load machines, say),
//! counts summed and histograms added, every percentile computed from the sum. Percentiles cannot
//! be averaged: the p99 of two runs is not the mean of their p99s, since the slow tail of one run
//! can be most of the other's. Runs that measured at the same time (their measured times overlap)
//! had their rates at once, so the rates add; runs one after another do not, and their rates are
//! the sums of their counts over the sums of their times.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

use super::export::{hlog, json};
use super::latency::LatencyMs;
use super::report::{Histograms, IntervalsReport, LatenessMs, Measured, Report};
use super::tally::{new_histogram, per_second, INTERVAL};

/// The reports in `paths` merged: JSON reports of one mode (as `--json` writes them), or
/// interval logs (as `--hlog` writes them). An error names the file and says what is wrong.
pub fn files(paths: &[PathBuf]) -> Result<(Measured<Report>, SystemTime), String> {
    let mut runs = Vec::new();
    let mut logs = Vec::new();
    for path in paths {
        let named = |why: String| format!("{}: {why}", path.display());
        let bytes =
            std::fs::read(path).map_err(|err| named(format!("could not read it ({err})")))?;
        let text = String::from_utf8_lossy(&bytes);
        if text.trim_start().starts_with('{') {
            let read = json::read_report(&text)
                .map_err(|why| named(format!("not a soc report: {why}")))?;
            runs.push(Run {
                report: read.report,
                latency: read.latency,
                uncorrected: read.uncorrected,
                started: read.started,
            });
        } else {
            logs.push(hlog::read(&bytes).map_err(named)?);
        }
    }
    match (runs.is_empty(), logs.is_empty()) {
        (false, false) => Err(
            "JSON reports and interval logs cannot be merged together: merge \
                               the one or the other"
                .into(),
        ),
        (true, _) => merge_logs(logs),
        (false, true) => merge(runs),
    }
}

/// Interval logs merged: their histograms added.
fn merge_logs(logs: Vec<hlog::ReadLog>) -> Result<(Measured<Report>, SystemTime), String> {
    let started = logs
        .iter()
        .filter_map(|log| log.started)
        .min()
        .unwrap_or_else(SystemTime::now);
    let spans = |log: &hlog::ReadLog| {
        let start = log.started.unwrap_or(started);
        (
            start,
            start + Duration::try_from_secs_f64(log.seconds).unwrap_or_default(),
        )
    };
    let latest_start = logs.iter().map(|log| spans(log).0).max();
    let earliest_end = logs.iter().map(|log| spans(log).1).min();
    let together = matches!((latest_start, earliest_end), (Some(a), Some(b)) if a < b);
    let mut latency = new_histogram();
    for log in &logs {
        add(&mut latency, Some(&log.latency))?;
    }
    let seconds = logs
        .iter()
        .map(|log| log.seconds)
        .fold(0.0, |a, b| match together {
            true => f64::max(a, b),
            false => a + b,
        });
    let report = Report::Intervals(IntervalsReport {
        logs: logs.len(),
        round_trips: latency.len(),
        seconds,
        latency_ms: LatencyMs::of(&latency),
    });
    let histograms = Histograms {
        latency,
        uncorrected: None,
        intervals: Vec::new(),
        interval: INTERVAL,
        start: started,
    };
    Ok((
        Measured {
            report,
            histograms: Some(histograms),
        },
        started,
    ))
}

/// One run to merge: its report, its histograms, when it started.
#[derive(Debug)]
pub struct Run {
    pub report: Report,
    pub latency: Option<Histogram<u64>>,
    pub uncorrected: Option<Histogram<u64>>,
    pub started: SystemTime,
}

/// The runs merged: one report with the keys of theirs, its histograms, when the first began.
pub fn merge(runs: Vec<Run>) -> Result<(Measured<Report>, SystemTime), String> {
    let first = runs.first().ok_or("no report to merge")?;
    let mode = mode_of(&first.report);
    let size = size_of(&first.report);
    for run in &runs[1..] {
        if mode_of(&run.report) != mode {
            return Err(format!(
                "a {mode} report cannot be merged with a {} report: merge reports of one mode",
                mode_of(&run.report)
            ));
        }
        if size_of(&run.report) != size {
            return Err(format!(
                "reports of {size} and {} bytes a message cannot be merged: they measured \
                 different loads",
                size_of(&run.report)
            ));
        }
    }
    let together = measured_together(&runs);
    let started = runs
        .iter()
        .map(|run| run.started)
        .min()
        .unwrap_or(first.started);
    let mut latency = new_histogram();
    let mut uncorrected = new_histogram();
    for run in &runs {
        add(&mut latency, run.latency.as_ref())?;
        add(&mut uncorrected, run.uncorrected.as_ref())?;
    }
    // Each run's rates and how long it measured, for the merged rates.
    let rated: Vec<(Vec<f64>, f64)> = runs
        .iter()
        .map(|run| (rates_of(&run.report), run.report.measured_seconds()))
        .collect();
    let mut reports = runs.into_iter().map(|run| run.report);
    let mut merged = reports.next().ok_or("no report to merge")?;
    for report in reports {
        merged = combine(merged, report, together);
    }
    let rates: Vec<f64> = (0..rated[0].0.len())
        .map(|field| {
            merged_rate(
                rated.iter().map(|(rates, secs)| (rates[field], *secs)),
                together,
            )
        })
        .collect();
    set_rates(&mut merged, &rates);
    finish(&mut merged, &latency, &uncorrected);
    let open_loop = matches!(merged, Report::Rate(_) | Report::UdpRate(_));
    let histograms = Histograms {
        latency,
        uncorrected: open_loop.then_some(uncorrected),
        intervals: Vec::new(),
        interval: INTERVAL,
        start: started,
    };
    Ok((
        Measured {
            report: merged,
            histograms: Some(histograms),
        },
        started,
    ))
}

/// Whether every run's measured time overlaps every other's: then they ran at once.
fn measured_together(runs: &[Run]) -> bool {
    let window = |run: &Run| {
        let seconds =
            Duration::try_from_secs_f64(run.report.measured_seconds()).unwrap_or_default();
        (run.started, run.started + seconds)
    };
    let latest_start = runs.iter().map(|run| window(run).0).max();
    let earliest_end = runs.iter().map(|run| window(run).1).min();
    matches!((latest_start, earliest_end), (Some(start), Some(end)) if start < end)
}

fn add(into: &mut Histogram<u64>, from: Option<&Histogram<u64>>) -> Result<(), String> {
    match from {
        Some(histogram) => into
            .add(histogram)
            .map_err(|err| format!("the histograms cannot be added ({err:?})")),
        None => Ok(()),
    }
}

fn mode_of(report: &Report) -> &'static str {
    report.mode()
}

/// The bytes a message (probe, datagram) of the run had; 0 where there is no such size.
fn size_of(report: &Report) -> usize {
    match report {
        Report::Ping(r) => r.probe_bytes,
        Report::UdpPing(r) => r.probe_bytes,
        Report::PingPong(r) => r.message_bytes,
        Report::Rate(r) => r.message_bytes,
        Report::UdpRate(r) => r.datagram_bytes,
        Report::Connect(_) | Report::Stream(_) | Report::Intervals(_) => 0,
    }
}

/// Seconds measured by two runs together: the longer, if they ran at once; the sum otherwise.
fn seconds(a: f64, b: f64, together: bool) -> f64 {
    match together {
        true => a.max(b),
        false => a + b,
    }
}

/// The rate of runs' `(rate, seconds)`: at once, their rates add; one after another, it is what
/// they counted over the time they took together.
fn merged_rate(parts: impl Iterator<Item = (f64, f64)>, together: bool) -> f64 {
    let (mut sum, mut counted, mut seconds) = (0.0, 0.0, 0.0);
    for (rate, secs) in parts {
        sum += rate;
        counted += rate * secs;
        seconds += secs;
    }
    match together {
        true => sum,
        false => per_second(counted, seconds),
    }
}

/// A report's rates, in the order [`set_rates`] takes them.
fn rates_of(report: &Report) -> Vec<f64> {
    match report {
        Report::PingPong(r) => vec![r.round_trips_per_sec],
        Report::Rate(r) => vec![r.asked_rate, r.sent_rate, r.echoed_rate],
        Report::UdpRate(r) => vec![r.asked_rate, r.sent_rate, r.echoed_rate],
        Report::Stream(r) => vec![r.mb_per_sec],
        Report::Ping(_) | Report::UdpPing(_) | Report::Connect(_) | Report::Intervals(_) => {
            Vec::new()
        }
    }
}

fn set_rates(report: &mut Report, rates: &[f64]) {
    match (report, rates) {
        (Report::PingPong(r), [round_trips]) => {
            r.round_trips_per_sec = *round_trips;
            r.mb_per_sec_each_way = round_trips * r.message_bytes as f64 / 1e6;
        }
        (Report::Rate(r), [asked, sent, echoed]) => {
            (r.asked_rate, r.sent_rate, r.echoed_rate) = (*asked, *sent, *echoed)
        }
        (Report::UdpRate(r), [asked, sent, echoed]) => {
            (r.asked_rate, r.sent_rate, r.echoed_rate) = (*asked, *sent, *echoed)
        }
        (Report::Stream(r), [mb]) => r.mb_per_sec = *mb,
        _ => {}
    }
}

/// `a` and `b`, the same mode's reports, as one: counts summed (rates and figures are made again
/// from the sums).
fn combine(a: Report, b: Report, together: bool) -> Report {
    let gone = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match (a, b) {
        (Report::Ping(mut a), Report::Ping(b)) => {
            a.sent += b.sent;
            a.echoed += b.echoed;
            a.lost += b.lost;
            a.corrupted += b.corrupted;
            a.reconnections += b.reconnections;
            a.seconds = seconds(a.seconds, b.seconds, together);
            Report::Ping(a)
        }
        (Report::UdpPing(mut a), Report::UdpPing(b)) => {
            a.sent += b.sent;
            a.echoed += b.echoed;
            a.lost += b.lost;
            a.late += b.late;
            a.duplicates += b.duplicates;
            a.out_of_order += b.out_of_order;
            a.corrupted += b.corrupted;
            a.seconds = seconds(a.seconds, b.seconds, together);
            // Jitter follows one stream's arrivals: two streams' do not make one.
            a.jitter_ms = None;
            a.path.merge(&b.path);
            Report::UdpPing(a)
        }
        (Report::Connect(mut a), Report::Connect(b)) => {
            a.sent += b.sent;
            a.connected += b.connected;
            a.refused += b.refused;
            a.timed_out += b.timed_out;
            a.failed += b.failed;
            a.seconds = seconds(a.seconds, b.seconds, together);
            Report::Connect(a)
        }
        (Report::PingPong(mut a), Report::PingPong(b)) => {
            a.connections += b.connections;
            a.connected += b.connected;
            a.round_trips += b.round_trips;
            a.fairness += b.fairness;
            a.errors += b.errors;
            a.server_gone_after = gone(a.server_gone_after, b.server_gone_after);
            a.seconds = seconds(a.seconds, b.seconds, together);
            Report::PingPong(a)
        }
        (Report::Rate(mut a), Report::Rate(b)) => {
            a.connections += b.connections;
            a.connected += b.connected;
            a.threads += b.threads;
            a.due += b.due;
            a.sent += b.sent;
            a.unsent += b.unsent;
            a.unechoed += b.unechoed;
            a.socket_waits += b.socket_waits;
            a.round_trips += b.round_trips;
            a.fairness += b.fairness;
            a.errors += b.errors;
            a.generator_lateness_ms = worse(a.generator_lateness_ms, b.generator_lateness_ms);
            a.server_gone_after = gone(a.server_gone_after, b.server_gone_after);
            a.seconds = seconds(a.seconds, b.seconds, together);
            Report::Rate(a)
        }
        (Report::UdpRate(mut a), Report::UdpRate(b)) => {
            a.sockets += b.sockets;
            a.threads += b.threads;
            a.due += b.due;
            a.counts += b.counts;
            a.socket_waits += b.socket_waits;
            a.fairness += b.fairness;
            a.generator_lateness_ms = worse(a.generator_lateness_ms, b.generator_lateness_ms);
            a.server_gone_after = gone(a.server_gone_after, b.server_gone_after);
            a.seconds = seconds(a.seconds, b.seconds, together);
            a.path.merge(&b.path);
            Report::UdpRate(a)
        }
        (Report::Stream(mut a), Report::Stream(b)) => {
            a.bytes_sent += b.bytes_sent;
            a.bytes_echoed += b.bytes_echoed;
            a.corrupted_bytes += b.corrupted_bytes;
            a.first_corrupted_offset = match (a.first_corrupted_offset, b.first_corrupted_offset) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            a.seconds = seconds(a.seconds, b.seconds, together);
            Report::Stream(a)
        }
        (a, _) => a,
    }
}

/// The worse of two generators' lateness: a merged run is only as trustworthy as its latest
/// generator.
fn worse(a: LatenessMs, b: LatenessMs) -> LatenessMs {
    let share = |late: &LatenessMs| late.p99 / late.limit.max(f64::MIN_POSITIVE);
    match share(&a) >= share(&b) {
        true => a,
        false => b,
    }
}

/// Makes the latency figures and the shares again from the added histograms and the sums.
fn finish(report: &mut Report, latency: &Histogram<u64>, uncorrected: &Histogram<u64>) {
    let percent = super::report::percent;
    match report {
        Report::Ping(r) => r.latency_ms = LatencyMs::of(latency),
        Report::UdpPing(r) => {
            r.latency_ms = LatencyMs::of(latency);
            r.loss_percent = percent(r.lost, r.sent);
        }
        Report::Connect(r) => r.latency_ms = LatencyMs::of(latency),
        Report::PingPong(r) => r.latency_ms = LatencyMs::of(latency),
        Report::Rate(r) => {
            r.latency_ms = LatencyMs::with_p9999(latency);
            r.uncorrected_latency_ms = LatencyMs::with_p9999(uncorrected);
        }
        Report::UdpRate(r) => {
            r.latency_ms = LatencyMs::with_p9999(latency);
            r.uncorrected_latency_ms = LatencyMs::with_p9999(uncorrected);
            r.loss_percent = percent(r.counts.lost, r.counts.sent);
        }
        Report::Stream(_) | Report::Intervals(_) => {}
    }
}
