//! `--json`: a report as one JSON object on one line. This file is the one place a JSON key is
//! named: the result types know none, so renaming a field cannot change what scripts read.
//! Every key of every mode is listed in `docs/json.md`, and a test holds the two together.
//!
//! Every document starts the same way: `mode`, `ok` and `reason` (whether the run passed, and the
//! sentence standard error got when it did not), `started` (RFC 3339, UTC, microseconds),
//! `server` and `seconds`. Numbers are rounded to what was measured: milliseconds to the
//! microsecond, seconds to the microsecond, rates to the hundredth, percentages to the thousandth.

mod read;

use std::time::SystemTime;

pub(crate) use read::decode;
pub use read::{report as read_report, ReadReport};

use serde_json::{json, Map, Value};

use crate::measure::path::PathReport;
use crate::measure::record::ProbeRecord;
use crate::measure::report::{
    ConnectReport, DatagramCounts, ErrorCounts, Fairness, Histograms, IntervalsReport, LatencyMs,
    LatenessMs, PingPongReport, PingReport, RateReport, Report, StreamReport, UdpPingReport,
    UdpRateReport,
};
use crate::measure::slo::Judged;
use crate::net::{Dscp, Ecn};

/// How a run ended, for the document's head: `Ok`, or the reason it failed, as said on standard
/// error.
pub(crate) type Verdict<'a> = Result<(), &'a str>;

/// `report` as one line of JSON: the head every mode shares, then the mode's own keys, its
/// `histograms` (for `soc_client merge`) and what it made of its objectives (`slo`), when given.
pub(crate) fn document(
    report: &Report,
    verdict: Verdict,
    started: SystemTime,
    histograms: Option<&Histograms>,
    slo: Option<&[Judged]>,
) -> String {
    let (server, body) = match report {
        Report::Ping(r) => (r.server.to_string(), ping(r)),
        Report::UdpPing(r) => (r.server.to_string(), udp_ping(r)),
        Report::Connect(r) => (r.server.to_string(), connect(r)),
        Report::PingPong(r) => (r.server.clone(), ping_pong(r)),
        Report::Rate(r) => (r.server.clone(), rate(r)),
        Report::UdpRate(r) => (r.server.clone(), udp_rate(r)),
        Report::Stream(r) => (r.server.clone(), stream(r)),
        Report::Intervals(r) => (String::new(), intervals(r)),
    };
    let mode = report.mode();
    let mut object = Map::new();
    object.insert("mode".into(), json!(mode));
    object.insert("ok".into(), json!(verdict.is_ok()));
    object.insert("reason".into(), json!(verdict.err()));
    object.insert("started".into(), json!(timestamp(started)));
    object.insert("server".into(), json!(server));
    object.insert("seconds".into(), json!(seconds(report.measured_seconds())));
    if let Value::Object(body) = body {
        object.extend(body);
    }
    if let Some(histograms) = histograms {
        object.insert("histograms".into(), encoded(histograms));
    }
    if let Some(judged) = slo {
        let judged: Vec<Value> = judged
            .iter()
            .map(|judged| {
                json!({
                    "objective": judged.objective.text,
                    "value": judged.value.map(|value| rounded(value, 3)),
                    "met": judged.met,
                })
            })
            .collect();
        object.insert("slo".into(), Value::Array(judged));
    }
    Value::Object(object).to_string()
}

/// A run's histograms as HdrHistogram's compressed base64 (the form an interval log holds each
/// interval in), so that reports can be merged: `latency`, and `uncorrected` for an open loop.
fn encoded(histograms: &Histograms) -> Value {
    json!({
        "latency": super::hlog::base64(&histograms.latency),
        "uncorrected": histograms.uncorrected.as_ref().map(super::hlog::base64),
    })
}

/// One probe's record as one line of NDJSON, for `monitor` and `ping --ndjson`: `time`,
/// `target` (`HOST:PORT` as given), `proto`, `seq`, `outcome`, `rtt_ms` (`null` when there is
/// none), `out_of_order`, and for a UDP echo the `dscp`, `ecn` and `ttl` it came back with
/// (`null` where the system does not say, and for other probes).
pub(crate) fn record(target: &str, proto: &str, record: &ProbeRecord) -> String {
    let class = record.marks.and_then(|marks| marks.class);
    json!({
        "time": timestamp(record.time),
        "target": target,
        "proto": proto,
        "seq": record.seq,
        "outcome": record.outcome.name(),
        "rtt_ms": record.rtt.map(|rtt| ms(rtt.as_secs_f64() * 1e3)),
        "out_of_order": record.out_of_order,
        "dscp": class.map(|class| Dscp::of_class(class).to_string()),
        "ecn": class.map(|class| Ecn::of_class(class).to_string()),
        "ttl": record.marks.and_then(|marks| marks.ttl),
    })
    .to_string()
}

/// A moment as RFC 3339 in UTC, to the microsecond: `2026-12-05T06:37:01.123456Z`.
pub(crate) fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_micros(time).to_string()
}

fn ping(r: &PingReport) -> Value {
    json!({
        "probe_bytes": r.probe_bytes,
        "sent": r.sent,
        "echoed": r.echoed,
        "lost": r.lost,
        "corrupted": r.corrupted,
        "reconnections": r.reconnections,
        "latency_ms": latency(r.latency_ms),
    })
}

fn udp_ping(r: &UdpPingReport) -> Value {
    json!({
        "probe_bytes": r.probe_bytes,
        "sent": r.sent,
        "echoed": r.echoed,
        "lost": r.lost,
        "late": r.late,
        "duplicates": r.duplicates,
        "out_of_order": r.out_of_order,
        "corrupted": r.corrupted,
        "loss_percent": percent(r.loss_percent),
        "latency_ms": latency(r.latency_ms),
        "jitter_ms": r.jitter_ms.map(ms),
        "path": path(&r.path),
    })
}

/// The marking sent and what came back: `dscp_sent` (a name or number, `null` when not set),
/// `ecn_sent`, `ttl_sent`; `dscp_received`, `ecn_received`, `ttl_received` (echoes by value);
/// `class_unknown`, `ttl_unknown` (echoes whose marking the system did not say).
fn path(p: &PathReport) -> Value {
    fn counted<K: ToString>(counts: &std::collections::BTreeMap<K, u64>) -> Value {
        Value::Object(
            counts
                .iter()
                .map(|(k, n)| (k.to_string(), json!(n)))
                .collect(),
        )
    }
    json!({
        "dscp_sent": p.dscp_sent.map(|dscp| dscp.to_string()),
        "ecn_sent": p.ecn_sent.map(|ecn| ecn.to_string()),
        "ttl_sent": p.ttl_sent,
        "dscp_received": counted(&p.seen.dscp),
        "ecn_received": counted(&p.seen.ecn),
        "ttl_received": counted(&p.seen.ttl),
        "class_unknown": p.seen.class_unknown,
        "ttl_unknown": p.seen.ttl_unknown,
    })
}

fn connect(r: &ConnectReport) -> Value {
    json!({
        "sent": r.sent,
        "connected": r.connected,
        "refused": r.refused,
        "timed_out": r.timed_out,
        "failed": r.failed,
        "latency_ms": latency(r.latency_ms),
    })
}

fn ping_pong(r: &PingPongReport) -> Value {
    json!({
        "connections": r.connections,
        "connected": r.connected,
        "message_bytes": r.message_bytes,
        "round_trips": r.round_trips,
        "round_trips_per_sec": rate_of(r.round_trips_per_sec),
        "mb_per_sec_each_way": megabytes(r.mb_per_sec_each_way),
        "latency_ms": latency(r.latency_ms),
        "fairness": fairness(&r.fairness),
        "errors": errors(&r.errors),
        "server_gone_after": r.server_gone_after.map(seconds),
    })
}

fn rate(r: &RateReport) -> Value {
    json!({
        "connections": r.connections,
        "connected": r.connected,
        "message_bytes": r.message_bytes,
        "threads": r.threads,
        "asked_rate": rate_of(r.asked_rate),
        "sent_rate": rate_of(r.sent_rate),
        "echoed_rate": rate_of(r.echoed_rate),
        "due": r.due,
        "sent": r.sent,
        "unsent": r.unsent,
        "unechoed": r.unechoed,
        "socket_waits": r.socket_waits,
        "round_trips": r.round_trips,
        "latency_ms": latency(r.latency_ms),
        "uncorrected_latency_ms": latency(r.uncorrected_latency_ms),
        "generator_lateness_ms": lateness(&r.generator_lateness_ms),
        "fairness": fairness(&r.fairness),
        "errors": errors(&r.errors),
        "server_gone_after": r.server_gone_after.map(seconds),
    })
}

fn udp_rate(r: &UdpRateReport) -> Value {
    let mut body = json!({
        "sockets": r.sockets,
        "datagram_bytes": r.datagram_bytes,
        "threads": r.threads,
        "asked_rate": rate_of(r.asked_rate),
        "sent_rate": rate_of(r.sent_rate),
        "echoed_rate": rate_of(r.echoed_rate),
        "due": r.due,
        "loss_percent": percent(r.loss_percent),
        "socket_waits": r.socket_waits,
        "latency_ms": latency(r.latency_ms),
        "uncorrected_latency_ms": latency(r.uncorrected_latency_ms),
        "generator_lateness_ms": lateness(&r.generator_lateness_ms),
        "fairness": fairness(&r.fairness),
        "server_gone_after": r.server_gone_after.map(seconds),
        "path": path(&r.path),
    });
    if let (Value::Object(body), Value::Object(counts)) = (&mut body, datagrams(&r.counts)) {
        body.extend(counts);
    }
    body
}

fn intervals(r: &IntervalsReport) -> Value {
    json!({
        "logs": r.logs,
        "round_trips": r.round_trips,
        "latency_ms": latency(r.latency_ms),
    })
}

fn stream(r: &StreamReport) -> Value {
    json!({
        "bytes_sent": r.bytes_sent,
        "bytes_echoed": r.bytes_echoed,
        "mb_per_sec": megabytes(r.mb_per_sec),
        "corrupted_bytes": r.corrupted_bytes,
        "first_corrupted_offset": r.first_corrupted_offset,
    })
}

/// What became of the datagrams, the UDP ledger's counts, at the top level of a document.
fn datagrams(c: &DatagramCounts) -> Value {
    json!({
        "sent": c.sent,
        "echoed": c.echoed,
        "lost": c.lost,
        "late": c.late,
        "duplicates": c.duplicates,
        "out_of_order": c.out_of_order,
        "corrupted": c.corrupted,
    })
}

/// One latency's figures, or `null` when nothing was measured.
fn latency(l: Option<LatencyMs>) -> Value {
    let Some(l) = l else {
        return Value::Null;
    };
    let mut block = json!({
        "min": ms(l.min),
        "mean": ms(l.mean),
        "stdev": ms(l.stdev),
        "p50": ms(l.p50),
        "p90": ms(l.p90),
        "p99": ms(l.p99),
        "p999": ms(l.p999),
        "max": ms(l.max),
    });
    if let (Value::Object(block), Some(p9999)) = (&mut block, l.p9999) {
        block.insert("p9999".into(), json!(ms(p9999)));
    }
    block
}

fn lateness(l: &LatenessMs) -> Value {
    json!({
        "p50": ms(l.p50),
        "p99": ms(l.p99),
        "max": ms(l.max),
        "limit": ms(l.limit),
        "cores": l.machine.cores,
        "load_average": l.machine.load_average.map(|load| rounded(load, 2)),
    })
}

fn fairness(f: &Fairness) -> Value {
    json!({
        // No flow counted at all: none had any.
        "fewest": if f.fewest == u64::MAX { 0 } else { f.fewest },
        "most": f.most,
        "silent": f.silent,
    })
}

fn errors(e: &ErrorCounts) -> Value {
    json!({
        "connect_failures": e.connect_failures,
        "resets": e.resets,
        "timeouts": e.timeouts,
        "corrupted": e.corrupted,
        "self_connections": e.self_connections,
        "after_warmup": e.after_warmup,
        "closed_at_once": e.closed_at_once,
    })
}

/// `value` rounded to `decimals` places: what was measured, without the binary float's tail
/// (`0.039323000000000004`).
fn rounded(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// Milliseconds, to the microsecond.
fn ms(value: f64) -> f64 {
    rounded(value, 3)
}

/// Seconds, to the microsecond.
fn seconds(value: f64) -> f64 {
    rounded(value, 6)
}

/// A rate a second, to the hundredth.
fn rate_of(value: f64) -> f64 {
    rounded(value, 2)
}

/// A percentage, to the thousandth.
fn percent(value: f64) -> f64 {
    rounded(value, 3)
}

/// Megabytes a second, to the kilobyte.
fn megabytes(value: f64) -> f64 {
    rounded(value, 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_rounded_to_what_was_measured() {
        assert_eq!(ms(0.039323000000000004).to_string(), "0.039");
        assert_eq!(ms(1.0005), 1.001);
        assert_eq!(seconds(2.0000004), 2.0);
        assert_eq!(rate_of(9999.996), 10000.0);
    }

    #[test]
    fn a_moment_is_rfc_3339_in_utc_to_the_microsecond() {
        let moment =
            SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(1_700_000_000_123_456_789);
        assert_eq!(timestamp(moment), "2023-11-14T22:13:20.123456Z");
    }
}
