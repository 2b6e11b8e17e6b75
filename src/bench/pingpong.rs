//! The ping-pong workload: closed-loop round trips on many connections, driven by event loops.

use std::io::{self, IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};

use super::{ErrorCounts, Fairness, LatencyMs, PingPongOptions, PingPongReport};
use crate::pattern::Pattern;
use crate::signals::StopFlag;

/// How often the event loops look for stalled connections and due reconnects, and how long they
/// wait between reconnect attempts.
const MAINTENANCE_INTERVAL: Duration = Duration::from_millis(100);

/// Round-trip latencies are kept in nanoseconds with 3 significant digits, up to a minute.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

/// The measuring window, shared by all event loops.
#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
}

/// How long the connections may take, at the end, to give back their last echo and close.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

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

/// Live counters the progress line reads while the loops run.
#[derive(Default)]
struct Progress {
    round_trips: AtomicU64,
    errors: AtomicU64,
}

/// Runs closed-loop ping-pong against `addrs` with `options`, on `threads` event-loop threads,
/// until the window ends or `stop` is raised. A progress line goes to standard error while it
/// runs, if that is a terminal.
pub fn ping_pong(
    addrs: &[SocketAddr],
    options: &PingPongOptions,
    threads: usize,
    stop: &StopFlag,
) -> anyhow::Result<PingPongReport> {
    let server = addrs.first().context("no address to connect to")?;
    let threads = threads.clamp(1, options.connections.max(1));
    let started = Instant::now();
    let window = Window {
        measure_from: started + options.warmup,
        end: started + options.warmup + options.duration,
    };
    let progress = Arc::new(Progress::default());
    // Raised when the last event loop has ended (window over, stop requested, or no connection
    // possible), so that the progress display ends with them.
    let all_done = StopFlag::new();
    let running = Arc::new(AtomicU64::new(threads as u64));
    let gone = Arc::new(ServerGone::default());
    let workers: Vec<_> = (0..threads)
        .map(|worker| {
            let ids: Vec<usize> = (worker..options.connections).step_by(threads).collect();
            let loop_state = EventLoop::new(
                addrs.to_vec(),
                options.clone(),
                window,
                stop.clone(),
                Arc::clone(&gone),
            );
            let progress = Arc::clone(&progress);
            let (running, all_done) = (Arc::clone(&running), all_done.clone());
            thread::Builder::new()
                .name(format!("bench {worker}"))
                .spawn(move || {
                    let outcome = loop_state.and_then(|state| state.run(&ids, &progress));
                    if running.fetch_sub(1, Ordering::SeqCst) == 1 {
                        all_done.request();
                    }
                    outcome
                })
                .context("could not start a load thread")
        })
        .collect::<anyhow::Result<_>>()?;

    show_progress(&progress, started, window, &all_done);

    let mut histogram = new_histogram();
    let mut errors = ErrorCounts::default();
    let mut round_trips = 0;
    let mut connected = 0;
    let mut connect_error = None;
    let mut fairness = Fairness::default();
    for worker in workers {
        let outcome = worker
            .join()
            .map_err(|_| anyhow!("a load thread panicked"))??;
        histogram
            .add(&outcome.histogram)
            .context("merging latency histograms")?;
        errors.add(&outcome.errors);
        round_trips += outcome.round_trips;
        connected += outcome.connected;
        fairness.add(&outcome.fairness);
        connect_error = connect_error.or(outcome.connect_error);
    }
    if connected == 0 {
        if let Some(err) = connect_error {
            return Err(err);
        }
    }
    let gone_at = gone.at();
    let measured_until = Instant::now()
        .min(window.end)
        .min(gone_at.unwrap_or(window.end));
    let seconds = measured_until
        .saturating_duration_since(window.measure_from)
        .as_secs_f64();
    let per_sec = |count: f64| if seconds > 0.0 { count / seconds } else { 0.0 };
    let ms = |nanos: u64| nanos as f64 / 1e6;
    Ok(PingPongReport {
        server: server.to_string(),
        connections: options.connections,
        connected,
        message_bytes: options.size,
        seconds,
        round_trips,
        round_trips_per_sec: per_sec(round_trips as f64),
        mb_per_sec_each_way: per_sec(round_trips as f64 * options.size as f64) / 1e6,
        latency_ms: LatencyMs {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
            mean: histogram.mean() / 1e6,
        },
        fairness,
        errors,
        server_gone_after: gone_at.map(|at| {
            at.saturating_duration_since(window.measure_from)
                .as_secs_f64()
        }),
    })
}

/// Prints a live line on standard error (when it is a terminal) until the window ends or the
/// event loops are done.
fn show_progress(progress: &Progress, started: Instant, window: Window, done: &StopFlag) {
    let terminal = io::stderr().is_terminal();
    let tick = Duration::from_secs(1);
    let mut last = (Instant::now(), 0u64);
    loop {
        let left = window.end.saturating_duration_since(Instant::now());
        if left.is_zero() || done.sleep(left.min(tick)) {
            break;
        }
        if terminal {
            let now = Instant::now();
            let done = progress.round_trips.load(Ordering::Relaxed);
            let rate = (done - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
            last = (now, done);
            let phase = if now < window.measure_from {
                " (warm-up)"
            } else {
                ""
            };
            eprint!(
                "\r\x1b[K{:5.1} s  {rate:9.0} round trips/s  {} errors{phase}",
                started.elapsed().as_secs_f64(),
                progress.errors.load(Ordering::Relaxed)
            );
        }
    }
    if terminal {
        eprint!("\r\x1b[K");
    }
}

/// What one event loop measured.
struct LoopOutcome {
    histogram: Histogram<u64>,
    errors: ErrorCounts,
    round_trips: u64,
    connected: usize,
    fairness: Fairness,
    /// Why the last connect failed, if one did: the error to show when none succeeded.
    connect_error: Option<anyhow::Error>,
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
    poll: Poll,
    addrs: Vec<SocketAddr>,
    options: PingPongOptions,
    window: Window,
    stop: StopFlag,
    connections: Vec<Connection>,
    histogram: Histogram<u64>,
    errors: ErrorCounts,
    round_trips: u64,
    connect_error: Option<anyhow::Error>,
    gone: Arc<ServerGone>,
    /// Whether any connection of this loop ever got through.
    ever_connected: bool,
}

impl EventLoop {
    fn new(
        addrs: Vec<SocketAddr>,
        options: PingPongOptions,
        window: Window,
        stop: StopFlag,
        gone: Arc<ServerGone>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            poll: Poll::new().context("could not create an event loop")?,
            addrs,
            options,
            window,
            stop,
            connections: Vec::new(),
            histogram: new_histogram(),
            errors: ErrorCounts::default(),
            round_trips: 0,
            connect_error: None,
            gone,
            ever_connected: false,
        })
    }

    fn run(mut self, ids: &[usize], progress: &Progress) -> anyhow::Result<LoopOutcome> {
        let now = Instant::now();
        for &id in ids {
            // Each connection's message differs, so that an echo sent to the wrong connection
            // can never pass the check.
            let message = Pattern::new(id as u64).take(self.options.size);
            self.connections.push(Connection {
                stream: None,
                echo: vec![0; message.len()],
                message,
                written: 0,
                read: 0,
                seq: 0,
                measured: 0,
                on_this_socket: 0,
                sent_at: now,
                last_progress: now,
                retry_at: None,
            });
        }
        let mut connected = 0;
        for index in 0..self.connections.len() {
            if self.connect(index) {
                connected += 1;
            }
        }
        // Not one connection: the server is not there. Say so now rather than after the run.
        let give_up = connected == 0 && !self.connections.is_empty();
        let mut events = Events::with_capacity(1024);
        let mut next_maintenance = Instant::now() + MAINTENANCE_INTERVAL;
        let mut errors_reported = 0;
        loop {
            let now = Instant::now();
            if give_up
                || now >= self.window.end
                || self.stop.is_requested()
                || self.gone.flag.is_requested()
            {
                break;
            }
            let wait = (self.window.end - now).min(MAINTENANCE_INTERVAL);
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(anyhow::Error::new(err).context("event loop failed")),
            }
            for event in events.iter() {
                let index = event.token().0;
                let before = self.round_trips_all(index);
                if let Err(broken) = self.drive(index) {
                    self.drop_connection(index, broken);
                }
                let done = self.round_trips_all(index) - before;
                progress.round_trips.fetch_add(done, Ordering::Relaxed);
            }
            if Instant::now() >= next_maintenance {
                self.maintain();
                next_maintenance = Instant::now() + MAINTENANCE_INTERVAL;
                let total = self.errors.total();
                progress
                    .errors
                    .fetch_add(total - errors_reported, Ordering::Relaxed);
                errors_reported = total;
            }
        }
        if !self.gone.flag.is_requested() {
            self.close_cleanly();
        }
        let mut fairness = Fairness::default();
        for connection in &self.connections {
            fairness.count(connection.measured);
        }
        Ok(LoopOutcome {
            histogram: self.histogram,
            errors: self.errors,
            round_trips: self.round_trips,
            connected,
            fairness,
            connect_error: self.connect_error,
        })
    }

    /// Round trips completed on a connection so far (measured or not), for the progress line.
    fn round_trips_all(&self, index: usize) -> u64 {
        self.connections[index].seq
    }

    /// Connects connection `index` and starts its first message; false if the connect failed.
    fn connect(&mut self, index: usize) -> bool {
        let attempt = crate::net::connect_to(&self.addrs, self.options.connect_timeout.as_option())
            .and_then(|stream| {
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
                if err.downcast_ref::<crate::net::SelfConnection>().is_some() {
                    self.errors.self_connections += 1;
                } else {
                    self.errors.connect_failures += 1;
                    if now >= self.window.measure_from {
                        self.errors.after_warmup += 1;
                    }
                    let refused = err
                        .root_cause()
                        .downcast_ref::<io::Error>()
                        .is_some_and(|io| io.kind() == io::ErrorKind::ConnectionRefused);
                    if refused && self.ever_connected {
                        // It was there and now nothing listens: measuring on would measure
                        // reconnect attempts (or, worse, sockets connected to themselves).
                        self.gone.raise();
                    }
                }
                self.connect_error = Some(err);
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
            self.errors.connect_failures += 1;
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
        // Stamp the sequence number, so that a stale or repeated echo is caught as corrupted.
        let stamp = connection.seq.to_le_bytes();
        let len = stamp.len().min(connection.message.len());
        connection.message[..len].copy_from_slice(&stamp[..len]);
        connection.written = 0;
        connection.read = 0;
        let now = Instant::now();
        connection.sent_at = now;
        connection.last_progress = now;
    }

    /// Makes all the progress the socket allows: edge-triggered readiness means reading and
    /// writing until the kernel says "would block".
    fn drive(&mut self, index: usize) -> Result<(), Broken> {
        let size = self.options.size;
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
            if connection.sent_at >= self.window.measure_from && finished <= self.window.end {
                connection.measured += 1;
                let nanos = finished.duration_since(connection.sent_at).as_nanos();
                self.histogram
                    .saturating_record(u64::try_from(nanos).unwrap_or(u64::MAX));
                self.round_trips += 1;
            }
            if finished >= self.window.end || self.stop.is_requested() {
                return Ok(());
            }
            self.start_message(index);
        }
    }

    fn drop_connection(&mut self, index: usize, broken: Broken) {
        match broken {
            Broken::Reset => {
                self.errors.resets += 1;
                if self.connections[index].on_this_socket == 0 {
                    self.errors.closed_at_once += 1;
                }
                if Instant::now() >= self.window.measure_from {
                    self.errors.after_warmup += 1;
                }
            }
            Broken::Corrupted => {
                self.errors.corrupted += 1;
                log::warn!("bench: corrupted echo on connection {index}");
            }
        }
        if let Some(mut stream) = self.connections[index].stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        // Reconnect at the next maintenance pass: a server that resets every connection must
        // not turn the loop into a connect storm.
        self.connections[index].retry_at = Some(Instant::now());
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
        for connection in &mut self.connections {
            if let Some(mut stream) = connection.stream.take() {
                let _ = self.poll.registry().deregister(&mut stream);
            }
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
        if let Some(mut stream) = self.connections[index].stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        true
    }

    /// Times out stalled round trips and reconnects dropped connections whose time has come.
    fn maintain(&mut self) {
        let now = Instant::now();
        for index in 0..self.connections.len() {
            let connection = &self.connections[index];
            if connection.stream.is_some() {
                if let Some(limit) = self.options.timeout.as_option() {
                    if now.duration_since(connection.last_progress) > limit {
                        self.errors.timeouts += 1;
                        if let Some(mut stream) = self.connections[index].stream.take() {
                            let _ = self.poll.registry().deregister(&mut stream);
                        }
                        self.connections[index].retry_at = Some(now);
                    }
                }
            } else if connection.retry_at.is_some_and(|at| at <= now) {
                self.connect(index);
            }
        }
    }
}
