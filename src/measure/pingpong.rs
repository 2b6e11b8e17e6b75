//! `soc_client bench`: closed-loop round trips on many connections, driven by event loops.
//!
//! Each connection writes a message, reads until the whole message is back (however the bytes are
//! split), verifies it and repeats. Connections are driven by a few event-loop threads (mio,
//! edge-triggered), not a thread each, so that the generator's own cost per round trip stays well
//! below the server's and the numbers measure the server.

use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use mio::Events;

use super::load::{measured_seconds, run_event_loops, server_gone_after, Run, Window};
use super::report::{LatencyMs, Measured, PingPongReport};
use super::sockets::{Broken, Sockets, MAINTENANCE_INTERVAL};
use super::tally::{per_second, Tally};
use super::Tick;
use crate::limits::Limit;
use crate::net::Target;
use crate::signals::StopFlag;
use crate::wire::{self, Layout, Message};

/// What a ping-pong run does.
#[derive(Debug, Clone)]
pub struct PingPongOptions {
    /// Connections, each with one message in flight at a time.
    pub connections: usize,
    /// Bytes per message.
    pub size: usize,
    /// How long to measure, after the warm-up.
    pub duration: Duration,
    /// How long to run before measuring (connections set up, caches warm).
    pub warmup: Duration,
    /// A round trip that makes no progress for this long is a timeout.
    pub timeout: Limit,
    /// Event-loop threads driving the connections.
    pub threads: usize,
    /// Keep one histogram per second (for an interval log or a plot).
    pub intervals: bool,
}

/// Runs closed-loop ping-pong against `target` with `options` until the window ends or `stop` is
/// raised, calling `on_tick` about once a second meanwhile.
pub fn ping_pong(
    target: &Target,
    options: &PingPongOptions,
    stop: &StopFlag,
    on_tick: impl FnMut(&Tick),
) -> anyhow::Result<Measured<PingPongReport>> {
    let server = *target.addrs().first().context("no address to connect to")?;
    let window = Window::starting_now(options.warmup, options.duration);
    let start = SystemTime::now() + options.warmup;
    let run = Arc::new(Run::new(target, window, options.timeout, stop));
    let (size, intervals) = (options.size, options.intervals);
    let tally = run_event_loops(
        &run,
        options.connections,
        options.threads,
        move |run, ids| EventLoop::new(run, &ids, size, intervals)?.run(),
        on_tick,
    )?;
    let seconds = measured_seconds(&run);
    let report = PingPongReport {
        server: server.to_string(),
        connections: options.connections,
        connected: tally.connected,
        message_bytes: options.size,
        seconds,
        round_trips: tally.round_trips,
        round_trips_per_sec: per_second(tally.round_trips as f64, seconds),
        mb_per_sec_each_way: per_second(tally.round_trips as f64 * options.size as f64, seconds)
            / 1e6,
        latency_ms: LatencyMs::of(&tally.latency),
        fairness: tally.fairness,
        errors: tally.errors,
        server_gone_after: server_gone_after(&run),
    };
    Ok(Measured {
        report,
        histograms: Some(tally.into_histograms(seconds, start, false)),
    })
}

/// One connection's message in flight, and how much of it has gone out and come back.
struct Exchange {
    /// The connection's messages.
    messages: Message,
    /// The one in flight.
    message: Vec<u8>,
    echo: Vec<u8>,
    written: usize,
    read: usize,
    seq: u64,
    /// Round trips in the measured window, over all of this connection's sockets.
    measured: u64,
    sent_at: Instant,
    last_progress: Instant,
}

/// An event loop that drives a share of the connections, one message in flight on each.
struct EventLoop {
    run: Arc<Run>,
    sockets: Sockets,
    exchanges: Vec<Exchange>,
    tally: Tally,
}

impl EventLoop {
    /// A loop for the connections numbered `ids` (each connection's message differs, so that an
    /// echo sent to the wrong connection can never pass the check).
    fn new(run: Arc<Run>, ids: &[usize], size: usize, intervals: bool) -> anyhow::Result<Self> {
        let now = Instant::now();
        let exchanges = ids
            .iter()
            .map(|&id| Exchange {
                echo: vec![0; size],
                messages: Message::new(Layout::Stream, id as u64, size),
                message: vec![0; size],
                written: 0,
                read: 0,
                seq: 0,
                measured: 0,
                sent_at: now,
                last_progress: now,
            })
            .collect();
        Ok(Self {
            run,
            sockets: Sockets::new(ids.len())?,
            exchanges,
            tally: Tally::with_intervals(intervals),
        })
    }

    fn run(mut self) -> anyhow::Result<Tally> {
        let mut connected = 0;
        for index in 0..self.exchanges.len() {
            if self.connect(index) {
                connected += 1;
            }
        }
        self.tally.connected = connected;
        // Not one connection: the server is not there. Say so now rather than after the run.
        let give_up = connected == 0 && !self.exchanges.is_empty();
        let mut events = Events::with_capacity(1024);
        let mut next_maintenance = Instant::now() + MAINTENANCE_INTERVAL;
        let mut errors_published = 0;
        let window = self.run.window;
        loop {
            let now = Instant::now();
            if give_up || now >= window.end || self.run.interrupted() {
                break;
            }
            let wait = (window.end - now).min(MAINTENANCE_INTERVAL);
            match self.sockets.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(anyhow::Error::new(err).context("event loop failed")),
            }
            for event in events.iter() {
                let index = event.token().0;
                let before = self.exchanges[index].seq;
                if let Err(broken) = self.drive(index) {
                    self.sockets
                        .drop_broken(index, broken, &self.run, &mut self.tally);
                }
                let done = self.exchanges[index].seq - before;
                self.run.live.round_trips.fetch_add(done, Ordering::Relaxed);
            }
            if Instant::now() >= next_maintenance {
                self.maintain();
                next_maintenance = Instant::now() + MAINTENANCE_INTERVAL;
                let total = self.tally.errors.total();
                self.run
                    .live
                    .errors
                    .fetch_add(total - errors_published, Ordering::Relaxed);
                errors_published = total;
            }
        }
        if !self.run.gone.flag.is_requested() {
            self.sockets.close_cleanly();
        }
        for index in 0..self.exchanges.len() {
            let measured = self.exchanges[index].measured;
            self.tally.count_connection(measured);
        }
        Ok(self.tally)
    }

    /// Connects connection `index` and starts its first message; false if the connect failed.
    fn connect(&mut self, index: usize) -> bool {
        if !self.sockets.connect(index, &self.run, &mut self.tally) {
            return false;
        }
        self.start_message(index);
        if let Err(broken) = self.drive(index) {
            self.sockets
                .drop_broken(index, broken, &self.run, &mut self.tally);
        }
        true
    }

    fn start_message(&mut self, index: usize) {
        let exchange = &mut self.exchanges[index];
        // The sequence number makes a stale or repeated echo count as corrupted.
        exchange
            .messages
            .write(&mut exchange.message, exchange.seq, 0);
        exchange.written = 0;
        exchange.read = 0;
        let now = Instant::now();
        exchange.sent_at = now;
        exchange.last_progress = now;
    }

    /// Makes all the progress the socket allows: edge-triggered readiness means reading and
    /// writing until the kernel says "would block".
    fn drive(&mut self, index: usize) -> Result<(), Broken> {
        let window = self.run.window;
        loop {
            let exchange = &mut self.exchanges[index];
            let size = exchange.message.len();
            let Some(stream) = self.sockets.stream(index) else {
                return Ok(());
            };
            while exchange.written < size {
                match stream.write(&exchange.message[exchange.written..]) {
                    Ok(0) => return Err(Broken::Reset),
                    Ok(n) => {
                        exchange.written += n;
                        exchange.last_progress = Instant::now();
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Err(Broken::Reset),
                }
            }
            while exchange.read < size {
                match stream.read(&mut exchange.echo[exchange.read..]) {
                    Ok(0) => return Err(Broken::Reset),
                    Ok(n) => {
                        exchange.read += n;
                        exchange.last_progress = Instant::now();
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Err(Broken::Reset),
                }
            }
            if exchange.read < size {
                return Ok(());
            }
            let finished = Instant::now();
            if wire::differing(&exchange.echo, &exchange.message) > 0 {
                return Err(Broken::Corrupted);
            }
            exchange.seq += 1;
            self.sockets.echoed(index, 1);
            if exchange.sent_at >= window.measure_from && finished <= window.end {
                exchange.measured += 1;
                let nanos = finished.duration_since(exchange.sent_at).as_nanos();
                self.tally.record(
                    u64::try_from(nanos).unwrap_or(u64::MAX),
                    exchange.sent_at - window.measure_from,
                );
            }
            if finished >= window.end || self.run.stop.is_requested() {
                return Ok(());
            }
            self.start_message(index);
        }
    }

    /// Times out stalled round trips and reconnects dropped connections whose time has come.
    fn maintain(&mut self) {
        let now = Instant::now();
        for index in 0..self.exchanges.len() {
            if self.sockets.is_connected(index) {
                if let Some(limit) = self.run.timeout.as_option() {
                    if now.duration_since(self.exchanges[index].last_progress) > limit {
                        self.sockets.drop_broken(
                            index,
                            Broken::TimedOut,
                            &self.run,
                            &mut self.tally,
                        );
                    }
                }
            } else if self.sockets.due_for_reconnect(index, now) {
                self.connect(index);
            }
        }
    }
}
