//! `soc_client bench --rate`: open-loop load, free of coordinated omission.
//!
//! A closed-loop generator sends a connection's next message only when the last echo is back, so
//! while the server is stuck it politely stops asking, and almost no sample records the stall.
//! Here every message has a time: RATE messages a second in total, spread over the connections,
//! each connection on its own evenly spaced schedule. A message goes out at its time whether or
//! not earlier echoes are back (on a byte stream they queue one after another and come back in
//! order), and a message its socket cannot take waits in the generator, that wait counting in its
//! latency. Three figures come out:
//! - latency: the echo's last byte minus the message's scheduled time (wrk2's corrected latency),
//!   what a client with a steady need would see;
//! - uncorrected latency: the same arrival minus the moment its first byte was written, what a
//!   tool that times from its own write reports;
//! - the generator's lateness: how long after its time it wrote a message whose socket could take
//!   it (timer and CPU, not the server). If that is not small, the run measured the generator.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use mio::{Events, Token};

use super::load::{measured_seconds, run_event_loops, server_gone_after, Run, Window};
use super::report::{Measured, RateReport};
use super::schedule::{Schedule, Turn};
use super::sockets::{Broken, Sockets, MAINTENANCE_INTERVAL};
use super::tally::Tally;
use super::Tick;
use crate::limits::Limit;
use crate::net::Target;
use crate::pattern::{self, Pattern};
use crate::signals::StopFlag;
use crate::sys::Alarm;

/// What an open-loop run does.
#[derive(Debug, Clone)]
pub struct RateOptions {
    /// Messages per second, over all connections.
    pub rate: f64,
    pub connections: usize,
    /// Bytes per message.
    pub size: usize,
    /// How long to measure, after the warm-up.
    pub duration: Duration,
    /// How long to run on the same schedule before measuring.
    pub warmup: Duration,
    /// An echo that makes no progress for this long while messages are outstanding is a
    /// timeout; after the measured time, it ends the wait for the last echoes.
    pub timeout: Limit,
    /// Event-loop threads driving the connections.
    pub threads: usize,
    /// Keep one histogram per second (for an interval log or a plot).
    pub intervals: bool,
}

/// Bytes queued at most per connection: messages due beyond them are made when there is room, so
/// memory stays bounded however long the server stalls.
const OUT_CAP: usize = 256 * 1024;

/// Runs open-loop load against `target` with `options` until the window ends or `stop` is
/// raised, waits for the echoes still on their way, and reports; `on_tick` is called about once
/// a second meanwhile.
pub fn rate(
    target: &Target,
    options: &RateOptions,
    stop: &StopFlag,
    on_tick: impl FnMut(&Tick),
) -> anyhow::Result<Measured<RateReport>> {
    let server = *target.addrs().first().context("no address to connect to")?;
    anyhow::ensure!(
        options.rate.is_finite() && options.rate > 0.0,
        "a rate must be more than 0 messages a second"
    );
    let window = Window::starting_now(options.warmup, options.duration);
    let start = SystemTime::now() + options.warmup;
    let run = Arc::new(Run::new(target, window, options.timeout, stop));
    let schedule = Schedule {
        start: window.started,
        rate: options.rate,
        connections: options.connections as u64,
    };
    let plan = Arc::new(Plan {
        schedule,
        size: options.size,
        intervals: options.intervals,
    });
    let tally = run_event_loops(
        &run,
        options.connections,
        options.threads,
        move |run, ids| EventLoop::new(run, Arc::clone(&plan), &ids)?.run(),
        on_tick,
    )?;
    let seconds = measured_seconds(&run);
    let counts = tally.schedule;
    let figures = tally.open_loop_figures(seconds);
    let report = RateReport {
        server: server.to_string(),
        connections: options.connections,
        connected: tally.connected,
        message_bytes: options.size,
        seconds,
        asked_rate: options.rate,
        sent_rate: figures.sent_rate,
        echoed_rate: figures.echoed_rate,
        due: counts.due,
        sent: counts.sent,
        unsent: counts.due - counts.sent,
        unechoed: counts.sent.saturating_sub(tally.round_trips),
        socket_waits: counts.socket_waits,
        round_trips: tally.round_trips,
        latency_ms: figures.latency_ms,
        uncorrected_latency_ms: figures.uncorrected_latency_ms,
        generator_lateness_ms: figures.generator_lateness_ms,
        fairness: tally.fairness,
        errors: tally.errors,
        server_gone_after: server_gone_after(&run),
    };
    Ok(Measured {
        report,
        histograms: tally.into_histograms(seconds, start, true),
    })
}

/// What the event loops of one open-loop run share besides the [`Run`].
struct Plan {
    schedule: Schedule,
    size: usize,
    intervals: bool,
}

/// One connection's share of the schedule, and the messages it has between the schedule and the
/// echo. Sequence numbers count the connection's messages from 0, over all its sockets.
struct Flow {
    /// The connection's number: its schedule and its bytes.
    id: u64,
    /// Its message before the sequence stamp (each connection's differs, so that an echo sent
    /// to the wrong connection can never pass the check).
    template: Vec<u8>,
    /// Messages whose time has come.
    due: u64,
    /// Messages copied into `out`.
    queued: u64,
    /// Messages written whole.
    sent: u64,
    /// Messages echoed whole: the next echo expected is message `echoed`.
    echoed: u64,
    /// Messages below this one became due while their socket could not take them.
    waited_until: u64,
    /// Messages below this one were due in the warm-up, and messages from this one on after the
    /// measured time: neither is measured.
    first_measured: u64,
    end: u64,
    out: Vec<u8>,
    out_at: usize,
    /// Bytes written and read on the current socket.
    written: u64,
    read: u64,
    /// When the first byte of each message started on this socket and not yet echoed went out.
    first_byte: VecDeque<Instant>,
    /// Message `echoed` as it must come back.
    expect: Vec<u8>,
    /// The socket said "would block" and has not said "writable" since.
    blocked: bool,
    /// Since when bytes have been outstanding with nothing moving, for the timeout.
    stalled_since: Option<Instant>,
    /// Round trips measured, over all of this connection's sockets.
    measured: u64,
}

impl Flow {
    /// Whether any message of this flow is on its way: written in part or whole, not echoed.
    fn outstanding(&self) -> bool {
        self.out_at < self.out.len() || !self.first_byte.is_empty()
    }

    /// Forgets what was on a socket that is gone: messages written whole and not echoed are lost,
    /// the others are made again on the next socket (their wait counts in their latency, not in
    /// the generator's lateness).
    fn reset(&mut self) {
        self.echoed = self.sent;
        self.queued = self.sent;
        self.waited_until = self.due;
        self.out.clear();
        self.out_at = 0;
        self.written = 0;
        self.read = 0;
        self.first_byte.clear();
        self.blocked = false;
        self.stalled_since = None;
    }
}

/// An event loop that drives a share of the connections on their schedule.
struct EventLoop {
    run: Arc<Run>,
    plan: Arc<Plan>,
    sockets: Sockets,
    flows: Vec<Flow>,
    tally: Tally,
    alarm: Alarm,
    alarm_token: Token,
    /// The next message due among this loop's flows: round `round`, flow `position`.
    /// The next message due, among this loop's flows.
    turn: Turn,
    /// False once the measured time is over: nothing more is written.
    sending: bool,
    /// Flows with messages just made due, to write.
    touched: Vec<usize>,
    buffer: Vec<u8>,
}

impl EventLoop {
    fn new(run: Arc<Run>, plan: Arc<Plan>, ids: &[usize]) -> anyhow::Result<Self> {
        let sockets = Sockets::new(ids.len())?;
        let alarm_token = Token(ids.len());
        let alarm = Alarm::new(sockets.poll.registry(), alarm_token)
            .context("could not create the send timer")?;
        let window = run.window;
        let schedule = plan.schedule;
        let flows = ids
            .iter()
            .map(|&id| {
                let id = id as u64;
                Flow {
                    id,
                    template: Pattern::new(id).take(plan.size),
                    due: 0,
                    queued: 0,
                    sent: 0,
                    echoed: 0,
                    waited_until: 0,
                    first_measured: schedule.first_at_or_after(id, window.measure_from),
                    end: schedule.first_at_or_after(id, window.end),
                    out: Vec::new(),
                    out_at: 0,
                    written: 0,
                    read: 0,
                    first_byte: VecDeque::new(),
                    expect: vec![0; plan.size],
                    blocked: false,
                    stalled_since: None,
                    measured: 0,
                }
            })
            .collect();
        Ok(EventLoop {
            tally: Tally::with_intervals(plan.intervals),
            run,
            plan,
            sockets,
            flows,
            alarm,
            alarm_token,
            turn: Turn::default(),
            sending: true,
            touched: Vec::new(),
            buffer: vec![0; 64 * 1024],
        })
    }

    fn run(mut self) -> anyhow::Result<Tally> {
        let mut connected = 0;
        for index in 0..self.flows.len() {
            if self.sockets.connect(index, &self.run, &mut self.tally) {
                connected += 1;
            }
        }
        self.tally.connected = connected;
        if connected > 0 || self.flows.is_empty() {
            self.send_on_schedule()?;
            self.wait_for_the_last_echoes()?;
        }
        if !self.run.gone.flag.is_requested() {
            self.sockets.close_cleanly();
        }
        self.count_schedule();
        Ok(self.tally)
    }

    /// Until the measured time ends: every message at its time.
    fn send_on_schedule(&mut self) -> anyhow::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut next_maintenance = Instant::now() + MAINTENANCE_INTERVAL;
        let mut errors_published = 0;
        let end = self.run.window.end;
        loop {
            let now = Instant::now();
            if self.run.interrupted() {
                return Ok(());
            }
            if now >= end {
                // All that fell due before the end is due, even where the loop woke late for
                // it: the lateness is the generator's, and counts, not a shorter schedule.
                self.make_due(end);
                return Ok(());
            }
            self.make_due(now);
            if now >= next_maintenance {
                self.maintain(now);
                next_maintenance = now + MAINTENANCE_INTERVAL;
                let total = self.tally.errors.total();
                self.run
                    .live
                    .errors
                    .fetch_add(total - errors_published, Ordering::Relaxed);
                errors_published = total;
            }
            let wake = self.next_due().min(next_maintenance).min(end);
            let wait = self
                .alarm
                .set(wake.saturating_duration_since(Instant::now()));
            self.poll(&mut events, wait)?;
        }
    }

    /// After the measured time: no more sending, and the echoes already sent get time to arrive
    /// as long as they keep coming (the timeout without progress ends the wait, and each
    /// connection still waiting then counts a timeout).
    fn wait_for_the_last_echoes(&mut self) -> anyhow::Result<()> {
        self.sending = false;
        for flow in &mut self.flows {
            // Sending stops: what was queued and not yet written is never sent.
            flow.out.truncate(flow.out_at);
            flow.stalled_since = flow.outstanding().then(Instant::now);
        }
        let mut events = Events::with_capacity(1024);
        loop {
            if self.run.interrupted() {
                return Ok(());
            }
            let now = Instant::now();
            let mut waiting = false;
            for index in 0..self.flows.len() {
                let flow = &self.flows[index];
                if !self.sockets.is_connected(index) || flow.sent == flow.echoed {
                    continue;
                }
                if let (Some(since), Some(limit)) =
                    (flow.stalled_since, self.run.timeout.as_option())
                {
                    if now.duration_since(since) > limit {
                        self.sockets.drop_broken(
                            index,
                            Broken::TimedOut,
                            &self.run,
                            &mut self.tally,
                        );
                        continue;
                    }
                }
                waiting = true;
            }
            if !waiting {
                return Ok(());
            }
            self.poll(&mut events, MAINTENANCE_INTERVAL)?;
        }
    }

    /// Polls for at most `wait`, and serves what it reports.
    fn poll(&mut self, events: &mut Events, wait: Duration) -> anyhow::Result<()> {
        match self.sockets.poll.poll(events, Some(wait)) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(err) => return Err(anyhow::Error::new(err).context("event loop failed")),
        }
        for event in events.iter() {
            if event.token() == self.alarm_token {
                self.alarm.clear();
                continue;
            }
            let index = event.token().0;
            let before = self.flows[index].echoed;
            let mut served = Ok(());
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                served = self.receive(index);
            }
            if served.is_ok() && event.is_writable() {
                self.flows[index].blocked = false;
                served = self.flush(index);
            }
            let done = self.flows[index].echoed - before;
            self.run.live.round_trips.fetch_add(done, Ordering::Relaxed);
            if let Err(broken) = served {
                self.drop_flow(index, broken);
            }
        }
        Ok(())
    }

    /// When this loop's next message is due (far away once the schedule is done).
    fn next_due(&self) -> Instant {
        self.flows
            .get(self.turn.position())
            .and_then(|flow| self.turn.due_at(&self.plan.schedule, flow.id, flow.end))
            .unwrap_or(self.run.window.end)
    }

    /// Makes due every message whose time has come, and writes what the sockets take.
    fn make_due(&mut self, now: Instant) {
        let schedule = self.plan.schedule;
        let mut touched = std::mem::take(&mut self.touched);
        while let Some(flow) = self.flows.get_mut(self.turn.position()) {
            if !self.turn.is_due(&schedule, flow.id, flow.end, now) {
                break;
            }
            let position = self.turn.position();
            flow.due += 1;
            if flow.blocked || !self.sockets.is_connected(position) {
                flow.waited_until = flow.due;
            } else if touched.last() != Some(&position) {
                touched.push(position);
            }
            self.turn.advance(self.flows.len());
        }
        for &index in &touched {
            if let Err(broken) = self.flush(index) {
                self.drop_flow(index, broken);
            }
        }
        touched.clear();
        self.touched = touched;
    }

    /// Copies due messages into the connection's queue (while it has room) and writes until the
    /// socket is full or the queue empty.
    fn flush(&mut self, index: usize) -> Result<(), Broken> {
        let schedule = self.plan.schedule;
        let Some(stream) = self.sockets.stream(index).filter(|_| self.sending) else {
            return Ok(());
        };
        let now = Instant::now();
        let flow = &mut self.flows[index];
        if flow.out_at == flow.out.len() {
            flow.out.clear();
            flow.out_at = 0;
        }
        while flow.queued < flow.due && flow.out.len() - flow.out_at < OUT_CAP {
            let k = flow.queued;
            // Only the measured time counts: the warm-up absorbs the start (connecting).
            if k >= flow.first_measured {
                if k < flow.waited_until {
                    self.tally.schedule.socket_waits += 1;
                } else {
                    let late = now.saturating_duration_since(schedule.at(flow.id, k));
                    self.tally.lateness.saturating_record(nanos(late));
                }
            }
            let at = flow.out.len();
            flow.out.extend_from_slice(&flow.template);
            pattern::stamp(&mut flow.out[at..], k);
            flow.queued += 1;
        }
        let size = flow.template.len() as u64;
        while flow.out_at < flow.out.len() && !flow.blocked {
            let before = Instant::now();
            match stream.write(&flow.out[flow.out_at..]) {
                Ok(0) => return Err(Broken::Reset),
                Ok(n) => {
                    if !flow.outstanding() {
                        flow.stalled_since = Some(before);
                    }
                    let (old, new) = (flow.written, flow.written + n as u64);
                    // Messages whose first byte is in this write start now.
                    for _ in old.div_ceil(size)..new.div_ceil(size) {
                        flow.first_byte.push_back(before);
                    }
                    flow.sent += new / size - old / size;
                    flow.written = new;
                    flow.out_at += n;
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => flow.blocked = true,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Broken::Reset),
            }
        }
        if flow.out_at > OUT_CAP {
            flow.out.drain(..flow.out_at);
            flow.out_at = 0;
        }
        Ok(())
    }

    /// Reads and checks every echo byte available; records each message whose echo is whole.
    fn receive(&mut self, index: usize) -> Result<(), Broken> {
        let before = self.flows[index].echoed;
        let received = self.read_echoes(index);
        let echoes = self.flows[index].echoed - before;
        self.sockets.echoed(index, echoes);
        received
    }

    fn read_echoes(&mut self, index: usize) -> Result<(), Broken> {
        let window = self.run.window;
        let schedule = self.plan.schedule;
        let Some(stream) = self.sockets.stream(index) else {
            return Ok(());
        };
        let flow = &mut self.flows[index];
        let size = flow.template.len() as u64;
        loop {
            let n = match stream.read(&mut self.buffer) {
                Ok(0) => return Err(Broken::Reset),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(Broken::Reset),
            };
            let arrived = Instant::now();
            let mut data = &self.buffer[..n];
            while !data.is_empty() {
                if flow.read >= flow.written {
                    // More came back than was sent.
                    return Err(Broken::Corrupted);
                }
                let offset = (flow.read % size) as usize;
                if offset == 0 {
                    flow.expect.copy_from_slice(&flow.template);
                    pattern::stamp(&mut flow.expect, flow.echoed);
                }
                let take = (size as usize - offset)
                    .min(data.len())
                    .min((flow.written - flow.read) as usize);
                if pattern::differing(&data[..take], &flow.expect[offset..offset + take]) > 0 {
                    return Err(Broken::Corrupted);
                }
                flow.read += take as u64;
                data = &data[take..];
                if offset + take < size as usize {
                    continue;
                }
                let k = flow.echoed;
                let first_byte = flow.first_byte.pop_front().unwrap_or(arrived);
                flow.echoed += 1;
                if arrived >= window.measure_from && arrived < window.end {
                    self.tally.schedule.echoed_in_window += 1;
                }
                if k >= flow.first_measured && k < flow.end {
                    let scheduled = schedule.at(flow.id, k);
                    flow.measured += 1;
                    self.tally
                        .uncorrected
                        .saturating_record(nanos(arrived - first_byte));
                    self.tally.record(
                        nanos(arrived.saturating_duration_since(scheduled)),
                        scheduled.saturating_duration_since(window.measure_from),
                    );
                }
            }
            flow.stalled_since = flow.outstanding().then_some(arrived);
        }
    }

    fn drop_flow(&mut self, index: usize, broken: Broken) {
        self.sockets
            .drop_broken(index, broken, &self.run, &mut self.tally);
        self.flows[index].reset();
    }

    /// Times out connections whose echo has not moved for the timeout, and reconnects dropped
    /// ones whose time has come.
    fn maintain(&mut self, now: Instant) {
        for index in 0..self.flows.len() {
            if self.sockets.is_connected(index) {
                let stalled = self.flows[index].stalled_since;
                if let (Some(since), Some(limit)) = (stalled, self.run.timeout.as_option()) {
                    if now.duration_since(since) > limit {
                        self.drop_flow(index, Broken::TimedOut);
                    }
                }
            } else if self.sockets.due_for_reconnect(index, now)
                && self.sockets.connect(index, &self.run, &mut self.tally)
            {
                if let Err(broken) = self.flush(index) {
                    self.drop_flow(index, broken);
                }
            }
        }
    }

    /// Adds up, per connection, what was due in the measured time and what became of it.
    fn count_schedule(&mut self) {
        for index in 0..self.flows.len() {
            let flow = &self.flows[index];
            let in_window =
                |count: u64| count.clamp(flow.first_measured, flow.end) - flow.first_measured;
            self.tally.schedule.due += in_window(flow.due);
            self.tally.schedule.sent += in_window(flow.sent);
            let measured = flow.measured;
            self.tally.count_connection(measured);
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
