//! `soc_client bench`: closed-loop round trips on many connections, driven by event loops.
//!
//! Each connection writes a message, reads until the whole message is back (however the bytes are
//! split), verifies it and repeats. Connections are driven by a few event-loop threads (mio,
//! edge-triggered), not a thread each, so that the generator's own cost per round trip stays well
//! below the server's and the numbers measure the server.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use mio::{Events, Interest, Poll, Token};

use super::report::PingPongReport;
use super::tally::Tally;
use super::Tick;
use crate::client::Target;
use crate::limits::Limit;
use crate::pattern::{self, Pattern};
use crate::signals::StopFlag;

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
}

impl Default for PingPongOptions {
    fn default() -> Self {
        Self {
            connections: 50,
            size: 64,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            timeout: Limit::After(Duration::from_secs(10)),
            threads: 1,
        }
    }
}

/// How often the event loops look for stalled connections and due reconnects, and how long they
/// wait between reconnect attempts.
const MAINTENANCE_INTERVAL: Duration = Duration::from_millis(100);

/// How often `on_tick` is called while the run goes on.
const TICK: Duration = Duration::from_secs(1);

/// How long the connections may take, at the end, to give back their last echo and close.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The measuring window, shared by all event loops.
#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
}

/// Raised by the first event loop whose reconnect is refused after the server was there: every
/// loop stops at once, and the report says when.
#[derive(Default)]
struct ServerGone {
    flag: StopFlag,
    at: Mutex<Option<Instant>>,
}

impl ServerGone {
    fn raise(&self) {
        let mut at = self
            .at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        at.get_or_insert_with(Instant::now);
        self.flag.request();
    }

    fn at(&self) -> Option<Instant> {
        *self
            .at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What the event loops publish while they run, for the ticks.
#[derive(Default)]
struct Live {
    round_trips: AtomicU64,
    errors: AtomicU64,
}

/// What every event loop of one run shares: the plan, and the signals between them.
struct Run {
    target: Target,
    options: PingPongOptions,
    window: Window,
    stop: StopFlag,
    gone: ServerGone,
    live: Live,
}

/// Runs closed-loop ping-pong against `target` with `options` until the window ends or `stop` is
/// raised, calling `on_tick` about once a second meanwhile.
pub fn ping_pong(
    target: &Target,
    options: &PingPongOptions,
    stop: &StopFlag,
    mut on_tick: impl FnMut(&Tick),
) -> anyhow::Result<PingPongReport> {
    let server = *target.addrs().first().context("no address to connect to")?;
    let threads = options.threads.clamp(1, options.connections.max(1));
    let started = Instant::now();
    let window = Window {
        measure_from: started + options.warmup,
        end: started + options.warmup + options.duration,
    };
    let run = Arc::new(Run {
        target: target.clone(),
        options: options.clone(),
        window,
        stop: stop.clone(),
        gone: ServerGone::default(),
        live: Live::default(),
    });
    // Raised when the last event loop has ended (window over, stop requested, or no connection
    // possible), so that the ticks end with them.
    let all_done = StopFlag::new();
    let running = Arc::new(AtomicU64::new(threads as u64));
    let workers: Vec<_> = (0..threads)
        .map(|worker| {
            let ids: Vec<usize> = (worker..options.connections).step_by(threads).collect();
            let run = Arc::clone(&run);
            let (running, all_done) = (Arc::clone(&running), all_done.clone());
            thread::Builder::new()
                .name(format!("bench {worker}"))
                .spawn(move || {
                    let tally = EventLoop::new(run, &ids).and_then(EventLoop::run);
                    if running.fetch_sub(1, Ordering::SeqCst) == 1 {
                        all_done.request();
                    }
                    tally
                })
                .context("could not start a load thread")
        })
        .collect::<anyhow::Result<_>>()?;

    loop {
        let left = window.end.saturating_duration_since(Instant::now());
        if left.is_zero() || all_done.sleep(left.min(TICK)) {
            break;
        }
        on_tick(&Tick {
            elapsed: started.elapsed(),
            round_trips: run.live.round_trips.load(Ordering::Relaxed),
            errors: run.live.errors.load(Ordering::Relaxed),
            warming_up: Instant::now() < window.measure_from,
        });
    }

    let mut tally = Tally::new();
    for worker in workers {
        let outcome = worker
            .join()
            .map_err(|_| anyhow!("a load thread panicked"))??;
        tally.merge(outcome)?;
    }
    if tally.connected == 0 {
        if let Some(err) = tally.connect_error.take() {
            return Err(err);
        }
    }
    let gone_at = run.gone.at();
    let measured_until = Instant::now()
        .min(window.end)
        .min(gone_at.unwrap_or(window.end));
    let seconds = measured_until
        .saturating_duration_since(window.measure_from)
        .as_secs_f64();
    let per_sec = |count: f64| if seconds > 0.0 { count / seconds } else { 0.0 };
    Ok(PingPongReport {
        server: server.to_string(),
        connections: options.connections,
        connected: tally.connected,
        message_bytes: options.size,
        seconds,
        round_trips: tally.round_trips,
        round_trips_per_sec: per_sec(tally.round_trips as f64),
        mb_per_sec_each_way: per_sec(tally.round_trips as f64 * options.size as f64) / 1e6,
        latency_ms: tally.latency_ms(),
        fairness: tally.fairness,
        errors: tally.errors,
        server_gone_after: gone_at.map(|at| {
            at.saturating_duration_since(window.measure_from)
                .as_secs_f64()
        }),
    })
}

/// One connection's state: the message in flight and how much of it has gone out and come back.
struct Connection {
    stream: Option<mio::net::TcpStream>,
    message: Vec<u8>,
    echo: Vec<u8>,
    written: usize,
    read: usize,
    seq: u64,
    /// Round trips in the measured window, over all of this connection's sockets.
    measured: u64,
    /// Round trips on the current socket: 0 when the server closes it means "closed at once".
    on_this_socket: u64,
    sent_at: Instant,
    last_progress: Instant,
    retry_at: Option<Instant>,
}

/// Why a connection had to be dropped.
enum Broken {
    Reset,
    Corrupted,
}

/// An event loop that drives a share of the connections.
struct EventLoop {
    run: Arc<Run>,
    poll: Poll,
    connections: Vec<Connection>,
    tally: Tally,
    /// Whether any connection of this loop ever got through.
    ever_connected: bool,
}

impl EventLoop {
    /// A loop for the connections numbered `ids` (each connection's message differs, so that an
    /// echo sent to the wrong connection can never pass the check).
    fn new(run: Arc<Run>, ids: &[usize]) -> anyhow::Result<Self> {
        let now = Instant::now();
        let size = run.options.size;
        let connections = ids
            .iter()
            .map(|&id| Connection {
                stream: None,
                echo: vec![0; size],
                message: Pattern::new(id as u64).take(size),
                written: 0,
                read: 0,
                seq: 0,
                measured: 0,
                on_this_socket: 0,
                sent_at: now,
                last_progress: now,
                retry_at: None,
            })
            .collect();
        Ok(Self {
            run,
            poll: Poll::new().context("could not create an event loop")?,
            connections,
            tally: Tally::new(),
            ever_connected: false,
        })
    }

    fn run(mut self) -> anyhow::Result<Tally> {
        let mut connected = 0;
        for index in 0..self.connections.len() {
            if self.connect(index) {
                connected += 1;
            }
        }
        self.tally.connected = connected;
        // Not one connection: the server is not there. Say so now rather than after the run.
        let give_up = connected == 0 && !self.connections.is_empty();
        let mut events = Events::with_capacity(1024);
        let mut next_maintenance = Instant::now() + MAINTENANCE_INTERVAL;
        let mut errors_published = 0;
        let window = self.run.window;
        loop {
            let now = Instant::now();
            if give_up
                || now >= window.end
                || self.run.stop.is_requested()
                || self.run.gone.flag.is_requested()
            {
                break;
            }
            let wait = (window.end - now).min(MAINTENANCE_INTERVAL);
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(anyhow::Error::new(err).context("event loop failed")),
            }
            for event in events.iter() {
                let index = event.token().0;
                let before = self.connections[index].seq;
                if let Err(broken) = self.drive(index) {
                    self.drop_connection(index, broken);
                }
                let done = self.connections[index].seq - before;
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
            self.close_cleanly();
        }
        for index in 0..self.connections.len() {
            let measured = self.connections[index].measured;
            self.tally.count_connection(measured);
        }
        Ok(self.tally)
    }

    /// Connects connection `index` and starts its first message; false if the connect failed.
    fn connect(&mut self, index: usize) -> bool {
        let attempt = self.run.target.connect().and_then(|stream| {
            stream
                .set_nonblocking(true)
                .context("could not make the socket non-blocking")?;
            Ok(stream)
        });
        let mut stream = match attempt {
            Ok(stream) => mio::net::TcpStream::from_std(stream),
            Err(err) => {
                log::debug!("bench: {err:#}");
                let now = Instant::now();
                let errors = &mut self.tally.errors;
                if err.downcast_ref::<crate::net::SelfConnection>().is_some() {
                    errors.self_connections += 1;
                } else {
                    errors.connect_failures += 1;
                    if now >= self.run.window.measure_from {
                        errors.after_warmup += 1;
                    }
                    let refused = err
                        .root_cause()
                        .downcast_ref::<io::Error>()
                        .is_some_and(|io| io.kind() == io::ErrorKind::ConnectionRefused);
                    if refused && self.ever_connected {
                        // It was there and now nothing listens: measuring on would measure
                        // reconnect attempts (or, worse, sockets connected to themselves).
                        self.run.gone.raise();
                    }
                }
                self.tally.connect_error = Some(err);
                self.connections[index].retry_at = Some(now + MAINTENANCE_INTERVAL);
                return false;
            }
        };
        self.ever_connected = true;
        if let Err(err) = self.poll.registry().register(
            &mut stream,
            Token(index),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::debug!("bench: could not register a connection: {err}");
            self.tally.errors.connect_failures += 1;
            self.connections[index].retry_at = Some(Instant::now() + MAINTENANCE_INTERVAL);
            return false;
        }
        let connection = &mut self.connections[index];
        connection.stream = Some(stream);
        connection.retry_at = None;
        connection.on_this_socket = 0;
        self.start_message(index);
        if let Err(broken) = self.drive(index) {
            self.drop_connection(index, broken);
        }
        true
    }

    fn start_message(&mut self, index: usize) {
        let connection = &mut self.connections[index];
        // The sequence number makes a stale or repeated echo count as corrupted.
        pattern::stamp(&mut connection.message, connection.seq);
        connection.written = 0;
        connection.read = 0;
        let now = Instant::now();
        connection.sent_at = now;
        connection.last_progress = now;
    }

    /// Makes all the progress the socket allows: edge-triggered readiness means reading and
    /// writing until the kernel says "would block".
    fn drive(&mut self, index: usize) -> Result<(), Broken> {
        let size = self.run.options.size;
        let window = self.run.window;
        loop {
            let connection = &mut self.connections[index];
            let Some(stream) = connection.stream.as_mut() else {
                return Ok(());
            };
            while connection.written < size {
                match stream.write(&connection.message[connection.written..]) {
                    Ok(0) => return Err(Broken::Reset),
                    Ok(n) => {
                        connection.written += n;
                        connection.last_progress = Instant::now();
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Err(Broken::Reset),
                }
            }
            while connection.read < size {
                match stream.read(&mut connection.echo[connection.read..]) {
                    Ok(0) => return Err(Broken::Reset),
                    Ok(n) => {
                        connection.read += n;
                        connection.last_progress = Instant::now();
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Err(Broken::Reset),
                }
            }
            if connection.read < size {
                return Ok(());
            }
            let finished = Instant::now();
            if connection.echo != connection.message {
                return Err(Broken::Corrupted);
            }
            connection.seq += 1;
            connection.on_this_socket += 1;
            if connection.sent_at >= window.measure_from && finished <= window.end {
                connection.measured += 1;
                let nanos = finished.duration_since(connection.sent_at).as_nanos();
                self.tally.record(u64::try_from(nanos).unwrap_or(u64::MAX));
            }
            if finished >= window.end || self.run.stop.is_requested() {
                return Ok(());
            }
            self.start_message(index);
        }
    }

    fn drop_connection(&mut self, index: usize, broken: Broken) {
        let errors = &mut self.tally.errors;
        match broken {
            Broken::Reset => {
                errors.resets += 1;
                if self.connections[index].on_this_socket == 0 {
                    errors.closed_at_once += 1;
                }
                if Instant::now() >= self.run.window.measure_from {
                    errors.after_warmup += 1;
                }
            }
            Broken::Corrupted => {
                errors.corrupted += 1;
                log::warn!("bench: corrupted echo on connection {index}");
            }
        }
        self.close(index);
        // Reconnect at the next maintenance pass: a server that resets every connection must
        // not turn the loop into a connect storm.
        self.connections[index].retry_at = Some(Instant::now());
    }

    /// Takes connection `index`'s socket out of the loop, which closes it.
    fn close(&mut self, index: usize) {
        if let Some(mut stream) = self.connections[index].stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
    }

    /// Ends every connection the way a well-behaved client does: a half-close, then reading
    /// until the server's end of stream (its last echo included), so that the server sees a
    /// clean close, not a reset, and counts no client as failed. Bounded by [`CLOSE_GRACE`].
    fn close_cleanly(&mut self) {
        let deadline = Instant::now() + CLOSE_GRACE;
        let mut open = 0;
        for connection in &mut self.connections {
            if let Some(stream) = connection.stream.as_mut() {
                let _ = stream.shutdown(std::net::Shutdown::Write);
                open += 1;
            }
        }
        let mut events = Events::with_capacity(1024);
        // First pass over all: what is already waiting gives no new readiness edge.
        let mut ready: Vec<usize> = (0..self.connections.len()).collect();
        while open > 0 {
            for index in ready.drain(..) {
                if self.drain_to_end(index) {
                    open -= 1;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if open == 0 || left.is_zero() {
                break;
            }
            match self.poll.poll(&mut events, Some(left)) {
                Ok(()) => ready.extend(events.iter().map(|event| event.token().0)),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        for index in 0..self.connections.len() {
            self.close(index);
        }
    }

    /// Reads and discards until end of stream; true once the connection is done with (closed by
    /// the server, or failed), false while more may come.
    fn drain_to_end(&mut self, index: usize) -> bool {
        let Some(stream) = self.connections[index].stream.as_mut() else {
            return false;
        };
        let mut sink = [0u8; 4096];
        loop {
            match stream.read(&mut sink) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return false,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        self.close(index);
        true
    }

    /// Times out stalled round trips and reconnects dropped connections whose time has come.
    fn maintain(&mut self) {
        let now = Instant::now();
        for index in 0..self.connections.len() {
            let connection = &self.connections[index];
            if connection.stream.is_some() {
                if let Some(limit) = self.run.options.timeout.as_option() {
                    if now.duration_since(connection.last_progress) > limit {
                        self.tally.errors.timeouts += 1;
                        self.close(index);
                        self.connections[index].retry_at = Some(now);
                    }
                }
            } else if connection.retry_at.is_some_and(|at| at <= now) {
                self.connect(index);
            }
        }
    }
}
