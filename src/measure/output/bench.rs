//! The text of `bench`'s reports, one per mode, and their titles. A counter of something that did
//! not happen and is not the point of the line (no self-connection, no socket wait, no
//! connection without a round trip) is left out, so that what is printed is what happened.

use std::fmt;

use crate::human::{count, grouped, plural};
use crate::measure::report::{
    ErrorCounts, Fairness, LatencyMs, LatenessMs, PingPongReport, RateReport, Report, StreamReport,
    UdpRateReport, KEPT_UP,
};

/// What a bench run measured, in a line: the title of its plot and interval log.
pub(super) fn title(report: &Report) -> String {
    match report {
        Report::PingPong(r) => format!(
            "soc_client bench: closed loop, {} x {} B to {}, {:.1} s",
            plural(r.connections as u64, "connection"),
            r.message_bytes,
            r.server,
            r.seconds
        ),
        Report::Rate(r) => format!(
            "soc_client bench --rate {}: open loop, {} x {} B to {}, {:.1} s",
            r.asked_rate,
            plural(r.connections as u64, "connection"),
            r.message_bytes,
            r.server,
            r.seconds
        ),
        Report::Stream(r) => format!(
            "soc_client bench --stream {}: one connection to {}",
            r.bytes_sent, r.server
        ),
        Report::UdpRate(r) => format!(
            "soc_client bench -u --rate {}: open loop, {} x {} B to udp {}, {:.1} s",
            r.asked_rate,
            plural(r.sockets as u64, "socket"),
            r.datagram_bytes,
            r.server,
            r.seconds
        ),
        Report::Intervals(r) => format!(
            "soc_client merge: {} interval logs, {:.1} s",
            r.logs, r.seconds
        ),
        Report::Ping(_) | Report::UdpPing(_) | Report::Connect(_) => super::text::title(report),
    }
}

impl fmt::Display for PingPongReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self;
        writeln!(
            f,
            "ping-pong: {} ({} up) x {} B to {}, {:.1} s measured{}",
            plural(r.connections as u64, "connection"),
            r.connected,
            r.message_bytes,
            r.server,
            r.seconds,
            partial(r.server_gone_after)
        )?;
        writeln!(
            f,
            "round trips   {} ({}/s)",
            grouped(r.round_trips),
            grouped(r.round_trips_per_sec.round() as u64)
        )?;
        writeln!(
            f,
            "throughput    {:.2} MB/s each way",
            r.mb_per_sec_each_way
        )?;
        match &r.latency_ms {
            Some(latency) => writeln!(f, "latency (ms)  {}", percentiles(latency))?,
            None => writeln!(f, "{NO_ROUND_TRIP}")?,
        }
        writeln!(
            f,
            "{}",
            per_connection(&r.fairness, "connection", "round trip")
        )?;
        write!(f, "{}", errors(&r.errors))
    }
}

impl fmt::Display for StreamReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self;
        writeln!(
            f,
            "stream: {} sent to {}, {} echoed in {:.3} s",
            count(r.bytes_sent, "byte", "bytes"),
            r.server,
            grouped(r.bytes_echoed),
            r.seconds
        )?;
        writeln!(f, "throughput    {:.1} MB/s echoed", r.mb_per_sec)?;
        match r.first_corrupted_offset {
            None => write!(f, "verified      every byte intact"),
            Some(offset) => write!(
                f,
                "verified      {} CORRUPTED, the first at offset {offset}",
                count(r.corrupted_bytes, "byte", "bytes")
            ),
        }
    }
}

impl fmt::Display for RateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self;
        writeln!(
            f,
            "rate: {} ({} up) x {} B to {}, {:.1} s measured{}",
            plural(r.connections as u64, "connection"),
            r.connected,
            r.message_bytes,
            r.server,
            r.seconds,
            partial(r.server_gone_after)
        )?;
        writeln!(f, "{}", rates(r.asked_rate, r.sent_rate, r.echoed_rate))?;
        write!(
            f,
            "messages      {} due, {} sent, {} echoed, {} unsent, {} unechoed",
            grouped(r.due),
            grouped(r.sent),
            grouped(r.round_trips),
            grouped(r.unsent),
            grouped(r.unechoed)
        )?;
        writeln!(f, "{}", socket_waits(r.socket_waits))?;
        open_loop_latency(
            f,
            (r.latency_ms, r.uncorrected_latency_ms),
            ("message", "from its first byte written"),
        )?;
        writeln!(f, "{}", generator(r.threads, &r.generator_lateness_ms))?;
        writeln!(
            f,
            "{}",
            per_connection(&r.fairness, "connection", "round trip")
        )?;
        write!(f, "{}", errors(&r.errors))?;
        if !r.kept_up() {
            write!(
                f,
                "\nthe server did not keep up: it echoed {:.0}/s of the {:.0}/s asked ({:.1} %, \
                 below {:.0} %); the latency above includes the queue that built up",
                r.echoed_rate,
                r.asked_rate,
                r.echoed_rate / r.asked_rate * 100.0,
                KEPT_UP * 100.0
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for UdpRateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self;
        writeln!(
            f,
            "udp rate: {} x {} B to udp {}, {:.1} s measured{}",
            plural(r.sockets as u64, "socket"),
            r.datagram_bytes,
            r.server,
            r.seconds,
            partial(r.server_gone_after)
        )?;
        writeln!(f, "{}", rates(r.asked_rate, r.sent_rate, r.echoed_rate))?;
        let c = &r.counts;
        write!(
            f,
            "datagrams     {} due, {} sent, {} echoed, {} lost ({:.2} %), {} late, {}, {} out \
             of order, {} corrupted",
            grouped(r.due),
            grouped(c.sent),
            grouped(c.echoed),
            grouped(c.lost),
            r.loss_percent,
            c.late,
            plural(c.duplicates, "duplicate"),
            c.out_of_order,
            c.corrupted,
        )?;
        writeln!(f, "{}", socket_waits(r.socket_waits))?;
        open_loop_latency(
            f,
            (r.latency_ms, r.uncorrected_latency_ms),
            ("datagram", "from the moment it was sent"),
        )?;
        writeln!(f, "{}", generator(r.threads, &r.generator_lateness_ms))?;
        write!(f, "{}", per_connection(&r.fairness, "socket", "echo"))?;
        for line in r.path.lines() {
            write!(f, "\n{line}")?;
        }
        Ok(())
    }
}

/// The mark on a report's first line when the server went away during the run.
fn partial(server_gone_after: Option<f64>) -> &'static str {
    match server_gone_after {
        Some(_) => " (PARTIAL: the server went away)",
        None => "",
    }
}

/// `, N waited for their socket`, when any did.
fn socket_waits(waits: u64) -> String {
    match waits {
        0 => String::new(),
        waits => format!(", {} waited for their socket", grouped(waits)),
    }
}

fn rates(asked: f64, sent: f64, echoed: f64) -> String {
    let per_second = |rate: f64| grouped(rate.round() as u64);
    format!(
        "rates         asked {}/s, sent {}/s, echoed {}/s",
        per_second(asked),
        per_second(sent),
        per_second(echoed)
    )
}

/// An open-loop run's two latency lines, from the schedule and from the sending, for a `unit`
/// (message, datagram) sent as `uncorrected` says; or the line of a run with no round trip.
fn open_loop_latency(
    f: &mut fmt::Formatter<'_>,
    (latency, uncorrected): (Option<LatencyMs>, Option<LatencyMs>),
    (unit, from_sending): (&str, &str),
) -> fmt::Result {
    match (latency, uncorrected) {
        (Some(latency), Some(uncorrected)) => {
            writeln!(
                f,
                "latency (ms)  {}  (from each {unit}'s scheduled time)",
                percentiles(&latency)
            )?;
            writeln!(
                f,
                "uncorrected   {}  ({from_sending})",
                percentiles(&uncorrected)
            )
        }
        _ => writeln!(f, "{NO_ROUND_TRIP}"),
    }
}

/// The generator's line: its threads, and how late it was (its own delay, not the server's).
fn generator(threads: usize, late: &LatenessMs) -> String {
    format!(
        "generator     {}, late p50 {:.3}  p99 {:.3}  max {:.3} ms  (fails above a p99 of {:.3})",
        plural(threads as u64, "thread"),
        late.p50,
        late.p99,
        late.max,
        late.limit
    )
}

/// `latency (ms)  p50 …`, or the line of a run with no round trip.
pub(super) fn latency_line(latency: Option<LatencyMs>) -> String {
    match latency {
        Some(latency) => format!("latency (ms)  {}", percentiles(&latency)),
        None => NO_ROUND_TRIP.to_string(),
    }
}

/// The latency line of a run with no round trip: no percentiles, which would read as zeros.
const NO_ROUND_TRIP: &str = "latency       none: no round trip completed";

/// `p50 … max`, and p99.99 where the run has it.
fn percentiles(l: &LatencyMs) -> String {
    let p9999 = match l.p9999 {
        Some(p9999) => format!("  p99.99 {p9999:.3}"),
        None => String::new(),
    };
    format!(
        "p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}{p9999}  max {:.3}",
        l.p50, l.p90, l.p99, l.p999, l.max
    )
}

/// `per connection  fewest 10  most 12 round trips`, and how many had none, if any.
fn per_connection(fair: &Fairness, flow: &str, noun: &str) -> String {
    let fewest = match fair.fewest {
        u64::MAX => 0,
        fewest => fewest,
    };
    let none = match fair.silent {
        0 => String::new(),
        silent => format!("  ({silent} with none)"),
    };
    format!(
        "{:<16}fewest {}  most {}{none}",
        format!("per {flow}"),
        grouped(fewest),
        plural_noun(fair.most, noun)
    )
}

/// `12 round trips`, `1 echo`, `5 echoes`.
fn plural_noun(n: u64, noun: &str) -> String {
    match noun {
        "echo" => count(n, "echo", "echoes"),
        noun => format!("{} {noun}{}", grouped(n), if n == 1 { "" } else { "s" }),
    }
}

fn errors(e: &ErrorCounts) -> String {
    let mut line = format!(
        "errors        {}, {}, {}, {} corrupted",
        plural(e.connect_failures, "connect failure"),
        plural(e.resets, "reset"),
        plural(e.timeouts, "timeout"),
        e.corrupted,
    );
    if e.self_connections > 0 {
        line.push_str(&format!(
            ", {} refused",
            plural(e.self_connections, "self-connection")
        ));
    }
    line
}
