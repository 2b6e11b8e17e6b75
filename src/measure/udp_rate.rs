//! `soc_client bench -u --rate`: open-loop datagrams, counted for what a path does to them.
//!
//! RATE datagrams a second in total, over the sockets, each socket on its own even schedule
//! (`Schedule`, as for TCP's `--rate`); a datagram goes out at its time, and
//! its latency counts from that time. Closed loop makes no sense over UDP: one lost datagram
//! would stall its socket for the timeout. Each echo is checked (its socket's bytes and its
//! sequence number) and counted once: echoed, late (after the timeout), duplicated, out of order
//! (after a later datagram's echo) or corrupted; a datagram with no echo within the timeout is
//! lost. After the measured time the run waits for the datagrams still awaited, the timeout at
//! most.

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

use super::load::{measured_seconds, run_event_loops, server_gone_after, Run, Window};
use super::report::{percent, DatagramCounts, Measured, UdpRateReport};
use super::schedule::{Schedule, Turn};
use super::sockets::MAINTENANCE_INTERVAL;
use super::tally::Tally;
use super::Tick;
use crate::limits::Limit;
use crate::net::{means_nothing_listens, NothingListening, Target, RECEIVE_BUFFER};
use crate::pattern::{self, Pattern};
use crate::signals::StopFlag;
use crate::sys::Alarm;

/// What an open-loop UDP run does.
#[derive(Debug, Clone)]
pub struct UdpRateOptions {
    /// Datagrams per second, over all sockets.
    pub rate: f64,
    pub sockets: usize,
    /// Bytes per datagram, at least 8 (its sequence number).
    pub size: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// How long a datagram's echo may take before the datagram is lost.
    pub timeout: Limit,
    pub threads: usize,
    /// Keep one histogram per second (for an interval log or a plot).
    pub intervals: bool,
}

/// Bytes of a datagram that carry its sequence number.
pub const SEQ_BYTES: usize = 8;

/// Runs open-loop UDP load against `target` until the window ends or `stop` is raised, waits for
/// the echoes still awaited, and reports; `on_tick` is called about once a second meanwhile.
pub fn udp_rate(
    target: &Target,
    options: &UdpRateOptions,
    stop: &StopFlag,
    on_tick: impl FnMut(&Tick),
) -> anyhow::Result<Measured<UdpRateReport>> {
    let server = *target.addrs().first().context("no address to send to")?;
    anyhow::ensure!(
        options.rate.is_finite() && options.rate > 0.0,
        "a rate must be more than 0 datagrams a second"
    );
    // Over UDP a datagram may never come back: without a timeout the run could not end.
    let timeout = options
        .timeout
        .as_option()
        .context("a UDP run needs a timeout above 0, after which a datagram is lost")?;
    let window = Window::starting_now(options.warmup, options.duration);
    let start = SystemTime::now() + options.warmup;
    let run = Arc::new(Run::new(target, window, options.timeout, stop));
    let plan = Arc::new(Plan {
        schedule: Schedule {
            start: window.started,
            rate: options.rate,
            connections: options.sockets as u64,
        },
        size: options.size.max(SEQ_BYTES),
        server,
        timeout,
        intervals: options.intervals,
    });
    let tally = run_event_loops(
        &run,
        options.sockets,
        options.threads,
        move |run, ids| DatagramLoop::new(run, Arc::clone(&plan), &ids)?.run(),
        on_tick,
    )?;
    let seconds = measured_seconds(&run);
    let (schedule, counts) = (tally.schedule, tally.datagrams);
    let figures = tally.open_loop_figures(seconds);
    let report = UdpRateReport {
        server: server.to_string(),
        sockets: options.sockets,
        datagram_bytes: options.size.max(SEQ_BYTES),
        seconds,
        asked_rate: options.rate,
        sent_rate: figures.sent_rate,
        echoed_rate: figures.echoed_rate,
        due: schedule.due,
        sent: schedule.sent,
        echoed: tally.round_trips,
        counts,
        loss_percent: percent(counts.lost, schedule.sent),
        socket_waits: schedule.socket_waits,
        latency_ms: figures.latency_ms,
        uncorrected_latency_ms: figures.uncorrected_latency_ms,
        generator_lateness_ms: figures.generator_lateness_ms,
        fairness: tally.fairness,
        server_gone_after: server_gone_after(&run),
    };
    Ok(Measured {
        report,
        histograms: tally.into_histograms(seconds, start, true),
    })
}

/// What the event loops of one run share besides the [`Run`].
struct Plan {
    schedule: Schedule,
    size: usize,
    server: SocketAddr,
    /// How long an echo may take.
    timeout: Duration,
    intervals: bool,
}

/// What is known of one datagram sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Awaited,
    Echoed,
    Lost,
    Late,
    /// Came back altered: neither lost nor measured.
    Corrupted,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    sent_at: Instant,
    state: State,
}

/// One socket's share of the schedule and what became of its datagrams.
struct Flow {
    id: u64,
    socket: UdpSocket,
    /// Its datagram, stamped with the sequence number of the one sent last (after the stamp,
    /// each socket's bytes differ).
    template: Vec<u8>,
    /// Datagrams whose time has come, and those sent (sequence numbers count from 0).
    due: u64,
    sent: u64,
    /// Datagrams below this one became due while the socket could not take them.
    waited_until: u64,
    /// Datagrams below this one were due in the warm-up; from `end` on, after the measured time.
    first_measured: u64,
    end: u64,
    blocked: bool,
    /// Datagrams `base..sent`, the oldest first.
    base: u64,
    /// Datagrams below this one are past the timeout: lost if no echo came.
    expired: u64,
    slots: VecDeque<Slot>,
    /// The highest sequence number echoed so far: an echo below it is out of order.
    highest_echoed: Option<u64>,
    measured: u64,
}

impl Flow {
    /// Whether `echo`, whose first bytes say it is datagram `seq`, came back intact: after
    /// the stamp every datagram of a socket is the same.
    fn is_intact(&self, echo: &[u8]) -> bool {
        echo.len() == self.template.len() && echo[SEQ_BYTES..] == self.template[SEQ_BYTES..]
    }

    /// Whether datagram `seq` was due in the measured time, so that what became of it counts.
    fn measures(&self, seq: u64) -> bool {
        seq >= self.first_measured && seq < self.end
    }

    fn awaited(&self) -> bool {
        self.slots.iter().any(|slot| slot.state == State::Awaited)
    }
}

/// An event loop that drives a share of the sockets on their schedule.
struct DatagramLoop {
    run: Arc<Run>,
    plan: Arc<Plan>,
    poll: Poll,
    flows: Vec<Flow>,
    tally: Tally,
    alarm: Alarm,
    alarm_token: Token,
    /// The next message due, among this loop's flows.
    turn: Turn,
    buffer: Vec<u8>,
}

impl DatagramLoop {
    fn new(run: Arc<Run>, plan: Arc<Plan>, ids: &[usize]) -> anyhow::Result<Self> {
        let poll = Poll::new().context("could not create an event loop")?;
        let any: SocketAddr = match plan.server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let window = run.window;
        let mut flows = Vec::with_capacity(ids.len());
        for (index, &id) in ids.iter().enumerate() {
            let mut socket = UdpSocket::bind(any).context("could not create a UDP socket")?;
            socket
                .connect(plan.server)
                .with_context(|| format!("could not send to udp {}", plan.server))?;
            poll.registry().register(
                &mut socket,
                Token(index),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            let id = id as u64;
            flows.push(Flow {
                id,
                socket,
                template: Pattern::new(id).take(plan.size),
                due: 0,
                sent: 0,
                waited_until: 0,
                first_measured: plan.schedule.first_at_or_after(id, window.measure_from),
                end: plan.schedule.first_at_or_after(id, window.end),
                blocked: false,
                base: 0,
                expired: 0,
                slots: VecDeque::new(),
                highest_echoed: None,
                measured: 0,
            });
        }
        let alarm_token = Token(ids.len());
        let alarm =
            Alarm::new(poll.registry(), alarm_token).context("could not create the send timer")?;
        Ok(DatagramLoop {
            tally: Tally::with_intervals(plan.intervals),
            run,
            plan,
            poll,
            flows,
            alarm,
            alarm_token,
            turn: Turn::default(),
            buffer: vec![0; RECEIVE_BUFFER],
        })
    }

    fn run(mut self) -> anyhow::Result<Tally> {
        self.tally.connected = self.flows.len();
        let mut events = Events::with_capacity(1024);
        let end = self.run.window.end;
        let mut next_maintenance = Instant::now() + MAINTENANCE_INTERVAL;
        loop {
            let now = Instant::now();
            if self.run.interrupted() {
                break;
            }
            if now >= end {
                // All that fell due before the end is due, even where the loop woke late for
                // it: the lateness is the generator's, and counts, not a shorter schedule.
                self.make_due(end);
                break;
            }
            self.make_due(now);
            if now >= next_maintenance {
                self.give_up_late(now);
                next_maintenance = now + MAINTENANCE_INTERVAL;
            }
            let wake = self.next_due().min(next_maintenance).min(end);
            let wait = self
                .alarm
                .set(wake.saturating_duration_since(Instant::now()));
            self.poll(&mut events, wait, true)?;
        }
        // The measured time is over: nothing more is sent; the datagrams awaited get the
        // timeout to come back.
        while !self.run.interrupted() && self.flows.iter().any(Flow::awaited) {
            self.give_up_late(Instant::now());
            if !self.flows.iter().any(Flow::awaited) {
                break;
            }
            self.poll(&mut events, MAINTENANCE_INTERVAL, false)?;
        }
        self.give_up_late(Instant::now());
        for index in 0..self.flows.len() {
            let flow = &self.flows[index];
            let in_window =
                |count: u64| count.clamp(flow.first_measured, flow.end) - flow.first_measured;
            self.tally.schedule.due += in_window(flow.due);
            self.tally.schedule.sent += in_window(flow.sent);
            let measured = flow.measured;
            self.tally.count_connection(measured);
        }
        Ok(self.tally)
    }

    fn poll(&mut self, events: &mut Events, wait: Duration, sending: bool) -> anyhow::Result<()> {
        match self.poll.poll(events, Some(wait)) {
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
            if event.is_readable() || event.is_error() {
                let before = self.tally.round_trips;
                self.receive(index)?;
                let done = self.tally.round_trips - before;
                self.run.live.round_trips.fetch_add(done, Ordering::Relaxed);
            }
            if event.is_writable() && sending {
                self.flows[index].blocked = false;
                self.send_due(index)?;
            }
        }
        Ok(())
    }

    fn next_due(&self) -> Instant {
        self.flows
            .get(self.turn.position())
            .and_then(|flow| self.turn.due_at(&self.plan.schedule, flow.id, flow.end))
            .unwrap_or(self.run.window.end)
    }

    /// Makes due every datagram whose time has come, and sends what the sockets take.
    fn make_due(&mut self, now: Instant) {
        let schedule = self.plan.schedule;
        while let Some(flow) = self.flows.get_mut(self.turn.position()) {
            if !self.turn.is_due(&schedule, flow.id, flow.end, now) {
                break;
            }
            let position = self.turn.position();
            flow.due += 1;
            if flow.blocked {
                flow.waited_until = flow.due;
            } else {
                // A send error here is the server's (nothing listens): it ends the run in
                // `receive`, which the system reports it to.
                let _ = self.send_due(position);
            }
            self.turn.advance(self.flows.len());
        }
    }

    /// Sends the datagrams due on socket `index`, until none is left or the socket is full.
    fn send_due(&mut self, index: usize) -> anyhow::Result<()> {
        let schedule = self.plan.schedule;
        let server = self.plan.server;
        let flow = &mut self.flows[index];
        while flow.sent < flow.due && !flow.blocked {
            let k = flow.sent;
            pattern::stamp(&mut flow.template, k);
            let datagram = &flow.template;
            let now = Instant::now();
            match flow.socket.send(datagram) {
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    flow.blocked = true;
                    break;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) if means_nothing_listens(&err) => {
                    return Err(self.nothing_listens(server));
                }
                // A datagram the system would not send is lost on the way.
                Err(err) => log::debug!("udp bench: could not send datagram {k}: {err}"),
            }
            if flow.measures(k) {
                if k < flow.waited_until {
                    self.tally.schedule.socket_waits += 1;
                } else {
                    let late = now.saturating_duration_since(schedule.at(flow.id, k));
                    self.tally.lateness.saturating_record(nanos(late));
                }
            }
            flow.slots.push_back(Slot {
                sent_at: now,
                state: State::Awaited,
            });
            flow.sent += 1;
        }
        Ok(())
    }

    /// Reads every echo available on socket `index`, checks it, and counts it.
    fn receive(&mut self, index: usize) -> anyhow::Result<()> {
        let window = self.run.window;
        let schedule = self.plan.schedule;
        let server = self.plan.server;
        let timeout = self.plan.timeout;
        loop {
            let flow = &mut self.flows[index];
            let len = match flow.socket.recv(&mut self.buffer) {
                Ok(len) => len,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) if means_nothing_listens(&err) => return Err(self.nothing_listens(server)),
                Err(err) => {
                    return Err(anyhow::Error::new(err)
                        .context(format!("could not receive from udp {server}")))
                }
            };
            let arrived = Instant::now();
            if arrived >= window.measure_from && arrived < window.end {
                self.tally.schedule.echoed_in_window += 1;
            }
            let echo = &self.buffer[..len];
            let seq = match echo.get(..SEQ_BYTES) {
                Some(bytes) => u64::from_be_bytes(bytes.try_into().expect("8 bytes")),
                None => u64::MAX,
            };
            if seq >= flow.sent {
                // Matches no datagram sent.
                self.tally.datagrams.corrupted += 1;
                continue;
            }
            // What became of datagrams due in the warm-up, or after the measured time, is not
            // counted (it is not measured).
            let measured = flow.measures(seq);
            let mut unmeasured = DatagramCounts::default();
            let counts = match measured {
                true => &mut self.tally.datagrams,
                false => &mut unmeasured,
            };
            let intact = flow.is_intact(echo);
            if seq < flow.base {
                // Its record is gone: an echo long past the timeout.
                match intact {
                    true => counts.late += 1,
                    false => counts.corrupted += 1,
                }
                continue;
            }
            let slot = &mut flow.slots[(seq - flow.base) as usize];
            if !intact {
                counts.corrupted += 1;
                match slot.state {
                    State::Awaited => slot.state = State::Corrupted,
                    State::Lost => {
                        // Not lost after all: it came back, altered.
                        slot.state = State::Corrupted;
                        counts.lost -= 1;
                    }
                    State::Echoed | State::Late | State::Corrupted => {}
                }
                continue;
            }
            match slot.state {
                State::Awaited if arrived.duration_since(slot.sent_at) > timeout => {
                    // Past the timeout, before the next look at the records declared it lost.
                    slot.state = State::Late;
                    counts.late += 1;
                }
                State::Awaited => {
                    slot.state = State::Echoed;
                    if flow.highest_echoed.is_some_and(|highest| seq < highest) {
                        counts.out_of_order += 1;
                    }
                    flow.highest_echoed = Some(flow.highest_echoed.map_or(seq, |h| h.max(seq)));
                    if measured {
                        flow.measured += 1;
                        let scheduled = schedule.at(flow.id, seq);
                        self.tally
                            .uncorrected
                            .saturating_record(nanos(arrived - slot.sent_at));
                        self.tally.record(
                            nanos(arrived.saturating_duration_since(scheduled)),
                            scheduled.saturating_duration_since(window.measure_from),
                        );
                    }
                }
                State::Lost => {
                    slot.state = State::Late;
                    counts.lost -= 1;
                    counts.late += 1;
                }
                State::Echoed | State::Late | State::Corrupted => counts.duplicated += 1,
            }
        }
    }

    /// Counts as lost the datagrams awaited past the timeout, and forgets the records no echo
    /// can change any more.
    fn give_up_late(&mut self, now: Instant) {
        let timeout = self.plan.timeout;
        for flow in &mut self.flows {
            // The records are in the order sent: those past the timeout are the oldest, and
            // those below `expired` were seen to already.
            while let Some(slot) = flow.slots.get_mut((flow.expired - flow.base) as usize) {
                if now.duration_since(slot.sent_at) <= timeout {
                    break;
                }
                if slot.state == State::Awaited {
                    slot.state = State::Lost;
                    if flow.measures(flow.expired) {
                        self.tally.datagrams.lost += 1;
                    }
                }
                flow.expired += 1;
            }
            // A record is kept a second timeout, to tell a duplicate or a late echo; an echo
            // after that counts late (see `receive`).
            while flow.slots.front().is_some_and(|slot| {
                slot.state != State::Awaited && now.duration_since(slot.sent_at) > timeout * 2
            }) {
                flow.slots.pop_front();
                flow.base += 1;
            }
        }
    }

    /// The server is not there: the error to end the loop with, and the run's signal.
    fn nothing_listens(&self, server: SocketAddr) -> anyhow::Error {
        self.run.gone.raise();
        anyhow::Error::new(NothingListening(server))
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
