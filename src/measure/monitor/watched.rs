//! One target on the monitor's loop: its prober, its health, its counts, and what the loop does
//! with each probe's outcome.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use super::health::{Change, Health};
use super::prober::{Connects, Context, Datagrams, Found, Prober, TcpEcho};
use super::resolver::Resolver;
use super::{
    MonitorEvent, MonitorOptions, Proto, TargetMetrics, TargetSpec, Watched, LOOK_UP_AGAIN,
};
use crate::measure::ping::RoundTrips;
use crate::measure::record::{Outcome, ProbeRecord};
use crate::measure::report::{ConnectReport, PingReport, Report};
use crate::measure::udp_ping;

/// One target on the loop.
pub(super) struct Target {
    pub(super) spec: TargetSpec,
    pub(super) addr: Option<SocketAddr>,
    /// A host name, to look up again now and then (an address stays as it is).
    pub(super) named: bool,
    pub(super) next_look_up: Instant,
    pub(super) looking_up: bool,
    pub(super) told_unresolved: bool,
    pub(super) prober: Prober,
    pub(super) health: Health,
    pub(super) rtts: RoundTrips,
    /// What the summary counts (UDP's are the ledger's).
    pub(super) sent: u64,
    pub(super) echoed: u64,
    pub(super) lost: u64,
    pub(super) corrupted: u64,
    pub(super) refused: u64,
    pub(super) timed_out: u64,
}

pub(super) fn new_target(index: usize, spec: &TargetSpec, options: &MonitorOptions) -> Target {
    let flow = index as u64;
    let prober = match spec.proto {
        Proto::Tcp => Prober::Tcp(TcpEcho::new(flow, options.size)),
        Proto::Connect => Prober::Connect(Connects::new()),
        Proto::Udp => Prober::Udp(Box::new(Datagrams::new(
            flow,
            options.size,
            options.timeout,
        ))),
    };
    let literal = spec.host.parse::<std::net::IpAddr>().ok();
    Target {
        spec: spec.clone(),
        addr: literal.map(|ip| SocketAddr::new(ip, spec.port)),
        named: literal.is_none(),
        next_look_up: Instant::now(),
        looking_up: false,
        told_unresolved: false,
        prober,
        health: Health::new(options.down_after),
        rtts: RoundTrips::compact(),
        sent: 0,
        echoed: 0,
        lost: 0,
        corrupted: 0,
        refused: 0,
        timed_out: 0,
    }
}

/// Tells, counts and judges what `target`'s prober found.
pub(super) fn settle(
    target: &mut Target,
    metrics: &TargetMetrics,
    found: &mut Vec<Found>,
    on_event: &mut impl FnMut(&MonitorEvent),
) {
    for found in found.drain(..) {
        let now = Instant::now();
        let record = ProbeRecord {
            out_of_order: found.out_of_order,
            marks: found.marks,
            ..ProbeRecord::now(found.seq, found.outcome, found.rtt)
        };
        metrics.count(found.outcome, found.rtt, found.out_of_order);
        target.count(&found);
        on_event(&MonitorEvent::Probe {
            target: &target.spec,
            record,
            detail: found.detail,
        });
        if let Some(change) = target.health.observe(found.outcome, now) {
            if matches!(change, Change::Down { .. }) {
                metrics.outages.add(1);
            }
            metrics.up.set(f64::from(u8::from(target.health.is_up())));
            let time = SystemTime::now();
            on_event(&MonitorEvent::Health {
                target: &target.spec,
                change,
                time,
            });
        }
    }
}

impl Target {
    /// Sends probe `seq` of this target, due at `scheduled`; one with no address yet is a
    /// probe that failed for it.
    pub(super) fn probe(
        &mut self,
        registry: &mio::Registry,
        index: usize,
        scheduled: Instant,
        options: &MonitorOptions,
        found: &mut Vec<Found>,
    ) {
        self.sent += 1;
        let seq = self.sent;
        let Some(addr) = self.addr else {
            if let Prober::Udp(udp) = &mut self.prober {
                // The ledger numbers datagrams: this one is recorded, and lost at its timeout.
                let _ = udp.ledger.next_datagram(scheduled);
                udp.ledger.sent(scheduled);
                return;
            }
            return found.push(Found {
                seq,
                outcome: Outcome::Unresolved,
                rtt: None,
                out_of_order: false,
                marks: None,
                detail: Some("its name does not resolve".into()),
            });
        };
        let mut cx = Context::of_target(registry, index, options, found);
        self.prober.probe(&mut cx, seq, scheduled, addr);
    }

    /// Serves a readiness `event` of the target's socket `slot` (the target being `index`).
    pub(super) fn serve(
        &mut self,
        registry: &mio::Registry,
        (index, slot): (usize, usize),
        event: &mio::event::Event,
        options: &MonitorOptions,
        buffer: &mut [u8],
        found: &mut Vec<Found>,
    ) {
        let mut cx = Context::of_target(registry, index, options, found);
        self.prober.serve(&mut cx, slot, event, buffer);
    }

    pub(super) fn maintain(
        &mut self,
        registry: &mio::Registry,
        index: usize,
        now: Instant,
        options: &MonitorOptions,
        resolver: &Resolver,
        found: &mut Vec<Found>,
    ) {
        if self.named && !self.looking_up && now >= self.next_look_up {
            resolver.ask(index, &self.spec.host, self.spec.port);
            self.looking_up = true;
        }
        let mut cx = Context::of_target(registry, index, options, found);
        self.prober.maintain(&mut cx, now);
    }

    /// A lookup's answer came.
    pub(super) fn resolved(
        &mut self,
        answer: Result<SocketAddr, String>,
        on_event: &mut impl FnMut(&MonitorEvent),
    ) {
        self.looking_up = false;
        match answer {
            Ok(addr) => {
                self.addr = Some(addr);
                self.told_unresolved = false;
                self.next_look_up = Instant::now() + LOOK_UP_AGAIN;
            }
            Err(why) => {
                // Asked again on the next probe's schedule, until it resolves.
                self.next_look_up = Instant::now();
                if !self.told_unresolved {
                    self.told_unresolved = true;
                    on_event(&MonitorEvent::Unresolved {
                        target: &self.spec,
                        why,
                    });
                }
            }
        }
    }

    /// Counts what was found, for the summary.
    pub(super) fn count(&mut self, found: &Found) {
        match found.outcome {
            Outcome::Echoed | Outcome::Connected => {
                self.echoed += 1;
                if let Some(rtt) = found.rtt {
                    self.rtts.record(rtt);
                }
            }
            Outcome::Corrupted if found.seq > 0 => self.corrupted += 1,
            Outcome::Refused => self.refused += 1,
            Outcome::TimedOut => self.timed_out += 1,
            Outcome::Lost | Outcome::Unresolved | Outcome::Failed => self.lost += 1,
            Outcome::Corrupted | Outcome::Late | Outcome::Duplicate | Outcome::Stray => {}
        }
    }

    /// Publishes what changes by itself: the time down, and the jitter.
    pub(super) fn publish(&self, metrics: &TargetMetrics, now: Instant) {
        metrics
            .down_seconds
            .set(self.health.down_for(now).as_secs_f64());
        if let Prober::Udp(udp) = &self.prober {
            if let Some(jitter) = udp.ledger.jitter_ms() {
                metrics.jitter.set(jitter / 1e3);
            }
        }
    }

    /// The target's statistics, as `ping` gives them.
    pub(super) fn finish(self, options: &MonitorOptions, seconds: Duration) -> Watched {
        let server = self
            .addr
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], self.spec.port)));
        let (latency_ms, _) = self.rtts.finish();
        let seconds = seconds.as_secs_f64();
        let report = match &self.prober {
            Prober::Tcp(tcp) => Report::Ping(PingReport {
                server,
                probe_bytes: options.size,
                sent: self.sent,
                echoed: self.echoed,
                lost: self.lost + self.refused + self.timed_out,
                corrupted: self.corrupted,
                reconnections: tcp.reconnections,
                seconds,
                latency_ms,
            }),
            Prober::Connect(_) => Report::Connect(ConnectReport {
                server,
                sent: self.sent,
                connected: self.echoed,
                refused: self.refused,
                timed_out: self.timed_out,
                failed: self.sent - self.echoed,
                seconds,
                latency_ms,
            }),
            Prober::Udp(udp) => Report::UdpPing(udp_ping::report_of(
                &udp.ledger,
                server,
                options.size,
                seconds,
                latency_ms,
                &options.path,
            )),
        };
        let now = Instant::now();
        Watched {
            target: self.spec,
            report,
            outages: self.health.outages(),
            down_for: self.health.down_for(now),
            up: self.health.is_up(),
        }
    }
}
