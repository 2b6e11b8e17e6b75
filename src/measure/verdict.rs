//! Whether a run can be trusted as a measurement of a working path and server. A measuring tool
//! fails loudly: a run in which some connection never got an answer, an echo came back wrong, or
//! the server went away is a failed run, not a slow one; and a ping fails, as ping(8) does, when
//! a probe did not come back intact.

use super::report::{
    ConnectReport, ErrorCounts, Fairness, LatenessMs, PingReport, Report, UdpPingReport,
};
use super::slo::{self, Metric, Objective};
use crate::human::{self, plural};
use crate::limits::Hinted;

impl Report {
    /// `Err` with the reason, on one line, when the run failed.
    pub fn verdict(&self) -> Result<(), Hinted> {
        self.verdict_under(&[])
    }

    /// [`Report::verdict`] for a run held to `objectives`: what an objective judges (a `loss`
    /// objective, the probes lost; a `late` one, the late) fails no run, the objective says.
    pub fn verdict_under(&self, objectives: &[Objective]) -> Result<(), Hinted> {
        let fail = |text: String| Err(Hinted::new(text));
        let loss = slo::judges(objectives, Metric::Loss);
        let late = slo::judges(objectives, Metric::Late);
        match self {
            Report::Ping(r) => ping(r, loss),
            Report::UdpPing(r) => udp_ping(r, loss, late),
            Report::Connect(r) => connect(r, loss),
            Report::PingPong(r) => Connections {
                errors: &r.errors,
                connections: r.connections,
                connected: r.connected,
                fairness: &r.fairness,
                round_trips: r.round_trips,
                server_gone_after: r.server_gone_after,
            }
            .verdict(),
            Report::Rate(r) => {
                Connections {
                    errors: &r.errors,
                    connections: r.connections,
                    connected: r.connected,
                    fairness: &r.fairness,
                    round_trips: r.round_trips,
                    server_gone_after: r.server_gone_after,
                }
                .verdict()?;
                let p99 = r.latency_ms.map_or(0.0, |latency| latency.p99);
                if let Some(late) = too_late(&r.generator_lateness_ms, p99) {
                    return Err(late);
                }
                if r.errors.timeouts > 0 {
                    return fail(format!(
                        "{} sent were never echoed: {} waited for their echo past the timeout \
                         ({{timeout}})",
                        plural(r.unechoed, "message"),
                        plural(r.errors.timeouts, "connection")
                    ));
                }
                Ok(())
            }
            Report::Stream(r) if !r.intact() => fail(format!(
                "{} came back, {} corrupted",
                human::bytes_of(r.bytes_echoed, r.bytes_sent),
                human::bytes(r.corrupted_bytes)
            )),
            Report::Stream(_) => Ok(()),
            Report::Intervals(r) if r.round_trips == 0 => {
                fail("the interval logs hold no round trip".into())
            }
            Report::Intervals(_) => Ok(()),
            Report::UdpRate(r) => {
                // Loss, duplicates and reordering are what the run measures, not its failure;
                // corruption and a generator too late to keep its schedule are.
                if r.counts.corrupted > 0 {
                    return fail(corrupted(r.counts.corrupted));
                }
                if let Some(after) = r.server_gone_after {
                    return fail(format!(
                        "the server went away {after:.1} s into the measured time (nothing \
                         listens on its port any more); the rates above are partial"
                    ));
                }
                let Some(latency) = r.latency_ms else {
                    return fail(format!(
                        "no echo came back: {} sent, every one lost; is a UDP echo listening \
                         there (soc_server -u)?",
                        plural(r.counts.sent, "datagram")
                    ));
                };
                if let Some(late) = too_late(&r.generator_lateness_ms, latency.p99) {
                    return Err(late);
                }
                Ok(())
            }
        }
    }
}

/// What a closed-loop and an open-loop TCP run both fail for: their connections.
struct Connections<'a> {
    errors: &'a ErrorCounts,
    connections: usize,
    connected: usize,
    fairness: &'a Fairness,
    round_trips: u64,
    server_gone_after: Option<f64>,
}

impl Connections<'_> {
    fn verdict(&self) -> Result<(), Hinted> {
        let fail = |text: String| Err(Hinted::new(text));
        let e = self.errors;
        let of_all = |n: usize| format!("{n} of {}", plural(self.connections as u64, "connection"));
        if e.corrupted > 0 {
            return fail(corrupted(e.corrupted));
        }
        if self.connected == 0 {
            return fail("no connection could be made".into());
        }
        if let Some(after) = self.server_gone_after {
            return fail(format!(
                "the server went away {after:.1} s into the measured time (connections \
                 refused); the rates above are partial, over that time only"
            ));
        }
        let silent = self.fairness.silent;
        if e.closed_at_once > 0 && (silent > 0 || e.after_warmup > 0) {
            return fail(format!(
                "the server closed {} at once, before any echo, and {} completed no round trip: \
                 is its client limit ({{max_clients}}) below {{connections}}?",
                plural(e.closed_at_once, "connection"),
                of_all(silent)
            ));
        }
        if self.round_trips == 0 {
            return fail(format!(
                "no round trip completed: the server accepted {} and echoed nothing in the \
                 measured time",
                plural(self.connected as u64, "connection")
            ));
        }
        if silent > 0 {
            return fail(format!(
                "{} completed no round trip in the measured time (a server that serves some \
                 clients and not others)",
                of_all(silent)
            ));
        }
        if e.after_warmup > 0 {
            return fail(format!(
                "the server refused or dropped {} after the warm-up",
                plural(e.after_warmup, "connection")
            ));
        }
        Ok(())
    }
}

/// What a ping fails for: a probe that did not come back intact (a lost one, unless an objective
/// judges the loss).
fn ping(r: &PingReport, loss_judged: bool) -> Result<(), Hinted> {
    if r.sent == 0 {
        return Err(Hinted::new("no probe was sent"));
    }
    let parts = [
        (unjudged(r.lost, loss_judged), "lost"),
        (r.corrupted, "corrupted"),
    ];
    not_all(r.sent, "probe", &parts)
}

/// What a UDP ping fails for: a probe lost, late or altered (duplicates and reordering are the
/// path's, and reported, but every probe did come back); loss and lateness an objective judges
/// are its.
fn udp_ping(r: &UdpPingReport, loss_judged: bool, late_judged: bool) -> Result<(), Hinted> {
    if r.sent == 0 {
        return Err(Hinted::new("no probe was sent"));
    }
    let parts = [
        (unjudged(r.lost, loss_judged), "lost"),
        (unjudged(r.late, late_judged), "late"),
        (r.corrupted, "corrupted"),
    ];
    not_all(r.sent, "probe", &parts)
}

fn connect(r: &ConnectReport, loss_judged: bool) -> Result<(), Hinted> {
    if r.sent == 0 {
        return Err(Hinted::new("no connection was tried"));
    }
    let otherwise = r.failed - r.refused - r.timed_out;
    let parts = [
        (unjudged(r.refused, loss_judged), "refused"),
        (unjudged(r.timed_out, loss_judged), "timed out"),
        (unjudged(otherwise, loss_judged), "failed otherwise"),
    ];
    not_all(r.sent, "connect", &parts)
}

/// `count`, unless an objective judges it: then it fails nothing.
fn unjudged(count: u64, judged: bool) -> u64 {
    match judged {
        true => 0,
        false => count,
    }
}

/// `Err("2 of 10 probes lost, 1 corrupted")` when any of `parts` (a count and what it counts) is
/// not zero.
fn not_all(sent: u64, noun: &str, parts: &[(u64, &str)]) -> Result<(), Hinted> {
    let mut said = parts.iter().filter(|(count, _)| *count > 0);
    let Some((count, what)) = said.next() else {
        return Ok(());
    };
    let mut text = format!("{count} of {} {what}", plural(sent, noun));
    for (count, what) in said {
        text.push_str(&format!(", {count} {what}"));
    }
    Err(Hinted::new(text))
}

fn corrupted(echoes: u64) -> String {
    format!(
        "{} came back corrupted",
        human::count(echoes, "echo", "echoes")
    )
}

/// The failure of an open-loop run whose generator fell behind its own schedule, if it did. On
/// a busy machine the cause is the machine, and more threads help little, so the reason starts
/// there.
fn too_late(late: &LatenessMs, measured_p99_ms: f64) -> Option<Hinted> {
    let machine = &late.machine;
    let remedy = match (machine.busy(), machine.load_average) {
        (true, Some(load)) => format!(
            "this machine is busy (load average {load:.2} on {}), so the generator waited for a \
             core: measure where it has one to itself, or give it more threads ({{threads}}) or \
             ask a lower rate ({{rate}})",
            plural(machine.cores as u64, "core")
        ),
        _ => "give it more threads ({threads}) or ask a lower rate ({rate})".to_string(),
    };
    late.too_late().then(|| {
        Hinted::new(format!(
            "the generator itself was late: its p99 lateness is {:.3} ms, more than 1 ms and more \
             than a tenth of the p99 latency it measured ({measured_p99_ms:.3} ms), so these \
             numbers describe the generator, not the server; {remedy}",
            late.p99
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::report::Machine;

    fn late_on(load_average: Option<f64>) -> LatenessMs {
        LatenessMs {
            p50: 0.03,
            p99: 3.4,
            max: 11.3,
            limit: 1.0,
            machine: Machine {
                cores: 2,
                load_average,
            },
        }
    }

    #[test]
    fn a_late_generator_on_a_busy_machine_is_told_the_machine_is_the_cause() {
        let busy = too_late(&late_on(Some(4.19)), 3.8).unwrap().to_string();
        assert!(
            busy.contains("this machine is busy (load average 4.19 on 2 cores), so the generator waited for a core"),
            "{busy}"
        );
        for quiet in [Some(1.2), None] {
            let text = too_late(&late_on(quiet), 3.8).unwrap().to_string();
            assert!(!text.contains("busy"), "{text}");
            assert!(
                text.ends_with("give it more threads (threads) or ask a lower rate (rate)"),
                "{text}"
            );
        }
        let on_time = LatenessMs {
            p99: 0.9,
            ..late_on(Some(4.19))
        };
        assert!(
            too_late(&on_time, 3.8).is_none(),
            "on time whatever the load"
        );
    }
}
