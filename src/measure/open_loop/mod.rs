//! Open-loop load, free of coordinated omission: `bench --rate` over TCP and `bench -u --rate`
//! over UDP, one loop and two transports.
//!
//! A closed-loop generator sends a flow's next message only when the last echo is back, so while
//! the server is stuck it politely stops asking, and almost no sample records the stall. Here
//! every message has a time: RATE messages a second in total, spread over the flows (connections
//! or sockets), each flow on its own evenly spaced schedule (`Schedule`). A message goes out at
//! its time whether or not earlier echoes are back, and a message its socket cannot take waits in
//! the generator, that wait counting in its latency. Three figures come out:
//! - latency: the echo minus the message's scheduled time (wrk2's corrected latency), what a
//!   client with a steady need would see;
//! - uncorrected latency: the same arrival minus the moment the message started out, what a
//!   tool that times from its own write reports;
//! - the generator's lateness: how long after its time it sent a message its socket could take
//!   (timer and CPU, not the server). If that is not small, the run measured the generator.
//!
//! The loop (`EventLoop`) is written once: the schedule, the timer, the poll, making messages
//! due, the lateness and the counts, maintenance, and the wait for the last echoes. A
//! `Transport` supplies what differs: how a flow's socket is opened, sends and reads (`tcp.rs`,
//! a byte stream with its queue; `udp.rs`, datagrams and the UDP ledger). A fake transport tests
//! the loop without sockets.

mod tcp;
mod transport;
mod udp;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use mio::{Events, Token};

use super::load::{measured_seconds, run_event_loops, server_gone_after, Run, Window};
use super::schedule::{Schedule, Turn};
use super::sockets::MAINTENANCE_INTERVAL;
use super::tally::Tally;
use super::Tick;
use crate::limits::Limit;
use crate::net::Target;
use crate::signals::StopFlag;
use crate::sys::Alarm;

pub use tcp::rate;
pub(crate) use transport::{Flow, Recorder, Transport};
pub use udp::udp_rate;

/// What an open-loop run does, over TCP or UDP.
#[derive(Debug, Clone)]
pub struct RateOptions {
    /// Messages per second, over all flows.
    pub rate: f64,
    /// Flows: connections over TCP, sockets over UDP.
    pub flows: usize,
    /// Bytes per message.
    pub size: usize,
    /// How long to measure, after the warm-up.
    pub duration: Duration,
    /// How long to run on the same schedule before measuring.
    pub warmup: Duration,
    /// An echo that does not come for this long is a timeout (TCP: no progress while messages
    /// are outstanding; UDP: the datagram is lost); after the measured time, it bounds the wait
    /// for the last echoes.
    pub timeout: Limit,
    /// Event-loop threads driving the flows.
    pub threads: usize,
    /// Keep one histogram per second (for an interval log or a plot).
    pub intervals: bool,
}

/// The most messages a second one event-loop thread is given when soc chooses the threads: on a
/// busy 2-core machine one thread kept 5 000/s on time and was late at 10 000/s (its p99
/// lateness above 1 ms), two kept 10 000/s (docs/performance.md). Busy programs in the
/// generator's own session are another matter: they leave each of its threads a share no count
/// of threads makes up for (docs/testing.md).
const RATE_PER_THREAD: f64 = 5_000.0;

/// The event-loop threads an open-loop run of `rate` messages a second over `flows` flows needs
/// on this machine: one per `RATE_PER_THREAD`, no more than the cores or the flows.
pub fn threads_for(rate: f64, flows: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let wanted = (rate / RATE_PER_THREAD).ceil();
    let most = cores.min(flows).max(1);
    if wanted.is_finite() && wanted >= 1.0 {
        (wanted as usize).min(most)
    } else {
        1
    }
}

/// What a run's event loops measured, for its transport to report.
pub(crate) struct Driven {
    pub(crate) tally: Tally,
    pub(crate) seconds: f64,
    pub(crate) server_gone_after: Option<f64>,
    /// When the measured time began, by the wall clock.
    pub(crate) start: SystemTime,
}

/// Runs `options` against `target` with one event loop per thread, each over a transport that
/// `open` makes for its share of the flows, until the window ends or `stop` is raised.
pub(crate) fn drive<T: Transport + 'static>(
    target: &Target,
    options: &RateOptions,
    stop: &StopFlag,
    on_tick: impl FnMut(&Tick),
    open: impl Fn(&Run, &[usize]) -> anyhow::Result<T> + Send + Sync + 'static,
) -> anyhow::Result<Driven> {
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
        connections: options.flows as u64,
    };
    let intervals = options.intervals;
    let tally = run_event_loops(
        &run,
        options.flows,
        options.threads,
        move |run, ids| {
            let transport = open(&run, &ids)?;
            EventLoop::new(run, schedule, &ids, transport, intervals)?.run()
        },
        on_tick,
    )?;
    Ok(Driven {
        tally,
        seconds: measured_seconds(&run),
        server_gone_after: server_gone_after(&run),
        start,
    })
}

/// An event loop that drives a share of the flows on their schedule.
pub(crate) struct EventLoop<T> {
    run: Arc<Run>,
    schedule: Schedule,
    transport: T,
    flows: Vec<Flow>,
    tally: Tally,
    alarm: Alarm,
    alarm_token: Token,
    /// The next message due, among this loop's flows.
    turn: Turn,
    /// False once the measured time is over.
    sending: bool,
    /// Flows with messages just made due, to send.
    touched: Vec<usize>,
}

impl<T: Transport> EventLoop<T> {
    pub(crate) fn new(
        run: Arc<Run>,
        schedule: Schedule,
        ids: &[usize],
        mut transport: T,
        intervals: bool,
    ) -> anyhow::Result<Self> {
        let alarm_token = Token(ids.len());
        let alarm = Alarm::new(transport.poll().registry(), alarm_token)
            .context("could not create the send timer")?;
        let window = run.window;
        let flows = ids
            .iter()
            .map(|&id| {
                let id = id as u64;
                Flow {
                    id,
                    due: 0,
                    sent: 0,
                    waited_until: 0,
                    first_measured: schedule.first_at_or_after(id, window.measure_from),
                    end: schedule.first_at_or_after(id, window.end),
                    echoes: 0,
                    measured: 0,
                }
            })
            .collect();
        Ok(EventLoop {
            tally: Tally::with_intervals(intervals),
            run,
            schedule,
            transport,
            flows,
            alarm,
            alarm_token,
            turn: Turn::default(),
            sending: true,
            touched: Vec::new(),
        })
    }

    pub(crate) fn run(mut self) -> anyhow::Result<Tally> {
        let mut connected = 0;
        for (index, flow) in self.flows.iter().enumerate() {
            if self.transport.open(index, flow, &self.run, &mut self.tally) {
                connected += 1;
            }
        }
        self.tally.connected = connected;
        if connected > 0 || self.flows.is_empty() {
            self.send_on_schedule()?;
            self.wait_for_the_last_echoes()?;
        }
        self.transport.close(&self.run, &mut self.tally);
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

    /// After the measured time: no more sending, and the echoes already on their way get time to
    /// arrive while any is awaited, the timeout at most (each transport says how it gives up).
    fn wait_for_the_last_echoes(&mut self) -> anyhow::Result<()> {
        self.sending = false;
        for (index, flow) in self.flows.iter_mut().enumerate() {
            self.transport.stop_sending(index, flow);
        }
        let mut events = Events::with_capacity(1024);
        loop {
            if self.run.interrupted() {
                return Ok(());
            }
            let now = Instant::now();
            let mut waiting = false;
            for (index, flow) in self.flows.iter_mut().enumerate() {
                waiting |= self
                    .transport
                    .awaiting(index, now, flow, &self.run, &mut self.tally);
            }
            if !waiting {
                return Ok(());
            }
            self.poll(&mut events, MAINTENANCE_INTERVAL)?;
        }
    }

    /// Polls for at most `wait`, and serves what it reports.
    fn poll(&mut self, events: &mut Events, wait: Duration) -> anyhow::Result<()> {
        match self.transport.poll().poll(events, Some(wait)) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => return Ok(()),
            Err(err) => return Err(anyhow::Error::new(err).context("event loop failed")),
        }
        for event in events.iter() {
            if event.token() == self.alarm_token {
                self.alarm.clear();
                continue;
            }
            let index = event.token().0;
            let flow = &mut self.flows[index];
            let before = flow.echoes;
            let mut record = Recorder {
                schedule: &self.schedule,
                window: self.run.window,
                tally: &mut self.tally,
            };
            let served =
                self.transport
                    .serve(index, event, self.sending, flow, &self.run, &mut record);
            self.run
                .live
                .round_trips
                .fetch_add(flow.echoes - before, Ordering::Relaxed);
            if let Err(broken) = served {
                self.transport
                    .drop_flow(index, broken, flow, &self.run, &mut self.tally);
            }
        }
        Ok(())
    }

    /// When this loop's next message is due (the end of the window once its schedule is done).
    fn next_due(&self) -> Instant {
        self.flows
            .get(self.turn.position())
            .and_then(|flow| self.turn.due_at(&self.schedule, flow.id, flow.end))
            .unwrap_or(self.run.window.end)
    }

    /// Makes due every message whose time has come by `now`, and sends what the sockets take.
    fn make_due(&mut self, now: Instant) {
        let mut touched = std::mem::take(&mut self.touched);
        while let Some(flow) = self.flows.get_mut(self.turn.position()) {
            if !self.turn.is_due(&self.schedule, flow.id, flow.end, now) {
                break;
            }
            let position = self.turn.position();
            flow.due += 1;
            if !self.transport.ready(position) {
                flow.waited_until = flow.due;
            } else if touched.last() != Some(&position) {
                touched.push(position);
            }
            self.turn.advance(self.flows.len());
        }
        for &index in &touched {
            let flow = &mut self.flows[index];
            let mut record = Recorder {
                schedule: &self.schedule,
                window: self.run.window,
                tally: &mut self.tally,
            };
            if let Err(broken) = self.transport.send(index, flow, &mut record) {
                self.transport
                    .drop_flow(index, broken, flow, &self.run, &mut self.tally);
            }
        }
        touched.clear();
        self.touched = touched;
    }

    fn maintain(&mut self, now: Instant) {
        for (index, flow) in self.flows.iter_mut().enumerate() {
            let mut record = Recorder {
                schedule: &self.schedule,
                window: self.run.window,
                tally: &mut self.tally,
            };
            let maintained = self
                .transport
                .maintain(index, now, flow, &self.run, &mut record);
            if let Err(broken) = maintained {
                self.transport
                    .drop_flow(index, broken, flow, &self.run, &mut self.tally);
            }
        }
    }

    /// Adds up, per flow, what was due in the measured time and what became of it.
    fn count_schedule(&mut self) {
        for flow in &self.flows {
            let in_window =
                |count: u64| count.clamp(flow.first_measured, flow.end) - flow.first_measured;
            self.tally.schedule.due += in_window(flow.due);
            self.tally.schedule.sent += in_window(flow.sent);
            self.tally.count_connection(flow.measured);
        }
    }
}

#[cfg(test)]
mod tests;
