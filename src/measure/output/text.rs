//! The text of `ping` and `bench`: ping(8)-style probe lines and summary, and bench's report.

use std::fmt;

use crate::human::millis;
use crate::limits::{Hinted, SettingNames};
use crate::measure::ping::{PingEvent, ProbeOutcome};
use crate::measure::report::{BenchReport, PingReport};

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
        ProbeOutcome::Broken(err) => format!("seq={seq} lost: {err:#}"),
    }
}

impl fmt::Display for PingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- {} ping statistics ---", self.peer)?;
        write!(
            f,
            "{} probes sent, {} echoed, {} lost, {} corrupted, time {:.0} ms",
            self.sent,
            self.echoed,
            self.lost,
            self.corrupted,
            millis(self.elapsed)
        )?;
        if let Some(rtt) = self.rtt {
            write!(
                f,
                "\nrtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms",
                millis(rtt.min),
                millis(rtt.avg),
                millis(rtt.max),
                millis(rtt.mdev)
            )?;
        }
        Ok(())
    }
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
                    match r.server_gone_after {
                        Some(_) => " (PARTIAL: the server went away)",
                        None => "",
                    }
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
                let l = &r.latency_ms;
                writeln!(
                    f,
                    "latency (ms)  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
                    l.p50, l.p90, l.p99, l.p999, l.max
                )?;
                let fair = &r.fairness;
                writeln!(
                    f,
                    "per connection  fewest {}  most {} round trips  ({} with none)",
                    if fair.fewest == u64::MAX {
                        0
                    } else {
                        fair.fewest
                    },
                    fair.most,
                    fair.silent
                )?;
                let e = &r.errors;
                write!(
                    f,
                    "errors        {} connect failures, {} resets, {} timeouts, {} corrupted, \
                     {} self-connections refused",
                    e.connect_failures, e.resets, e.timeouts, e.corrupted, e.self_connections
                )
            }
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
