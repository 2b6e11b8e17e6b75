//! `soc_client monitor`: probes every target continuously, on one event loop, until stopped.
//!
//! Each target is probed every interval, on its own even schedule, the targets' schedules offset
//! over the interval (`Schedule`, as `bench --rate` spreads its connections), so probes never go
//! out in a burst. A probe's round trip counts from its scheduled time: a target that stalls, or a
//! monitor held up, shows as latency, not as fewer probes. A target that does not resolve,
//! refuses or times out is reported and tried again on its schedule; none delays another (names
//! are looked up on a thread of their own, `resolver.rs`, and again from time to time, so that a
//! host that moved is followed).
//!
//! What each probe came to goes to the caller as a [`MonitorEvent`] (for the lines and the
//! NDJSON records), to the target's `Health` (up, down), and to the [`Published`] counters that
//! `--metrics` exposes.

mod health;
mod prober;
mod published;
mod resolver;
mod target;
mod watched;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use mio::{Events, Poll, Token, Waker};

pub use health::Change;
use prober::{Found, SLOTS};
pub use published::{Buckets, Published, TargetMetrics, LATENESS_BUCKETS, RTT_BUCKETS};
use resolver::Resolver;
pub use target::{targets_in, Proto, TargetSpec};
use watched::{new_target, settle, Target};

use super::record::ProbeRecord;
use super::report::Report;
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
    let mut wakes = Wakes::new(targets.len(), options)?;
    let mut watching: Vec<Target> = targets
        .iter()
        .enumerate()
        .map(|(index, spec)| new_target(index, spec, options))
        .collect();
    let Wakes { poll, resolver, .. } = &mut wakes;
    look_up_first(&mut watching, resolver, poll, &mut on_event)?;
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
    // One receive buffer for every target: the loop serves one socket at a time.
    let mut buffer = vec![0u8; crate::net::RECEIVE_BUFFER];
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
            target.probe(wakes.poll.registry(), index, scheduled, options, &mut found);
            settle(target, &published.targets[index], &mut found, &mut on_event);
            turn.advance(watching.len());
        }
        if now >= next_maintenance {
            let served = (options, published);
            maintain_all(
                &mut watching,
                &wakes,
                served,
                now,
                &mut found,
                &mut on_event,
            );
            next_maintenance = now + MAINTENANCE_INTERVAL;
        }
        for (index, answer) in wakes.resolver.answers() {
            watching[index].resolved(answer, &mut on_event);
        }
        let next_probe = turn
            .due_at(&schedule, turn.position() as u64, end)
            .filter(|_| sending)
            .unwrap_or(next_maintenance);
        let wake = next_probe.min(next_maintenance);
        let wait = wakes
            .alarm
            .set(wake.saturating_duration_since(Instant::now()));
        if let Err(err) = wakes.poll.poll(&mut events, Some(wait)) {
            match err.kind() {
                std::io::ErrorKind::Interrupted => continue,
                _ => return Err(anyhow::Error::new(err).context("event loop failed")),
            }
        }
        let (served, scratch) = ((options, published), (&mut buffer[..], &mut found));
        serve_events(
            &events,
            &mut watching,
            &mut wakes,
            served,
            scratch,
            &mut on_event,
        );
    }
    let now = Instant::now();
    Ok(watching
        .into_iter()
        .map(|target| target.finish(options, now.saturating_duration_since(started)))
        .collect())
}

/// What wakes the monitor's loop besides its sockets: the timer of the next probe, and the
/// resolver's answers.
struct Wakes {
    poll: Poll,
    waker_token: Token,
    alarm: Alarm,
    alarm_token: Token,
    resolver: Resolver,
}

impl Wakes {
    /// For `targets` targets, whose sockets take the tokens below these.
    fn new(targets: usize, options: &MonitorOptions) -> anyhow::Result<Wakes> {
        let poll = Poll::new().context("could not create an event loop")?;
        let waker_token = Token(targets * SLOTS);
        let alarm_token = Token(targets * SLOTS + 1);
        let waker = Arc::new(Waker::new(poll.registry(), waker_token)?);
        let resolver = Resolver::start(waker, options.path.family)?;
        let alarm =
            Alarm::new(poll.registry(), alarm_token).context("could not create the timer")?;
        Ok(Wakes {
            poll,
            waker_token,
            alarm,
            alarm_token,
            resolver,
        })
    }
}

/// Gives up on what is past its timeout in every target, asks for the lookups due, and publishes
/// each target's health.
fn maintain_all(
    watching: &mut [Target],
    wakes: &Wakes,
    (options, published): (&MonitorOptions, &Published),
    now: Instant,
    found: &mut Vec<Found>,
    on_event: &mut impl FnMut(&MonitorEvent),
) {
    let registry = wakes.poll.registry();
    for (index, target) in watching.iter_mut().enumerate() {
        target.maintain(registry, index, now, options, &wakes.resolver, found);
        settle(target, &published.targets[index], found, on_event);
        target.publish(&published.targets[index], now);
    }
}

/// Serves the sockets `events` say are ready; `buffer` is the loop's one receive buffer.
fn serve_events(
    events: &Events,
    watching: &mut [Target],
    wakes: &mut Wakes,
    (options, published): (&MonitorOptions, &Published),
    (buffer, found): (&mut [u8], &mut Vec<Found>),
    on_event: &mut impl FnMut(&MonitorEvent),
) {
    for event in events.iter() {
        let token = event.token();
        if token == wakes.alarm_token {
            wakes.alarm.clear();
            continue;
        }
        if token == wakes.waker_token {
            continue;
        }
        let (index, slot) = (token.0 / SLOTS, token.0 % SLOTS);
        let target = &mut watching[index];
        let registry = wakes.poll.registry();
        target.serve(registry, (index, slot), event, options, buffer, found);
        settle(target, &published.targets[index], found, on_event);
    }
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
