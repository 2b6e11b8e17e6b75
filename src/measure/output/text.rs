//! The text of `ping`: ping(8)-style probe lines and summaries; and every report's text and title
//! (bench's own are `bench.rs`'s).

use std::fmt;

use crate::human::{millis, plural};
use crate::limits::{describe, Hinted, SettingNames};
use crate::measure::connect::{ConnectOutcome, ConnectProbe};
use crate::measure::monitor::{Change, MonitorEvent, Watched};
use crate::measure::ping::{PingEvent, ProbeOutcome};
use crate::measure::record::Outcome;
use crate::measure::report::{ConnectReport, LatencyMs, PingReport, Report, UdpPingReport};
use crate::measure::udp_ping::{UdpOutcome, UdpPingEvent};

/// The line `monitor` prints for `event`: the target, then what `ping` would say of the probe.
pub fn monitor_line(event: &MonitorEvent) -> String {
    match event {
        MonitorEvent::Probe {
            target,
            record,
            detail,
        } => {
            let seq = record.seq;
            let what = match (record.outcome, record.rtt) {
                (Outcome::Echoed, Some(rtt)) if record.out_of_order => {
                    format!("seq={seq} time={:.3} ms (out of order)", millis(rtt))
                }
                (Outcome::Echoed | Outcome::Connected, Some(rtt)) => {
                    format!("seq={seq} time={:.3} ms", millis(rtt))
                }
                (Outcome::Late, Some(after)) => format!(
                    "seq={seq} late: its echo came {:.3} ms after it was due, past the timeout",
                    millis(after)
                ),
                (Outcome::Stray, _) => "a datagram that matches no probe: counted corrupted".into(),
                (outcome, _) => format!("seq={seq} {}", outcome.name().replace('_', " ")),
            };
            match detail {
                Some(detail) if record.outcome != Outcome::Stray => {
                    format!("{target}: {what}: {detail}")
                }
                _ => format!("{target}: {what}"),
            }
        }
        MonitorEvent::Health { target, change, .. } => match change {
            Change::Down { failures } => {
                format!(
                    "{target}: DOWN after {}",
                    plural(u64::from(*failures), "failed probe")
                )
            }
            Change::Up { after } => {
                format!("{target}: UP again after {:.1} s down", after.as_secs_f64())
            }
        },
        MonitorEvent::Unresolved { target, why } => {
            format!(
                "{target}: could not resolve '{}': {why}; trying again on its schedule",
                target.host
            )
        }
    }
}

/// What `monitor` prints when it stops: each target's statistics, as `ping` gives them, and its
/// health.
pub fn monitor_summaries(watched: &[Watched]) -> String {
    watched.iter().map(monitor_summary).collect()
}

/// What `monitor` prints for a target when it stops.
fn monitor_summary(watched: &Watched) -> String {
    format!(
        "\n{}: {}, {}, {:.1} s down\n{}",
        watched.target,
        if watched.up { "up" } else { "DOWN" },
        plural(watched.outages, "outage"),
        watched.down_for.as_secs_f64(),
        watched.report
    )
}

/// The line ping prints for `event`, naming settings through `names`.
pub fn ping_line(event: &PingEvent, names: SettingNames) -> String {
    let probe = match event {
        PingEvent::Connected { peer, took, size } => {
            return format!(
                "PING {peer}: connected in {:.3} ms, {size} bytes per probe",
                millis(*took)
            )
        }
        PingEvent::Reconnected { peer, took } => {
            return format!("connected again to {peer} in {:.3} ms", millis(*took))
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
        ProbeOutcome::Broken(err) => format!(
            "seq={seq} lost: {}; the next probe connects again",
            describe(err, names)
        ),
        ProbeOutcome::Unconnected(err) => format!("seq={seq} lost: {}", describe(err, names)),
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
        UdpPingEvent::NothingListening(server) => {
            return format!(
                "nothing is listening on udp {server} (the system says so): the probes meanwhile \
                 are lost; carrying on"
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
        UdpOutcome::Echoed {
            rtt, out_of_order, ..
        } => format!(
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
        write_rtt(f, self.latency_ms)?;
        if let Some(jitter) = self.jitter_ms {
            write!(f, ", jitter {jitter:.3} ms")?;
        }
        for line in self.path.lines() {
            write!(f, "\n{line}")?;
        }
        Ok(())
    }
}

/// What a UDP ping run measured, in a line.
fn udp_ping_title(report: &UdpPingReport) -> String {
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
            "{} sent, {} echoed, {} lost, {} corrupted",
            plural(self.sent, "probe"),
            self.echoed,
            self.lost,
            self.corrupted,
        )?;
        if self.reconnections > 0 {
            write!(f, ", {}", plural(self.reconnections, "reconnection"))?;
        }
        write!(f, ", time {:.0} ms", self.seconds * 1000.0)?;
        write_rtt(f, self.latency_ms)
    }
}

impl fmt::Display for ConnectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- {} connect statistics ---", self.server)?;
        write!(
            f,
            "{} tried, {} connected, {} failed",
            plural(self.sent, "connect"),
            self.connected,
            self.failed,
        )?;
        if self.failed > 0 {
            write!(
                f,
                " ({} refused, {} timed out)",
                self.refused, self.timed_out
            )?;
        }
        write!(f, ", time {:.0} ms", self.seconds * 1000.0)?;
        write_rtt(f, self.latency_ms)
    }
}

/// ping(8)'s last line, when there was a round trip.
fn write_rtt(f: &mut fmt::Formatter<'_>, rtt: Option<LatencyMs>) -> fmt::Result {
    match rtt {
        Some(rtt) => write!(
            f,
            "\nrtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms",
            rtt.min, rtt.mean, rtt.max, rtt.stdev
        ),
        None => Ok(()),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Ping(r) => r.fmt(f),
            Report::UdpPing(r) => r.fmt(f),
            Report::Connect(r) => r.fmt(f),
            Report::PingPong(r) => r.fmt(f),
            Report::Rate(r) => r.fmt(f),
            Report::UdpRate(r) => r.fmt(f),
            Report::Stream(r) => r.fmt(f),
            Report::Intervals(r) => write!(
                f,
                "interval logs: {} merged, {} round trips over {:.1} s\n{}",
                r.logs,
                crate::human::grouped(r.round_trips),
                r.seconds,
                super::bench::latency_line(r.latency_ms)
            ),
        }
    }
}

/// What a run measured, in a line: the title of its plot and interval log.
pub fn title(report: &Report) -> String {
    match report {
        Report::Ping(r) => ping_title(r),
        Report::UdpPing(r) => udp_ping_title(r),
        Report::Connect(r) => connect_title(r),
        other => super::bench::title(other),
    }
}

/// What a ping run measured, in a line.
fn ping_title(report: &PingReport) -> String {
    format!(
        "soc_client ping: {} probes of {} B to {}, {:.1} s",
        report.sent, report.probe_bytes, report.server, report.seconds
    )
}

/// What a connect-time run measured, in a line.
fn connect_title(report: &ConnectReport) -> String {
    format!(
        "soc_client ping --connect: {} TCP handshakes with {}, {:.1} s",
        report.sent, report.server, report.seconds
    )
}
