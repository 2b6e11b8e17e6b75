//! Whether a bench run can be trusted as a measurement of a working server. A measuring tool fails
//! loudly: a run in which some connection never got an answer, an echo came back wrong, or the
//! server went away is a failed run, not a slow one.

use super::report::{BenchReport, LatenessMs};
use crate::limits::Hinted;

impl BenchReport {
    /// `Err` with the reason, on one line, when the run cannot be trusted.
    pub fn verdict(&self) -> Result<(), Hinted> {
        let fail = |text: String| Err(Hinted::new(text));
        match self {
            BenchReport::PingPong(r) => {
                let e = &r.errors;
                if e.corrupted > 0 {
                    return fail(format!("{} echoes came back corrupted", e.corrupted));
                }
                if r.connected == 0 {
                    return fail("no connection could be made".into());
                }
                if let Some(after) = r.server_gone_after {
                    return fail(format!(
                        "the server went away {after:.1} s into the measured time (connections \
                         refused); the rates above are partial, over that time only"
                    ));
                }
                if e.closed_at_once > 0 && (r.fairness.silent > 0 || e.after_warmup > 0) {
                    return fail(format!(
                        "the server closed {} connections at once, before any echo, and {} of {} \
                         connections completed no round trip: is its client limit \
                         ({{max_clients}}) below {{connections}}?",
                        e.closed_at_once, r.fairness.silent, r.connections
                    ));
                }
                if r.fairness.silent > 0 {
                    return fail(format!(
                        "{} of {} connections completed no round trip in the measured time \
                         (a server that serves some clients and not others)",
                        r.fairness.silent, r.connections
                    ));
                }
                if e.after_warmup > 0 {
                    return fail(format!(
                        "the server refused or dropped {} connections after the warm-up",
                        e.after_warmup
                    ));
                }
                if r.round_trips == 0 {
                    return fail("no round trip completed".into());
                }
                Ok(())
            }
            BenchReport::Rate(r) => {
                let e = &r.errors;
                if e.corrupted > 0 {
                    return fail(format!("{} echoes came back corrupted", e.corrupted));
                }
                if r.connected == 0 {
                    return fail("no connection could be made".into());
                }
                if let Some(after) = r.server_gone_after {
                    return fail(format!(
                        "the server went away {after:.1} s into the measured time (connections \
                         refused); the rates above are partial, over that time only"
                    ));
                }
                if e.closed_at_once > 0 && (r.fairness.silent > 0 || e.after_warmup > 0) {
                    return fail(format!(
                        "the server closed {} connections at once, before any echo, and {} of {} \
                         connections got no echo: is its client limit ({{max_clients}}) below \
                         {{connections}}?",
                        e.closed_at_once, r.fairness.silent, r.connections
                    ));
                }
                if r.fairness.silent > 0 {
                    return fail(format!(
                        "{} of {} connections got no echo in the measured time (a server that \
                         serves some clients and not others)",
                        r.fairness.silent, r.connections
                    ));
                }
                if e.after_warmup > 0 {
                    return fail(format!(
                        "the server refused or dropped {} connections after the warm-up",
                        e.after_warmup
                    ));
                }
                if let Some(late) = too_late(&r.generator_lateness_ms, r.latency_ms.p99) {
                    return Err(late);
                }
                if e.timeouts > 0 {
                    return fail(format!(
                        "{} messages sent were never echoed: {} connections waited for their echo \
                         past the timeout ({{timeout}})",
                        r.unechoed, e.timeouts
                    ));
                }
                if r.round_trips == 0 {
                    return fail("no round trip completed".into());
                }
                Ok(())
            }
            BenchReport::Stream(r) if !r.intact() => fail(format!(
                "{} of {} bytes came back, {} corrupted",
                r.bytes_echoed, r.bytes_sent, r.corrupted_bytes
            )),
            BenchReport::Stream(_) => Ok(()),
            BenchReport::UdpRate(r) => {
                // Loss, duplicates and reordering are what the run measures, not its failure;
                // corruption and a generator too late to keep its schedule are.
                let c = &r.counts;
                if c.corrupted > 0 {
                    return fail(format!("{} echoes came back corrupted", c.corrupted));
                }
                if let Some(after) = r.server_gone_after {
                    return fail(format!(
                        "the server went away {after:.1} s into the measured time (nothing \
                         listens on its port any more); the rates above are partial"
                    ));
                }
                let Some(latency) = r.latency_ms else {
                    return fail(format!(
                        "no echo came back: {} datagrams sent, every one lost; is a UDP echo \
                         listening there (soc_server -u)?",
                        r.sent
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

/// The failure of an open-loop run whose generator fell behind its own schedule, if it did.
fn too_late(late: &LatenessMs, measured_p99_ms: f64) -> Option<Hinted> {
    late.too_late().then(|| {
        Hinted::new(format!(
            "the generator itself was late: its p99 lateness is {:.3} ms, more than 1 ms and more \
             than a tenth of the p99 latency it measured ({measured_p99_ms:.3} ms), so these \
             numbers describe the generator, not the server; give it more threads ({{threads}}) \
             or ask a lower rate ({{rate}})",
            late.p99
        ))
    })
}
