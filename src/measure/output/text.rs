//! The text of `ping` and `bench`: ping(8)-style probe lines and summary, and bench's report.

use std::fmt;

use crate::human::{millis, plural};
use crate::limits::{describe, Hinted, SettingNames};
use crate::measure::connect::{ConnectOutcome, ConnectProbe};
use crate::measure::ping::{PingEvent, ProbeOutcome};
use crate::measure::report::{
    BenchReport, ConnectReport, ErrorCounts, Fairness, LatencyMs, LatenessMs, PingReport,
    RateReport, RttMs, UdpPingReport, UdpRateReport, KEPT_UP,
};
use crate::measure::udp_ping::{UdpOutcome, UdpPingEvent};

/// The line ping prints for `event`, naming settings through `names`.
pub fn ping_line(event: &PingEvent, names: SettingNames) -> String {
    let probe = match event {
        PingEvent::Connected { peer, took, size } => {
            return format!(
                "PING {peer}: connected in {:.3} ms, {size} bytes per probe",
                millis(*took)
            )
        }
        PingEvent::Probe(probe) => probe,
    };
    let (seq, size, peer) = (probe.seq, probe.size, probe.peer);
    match &probe.outcome {
        ProbeOutcome::Echoed(rtt) => {
            format!("{size} bytes from {peer}: seq={seq} time={:.3} ms", millis(*rtt))
        }
        ProbeOutcome::Corrupted(rtt, differing) => format!(
            "{size} bytes from {peer}: seq={seq} time={:.3} ms CORRUPTED ({differing} bytes differ)",
            millis(*rtt)
        ),
        ProbeOutcome::Lost(timeout) => {
            Hinted::new(format!("seq={seq} lost: no echo within {timeout} ({{timeout}})"))
                .render(names)
        }
        ProbeOutcome::Broken(err) => format!("seq={seq} lost: {}", describe(err, names)),
    }
}

/// The line `ping -u` prints for `event`, naming settings through `names`.
pub fn udp_ping_line(event: &UdpPingEvent, names: SettingNames) -> String {
    let (seq, size, server, outcome) = match event {
        UdpPingEvent::Started { server, size } => {
            return format!("PING udp {server}: {size} bytes per probe")
        }
        UdpPingEvent::Stray { bytes } => {
            return format!(
                "a datagram of {bytes} bytes that matches no probe sent: counted corrupted"
            )
        }
        UdpPingEvent::Waiting(wait) => {
            return format!(
                "waiting up to {:.1} s for the echoes still missing",
                wait.as_secs_f64()
            )
        }
        UdpPingEvent::Probe {
            seq,
            size,
            server,
            outcome,
        } => (seq, size, server, outcome),
    };
    match outcome {
        UdpOutcome::Echoed { rtt, out_of_order } => format!(
            "{size} bytes from {server}: seq={seq} time={:.3} ms{}",
            millis(*rtt),
            if *out_of_order { " (out of order)" } else { "" }
        ),
        UdpOutcome::Lost(timeout) => Hinted::new(format!(
            "seq={seq} lost: no echo within {timeout} ({{timeout}})"
        ))
        .render(names),
        UdpOutcome::Late(after) => format!(
            "seq={seq} late: its echo came {:.3} ms after it was sent, past the timeout \
             (counted late, not lost)",
            millis(*after)
        ),
        UdpOutcome::Duplicate(after) => format!(
            "seq={seq} duplicate: another echo, {:.3} ms after it was sent",
            millis(*after)
        ),
        UdpOutcome::Corrupted(differing) => {
            format!("seq={seq} corrupted: {differing} bytes differ")
        }
    }
}

impl fmt::Display for UdpPingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- udp {} ping statistics ---", self.server)?;
        write!(
            f,
            "{} sent, {} echoed, {} lost, {} late, {}, {} out of order, {} corrupted, {:.1}% \
             loss, time {:.0} ms",
            plural(self.sent, "probe"),
            self.echoed,
            self.lost,
            self.late,
            plural(self.duplicates, "duplicate"),
            self.out_of_order,
            self.corrupted,
            self.loss_percent,
            self.seconds * 1000.0
        )?;
        write_rtt(f, self.rtt_ms)?;
        if let Some(jitter) = self.jitter_ms {
            write!(f, ", jitter {jitter:.3} ms")?;
        }
        Ok(())
    }
}

/// What a UDP ping run measured, in a line.
pub fn udp_ping_title(report: &UdpPingReport) -> String {
    format!(
        "soc_client ping -u: {} probes of {} B to udp {}, {:.1} s",
        report.sent, report.probe_bytes, report.server, report.seconds
    )
}

/// The line `ping --connect` prints for one attempt, naming settings through `names`.
pub fn connect_line(probe: &ConnectProbe, names: SettingNames) -> String {
    let (seq, server) = (probe.seq, probe.server);
    match &probe.outcome {
        ConnectOutcome::Connected(took) => {
            format!(
                "connected to {server}: seq={seq} time={:.3} ms",
                millis(*took)
            )
        }
        ConnectOutcome::Refused => format!("seq={seq} refused by {server}: nothing listens there"),
        ConnectOutcome::TimedOut(limit) => Hinted::new(format!(
            "seq={seq} timed out: no answer from {server} within {limit} ({{connect_timeout}})"
        ))
        .render(names),
        ConnectOutcome::Failed(err) => format!("seq={seq} failed: {err:#}"),
    }
}

impl fmt::Display for PingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- {} ping statistics ---", self.server)?;
        write!(
            f,
            "{} sent, {} echoed, {} lost, {} corrupted, time {:.0} ms",
            plural(self.sent, "probe"),
            self.echoed,
            self.lost,
            self.corrupted,
            self.seconds * 1000.0
        )?;
        write_rtt(f, self.rtt_ms)
    }
}

impl fmt::Display for ConnectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- {} connect statistics ---", self.server)?;
        write!(
            f,
            "{} tried, {} connected, {} failed, time {:.0} ms",
            plural(self.sent, "connect"),
            self.connected,
            self.failed,
            self.seconds * 1000.0
        )?;
        write_rtt(f, self.rtt_ms)
    }
}

/// ping(8)'s last line, when there was a round trip.
fn write_rtt(f: &mut fmt::Formatter<'_>, rtt: Option<RttMs>) -> fmt::Result {
    match rtt {
        Some(rtt) => write!(
            f,
            "\nrtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms",
            rtt.min, rtt.avg, rtt.max, rtt.mdev
        ),
        None => Ok(()),
    }
}

/// What a bench run measured, in a line: the title of its plot and interval log.
pub fn bench_title(report: &BenchReport) -> String {
    match report {
        BenchReport::PingPong(r) => format!(
            "soc_client bench: closed loop, {} connections x {} B to {}, {:.1} s",
            r.connections, r.message_bytes, r.server, r.seconds
        ),
        BenchReport::Rate(r) => format!(
            "soc_client bench --rate {}: open loop, {} connections x {} B to {}, {:.1} s",
            r.asked_rate, r.connections, r.message_bytes, r.server, r.seconds
        ),
        BenchReport::Stream(r) => format!(
            "soc_client bench --stream {}: one connection to {}",
            r.bytes_sent, r.server
        ),
        BenchReport::UdpRate(r) => format!(
            "soc_client bench -u --rate {}: open loop, {} sockets x {} B to udp {}, {:.1} s",
            r.asked_rate, r.sockets, r.datagram_bytes, r.server, r.seconds
        ),
    }
}

/// What a ping run measured, in a line.
pub fn ping_title(report: &PingReport) -> String {
    format!(
        "soc_client ping: {} probes of {} B to {}, {:.1} s",
        report.sent, report.probe_bytes, report.server, report.seconds
    )
}

/// What a connect-time run measured, in a line.
pub fn connect_title(report: &ConnectReport) -> String {
    format!(
        "soc_client ping --connect: {} TCP handshakes with {}, {:.1} s",
        report.sent, report.server, report.seconds
    )
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchReport::PingPong(r) => {
                writeln!(
                    f,
                    "ping-pong: {} connections ({} up) x {} B to {}, {:.1} s measured{}",
                    r.connections,
                    r.connected,
                    r.message_bytes,
                    r.server,
                    r.seconds,
                    partial(r.server_gone_after)
                )?;
                writeln!(
                    f,
                    "round trips   {} ({:.0}/s)",
                    r.round_trips, r.round_trips_per_sec
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
                writeln!(f, "{}", per_connection(&r.fairness))?;
                write!(f, "{}", errors(&r.errors))
            }
            BenchReport::Rate(r) => rate_report(f, r),
            BenchReport::UdpRate(r) => udp_rate_report(f, r),
            BenchReport::Stream(r) => {
                writeln!(
                    f,
                    "stream: {} bytes sent to {}, {} echoed in {:.3} s",
                    r.bytes_sent, r.server, r.bytes_echoed, r.seconds
                )?;
                writeln!(f, "throughput    {:.1} MB/s echoed", r.mb_per_sec)?;
                match r.first_corrupted_offset {
                    None => write!(f, "verified      every byte intact"),
                    Some(offset) => write!(
                        f,
                        "verified      {} bytes CORRUPTED, the first at offset {offset}",
                        r.corrupted_bytes
                    ),
                }
            }
        }
    }
}

fn rate_report(f: &mut fmt::Formatter<'_>, r: &RateReport) -> fmt::Result {
    writeln!(
        f,
        "rate: {} connections ({} up) x {} B to {}, {:.1} s measured{}",
        r.connections,
        r.connected,
        r.message_bytes,
        r.server,
        r.seconds,
        partial(r.server_gone_after)
    )?;
    writeln!(f, "{}", rates(r.asked_rate, r.sent_rate, r.echoed_rate))?;
    writeln!(
        f,
        "messages      {} due, {} sent, {} echoed, {} unsent, {} unechoed, {} waited for their socket",
        r.due, r.sent, r.round_trips, r.unsent, r.unechoed, r.socket_waits
    )?;
    open_loop_latency(
        f,
        (r.latency_ms, r.uncorrected_latency_ms),
        ("message", "from its first byte written"),
    )?;
    writeln!(f, "{}", generator(&r.generator_lateness_ms))?;
    writeln!(f, "{}", per_connection(&r.fairness))?;
    write!(f, "{}", errors(&r.errors))?;
    if !r.kept_up() {
        write!(
            f,
            "\nthe server did not keep up: it echoed {:.0}/s of the {:.0}/s asked ({:.1} %, below \
             {:.0} %); the latency above includes the queue that built up",
            r.echoed_rate,
            r.asked_rate,
            r.echoed_rate / r.asked_rate * 100.0,
            KEPT_UP * 100.0
        )?;
    }
    Ok(())
}

fn udp_rate_report(f: &mut fmt::Formatter<'_>, r: &UdpRateReport) -> fmt::Result {
    writeln!(
        f,
        "udp rate: {} sockets x {} B to udp {}, {:.1} s measured{}",
        r.sockets,
        r.datagram_bytes,
        r.server,
        r.seconds,
        partial(r.server_gone_after)
    )?;
    writeln!(f, "{}", rates(r.asked_rate, r.sent_rate, r.echoed_rate))?;
    let c = &r.counts;
    writeln!(
        f,
        "datagrams     {} due, {} sent, {} echoed, {} lost ({:.2} %), {} late, {} duplicated, {} \
         out of order, {} corrupted, {} waited for their socket",
        r.due,
        r.sent,
        r.echoed,
        c.lost,
        r.loss_percent,
        c.late,
        c.duplicated,
        c.out_of_order,
        c.corrupted,
        r.socket_waits
    )?;
    open_loop_latency(
        f,
        (r.latency_ms, r.uncorrected_latency_ms),
        ("datagram", "from the moment it was sent"),
    )?;
    writeln!(f, "{}", generator(&r.generator_lateness_ms))?;
    write!(
        f,
        "per socket    fewest {}  most {} echoes  ({} with none)",
        fewest(&r.fairness),
        r.fairness.most,
        r.fairness.silent
    )
}

/// The mark on a report's first line when the server went away during the run.
fn partial(server_gone_after: Option<f64>) -> &'static str {
    match server_gone_after {
        Some(_) => " (PARTIAL: the server went away)",
        None => "",
    }
}

fn rates(asked: f64, sent: f64, echoed: f64) -> String {
    format!("rates         asked {asked:.0}/s, sent {sent:.0}/s, echoed {echoed:.0}/s")
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

fn generator(late: &LatenessMs) -> String {
    format!(
        "generator     late p50 {:.3}  p99 {:.3}  max {:.3} ms  (its own delay; fails above a p99 \
         of {:.3})",
        late.p50, late.p99, late.max, late.limit
    )
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

fn per_connection(fair: &Fairness) -> String {
    format!(
        "per connection  fewest {}  most {} round trips  ({} with none)",
        fewest(fair),
        fair.most,
        fair.silent
    )
}

/// The fewest round trips of any connection, 0 when none was counted.
fn fewest(fair: &Fairness) -> u64 {
    match fair.fewest {
        u64::MAX => 0,
        fewest => fewest,
    }
}

fn errors(e: &ErrorCounts) -> String {
    format!(
        "errors        {}, {}, {}, {} corrupted, {} refused",
        plural(e.connect_failures, "connect failure"),
        plural(e.resets, "reset"),
        plural(e.timeouts, "timeout"),
        e.corrupted,
        plural(e.self_connections, "self-connection")
    )
}
