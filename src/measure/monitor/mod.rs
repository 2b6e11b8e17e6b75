//! `soc_client monitor`: probes every target continuously, on one event loop, until stopped.
//!
//! Each target is probed every interval, on its own even schedule, the targets' schedules offset
//! over the interval ([`Schedule`], as `bench --rate` spreads its connections), so probes never go
//! out in a burst. A probe's round trip counts from its scheduled time: a target that stalls, or a
//! monitor held up, shows as latency, not as fewer probes. A target that does not resolve,
//! refuses or times out is reported and tried again on its schedule; none delays another (names
//! are looked up on a thread of their own, `resolver.rs`, and again from time to time, so that a
//! host that moved is followed).
//!
//! What each probe came to goes to the caller as a [`MonitorEvent`] (for the lines and the
//! NDJSON records), to the target's [`Health`] (up, down), and to the [`Published`] counters that
//! `--metrics` exposes.

mod health;
mod prober;
mod published;
mod resolver;
mod target;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use mio::{Events, Poll, Token, Waker};

pub use health::Change;
use health::Health;
use prober::{Connects, Context, Datagrams, Found, Prober, TcpEcho, SLOTS};
pub use published::{Buckets, Published, TargetMetrics, LATENESS_BUCKETS, RTT_BUCKETS};
use resolver::Resolver;
pub use target::{targets_in, Proto, TargetSpec};

use super::path::PathReport;
use super::ping::RoundTrips;
use super::record::{Outcome, ProbeRecord};
use super::report::{percent, ConnectReport, PingReport, Report, UdpPingReport};
use super::schedule::{Schedule, Turn};
use crate::signals::StopFlag;
use crate::sys::Alarm;

/// How often probes past their timeout are given up on, targets' health is published, and due
/// lookups asked for.
const MAINTENANCE_INTERVAL: Duration = Duration::from_millis(20);

/// How often a target named by a host name is looked up again, to follow a host that moved.
const LOOK_UP_AGAIN: Duration = Duration::from_secs(60);

/// How long the first lookups may hold up the start (those that take longer are used when they
/// come; their targets' probes fail meanwhile).
const FIRST_LOOK_UP: Duration = Duration::from_secs(1);

/// What a monitor does.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
    /// From one probe of a target to its next.
    pub interval: Duration,
    /// How long a probe's answer may take before it is lost.
    pub timeout: Duration,
    /// Payload bytes of an echo probe (TCP and UDP).
    pub size: usize,
    /// A target is down after this many probes in a row failed.
    pub down_after: u32,
    /// Probes per target, then the run ends; `None` runs until stopped.
    pub count: Option<u64>,
    /// What every probe's packets ask of the path (marking, source, family).
    pub path: crate::net::PathOptions,
}

/// What a monitor reports as it goes.
#[derive(Debug)]
pub enum MonitorEvent<'a> {
    /// What a probe of `target` came to (and why, for a failure).
    Probe {
        target: &'a TargetSpec,
        record: ProbeRecord,
        detail: Option<String>,
    },
    /// `target` went down, or came back up.
    Health {
        target: &'a TargetSpec,
        change: Change,
        time: SystemTime,
    },
    /// `target`'s name did not resolve (said once, until it does).
    Unresolved { target: &'a TargetSpec, why: String },
}

/// What a monitor found for each target, when it stopped.
#[derive(Debug)]
pub struct Watched {
    pub target: TargetSpec,
    /// Its statistics, as `ping` gives them for its kind of probe.
    pub report: Report,
    pub outages: u64,
    pub down_for: Duration,
    pub up: bool,
}

/// One target on the loop.
struct Target {
    spec: TargetSpec,
    addr: Option<SocketAddr>,
    /// A host name, to look up again now and then (an address stays as it is).
    named: bool,
    next_look_up: Instant,
    looking_up: bool,
    told_unresolved: bool,
    prober: Prober,
    health: Health,
    rtts: RoundTrips,
    /// What the summary counts (UDP's are the ledger's).
    sent: u64,
    echoed: u64,
    lost: u64,
    corrupted: u64,
    refused: u64,
    timed_out: u64,
}

/// Probes `targets` with `options` until `stop` is raised (or each has sent `options.count`
/// probes and has its answers), telling each event to `on_event` and publishing counts to
/// `published` (one [`TargetMetrics`] per target, in order); returns what it found.
pub fn run(
    targets: &[TargetSpec],
    options: &MonitorOptions,
    stop: &StopFlag,
    published: &Published,
    mut on_event: impl FnMut(&MonitorEvent),
) -> anyhow::Result<Vec<Watched>> {
    anyhow::ensure!(!targets.is_empty(), "no target to monitor");
    anyhow::ensure!(
        !options.interval.is_zero(),
        "the interval must be more than 0 s"
    );
    let mut poll = Poll::new().context("could not create an event loop")?;
    let waker_token = Token(targets.len() * SLOTS);
    let alarm_token = Token(targets.len() * SLOTS + 1);
    let waker = Arc::new(Waker::new(poll.registry(), waker_token)?);
    let resolver = Resolver::start(waker, options.path.family)?;
    let mut alarm =
        Alarm::new(poll.registry(), alarm_token).context("could not create the timer")?;
    let mut watching: Vec<Target> = targets
        .iter()
        .enumerate()
        .map(|(index, spec)| new_target(index, spec, options))
        .collect();
    look_up_first(&mut watching, &resolver, &mut poll, &mut on_event)?;
    let started = Instant::now();
    let schedule = Schedule {
        start: started,
        rate: targets.len() as f64 / options.interval.as_secs_f64(),
        connections: targets.len() as u64,
    };
    let end = options.count.unwrap_or(u64::MAX);
    let mut turn = Turn::default();
    let mut events = Events::with_capacity(1024);
    let mut found = Vec::new();
    let mut next_maintenance = started;
    loop {
        let now = Instant::now();
        let next_due = turn.due_at(&schedule, turn.position() as u64, end);
        let sending = !stop.is_requested() && next_due.is_some();
        if !sending && (stop.is_requested() || !watching.iter().any(|t| t.prober.awaiting())) {
            break;
        }
        // Every probe whose time has come, in the schedule's order.
        while let Some(scheduled) = next_due_by(&turn, &schedule, end, now).filter(|_| sending) {
            let index = turn.position();
            published
                .lateness
                .observe(now.saturating_duration_since(scheduled));
            published.targets[index].sent.add(1);
            let target = &mut watching[index];
            target.probe(poll.registry(), index, scheduled, options, &mut found);
            settle(target, &published.targets[index], &mut found, &mut on_event);
            turn.advance(watching.len());
        }
        if now >= next_maintenance {
            for (index, target) in watching.iter_mut().enumerate() {
                target.maintain(poll.registry(), index, now, options, &resolver, &mut found);
                settle(target, &published.targets[index], &mut found, &mut on_event);
                target.publish(&published.targets[index], now);
            }
            next_maintenance = now + MAINTENANCE_INTERVAL;
        }
        for (index, answer) in resolver.answers() {
            watching[index].resolved(answer, &mut on_event);
        }
        let next_probe = turn
            .due_at(&schedule, turn.position() as u64, end)
            .filter(|_| sending)
            .unwrap_or(next_maintenance);
        let wake = next_probe.min(next_maintenance);
        let wait = alarm.set(wake.saturating_duration_since(Instant::now()));
        match poll.poll(&mut events, Some(wait)) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(anyhow::Error::new(err).context("event loop failed")),
        }
        for event in events.iter() {
            let token = event.token();
            if token == alarm_token {
                alarm.clear();
                continue;
            }
            if token == waker_token {
                continue;
            }
            let (index, slot) = (token.0 / SLOTS, token.0 % SLOTS);
            let target = &mut watching[index];
            let mut cx = Context {
                registry: poll.registry(),
                token: index * SLOTS,
                timeout: options.timeout,
                path: &options.path,
                found: &mut found,
            };
            target.prober.serve(&mut cx, slot, event);
            settle(target, &published.targets[index], &mut found, &mut on_event);
        }
    }
    let now = Instant::now();
    Ok(watching
        .into_iter()
        .map(|target| target.finish(options, now.saturating_duration_since(started)))
        .collect())
}

/// When the next probe in `turn` is due, if it is due by `now`.
fn next_due_by(turn: &Turn, schedule: &Schedule, end: u64, now: Instant) -> Option<Instant> {
    turn.due_at(schedule, turn.position() as u64, end)
        .filter(|at| *at <= now)
}

/// Asks for every name's address, and waits for the answers (for [`FIRST_LOOK_UP`] at most), so
/// that the first probes go to an address rather than fail for the lack of one.
fn look_up_first(
    watching: &mut [Target],
    resolver: &Resolver,
    poll: &mut Poll,
    on_event: &mut impl FnMut(&MonitorEvent),
) -> anyhow::Result<()> {
    let deadline = Instant::now() + FIRST_LOOK_UP;
    for (index, target) in watching.iter_mut().enumerate() {
        if target.named {
            resolver.ask(index, &target.spec.host, target.spec.port);
            target.looking_up = true;
        }
    }
    let mut events = Events::with_capacity(16);
    while watching.iter().any(|target| target.looking_up) {
        for (index, answer) in resolver.answers() {
            watching[index].resolved(answer, on_event);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match poll.poll(&mut events, Some(left)) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(anyhow::Error::new(err).context("event loop failed")),
        }
    }
    Ok(())
}

fn new_target(index: usize, spec: &TargetSpec, options: &MonitorOptions) -> Target {
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
        rtts: RoundTrips::new(false),
        sent: 0,
        echoed: 0,
        lost: 0,
        corrupted: 0,
        refused: 0,
        timed_out: 0,
    }
}

/// Tells, counts and judges what `target`'s prober found.
fn settle(
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
    fn probe(
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
        let mut cx = Context {
            registry,
            token: index * SLOTS,
            timeout: options.timeout,
            path: &options.path,
            found,
        };
        self.prober.probe(&mut cx, seq, scheduled, addr);
    }

    fn maintain(
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
        let mut cx = Context {
            registry,
            token: index * SLOTS,
            timeout: options.timeout,
            path: &options.path,
            found,
        };
        self.prober.maintain(&mut cx, now);
    }

    /// A lookup's answer came.
    fn resolved(
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
    fn count(&mut self, found: &Found) {
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
    fn publish(&self, metrics: &TargetMetrics, now: Instant) {
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
    fn finish(self, options: &MonitorOptions, seconds: Duration) -> Watched {
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
            Prober::Udp(udp) => {
                let counts = udp.ledger.counts();
                Report::UdpPing(UdpPingReport {
                    server,
                    probe_bytes: options.size,
                    sent: counts.sent,
                    echoed: counts.echoed,
                    lost: counts.lost,
                    late: counts.late,
                    duplicates: counts.duplicates,
                    out_of_order: counts.out_of_order,
                    corrupted: counts.corrupted,
                    loss_percent: percent(counts.lost, counts.sent),
                    seconds,
                    latency_ms,
                    jitter_ms: udp.ledger.jitter_ms(),
                    path: PathReport::new(&options.path, udp.ledger.path_seen().clone()),
                })
            }
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
