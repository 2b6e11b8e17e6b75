//! One event loop's sockets, by connection index: connecting (and what a failed connect counts
//! as), dropping a broken connection (and what that counts as), reconnecting later, and closing
//! every connection cleanly at the end. What each workload does on a socket is its own.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use anyhow::Context;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::load::Run;
use super::tally::Tally;
use crate::logging::{RateLimited, WARNING_INTERVAL};

/// How often the event loops look for stalled connections and due reconnects, and how long a
/// dropped connection waits before it is connected again.
pub(crate) const MAINTENANCE_INTERVAL: Duration = Duration::from_millis(100);

/// How long the connections may take, at the end, to give back their last echo and close.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Why a connection had to be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Broken {
    /// Reset or closed by the server, or a write or read failed.
    Reset,
    /// An echo came back different from what was sent.
    Corrupted,
    /// No progress for the timeout.
    TimedOut,
}

/// One connection's socket, when it has one, and when to connect again when it has none.
struct Slot {
    stream: Option<TcpStream>,
    retry_at: Option<Instant>,
    /// Echoes completed on the current socket: none when the server closes it means it was
    /// closed at once, before any echo (a full server turning clients away).
    echoes_on_socket: u64,
}

/// The sockets of one event loop and the poll they are registered with (token = index).
pub(crate) struct Sockets {
    pub(crate) poll: Poll,
    slots: Vec<Slot>,
    /// Whether any connection of this loop ever got through.
    ever_connected: bool,
    /// A server that alters every echo would otherwise bury the report under a warning per
    /// echo; the report counts them all.
    corruption_warnings: RateLimited,
}

impl Sockets {
    pub(crate) fn new(count: usize) -> anyhow::Result<Self> {
        let slots = (0..count)
            .map(|_| Slot {
                stream: None,
                retry_at: None,
                echoes_on_socket: 0,
            })
            .collect();
        Ok(Sockets {
            poll: Poll::new().context("could not create an event loop")?,
            slots,
            ever_connected: false,
            corruption_warnings: RateLimited::new(WARNING_INTERVAL),
        })
    }

    /// Connects connection `index`; false if the connect failed, which is counted in `tally`
    /// (and, a refusal after the server was there, raises the run's server-gone signal).
    pub(crate) fn connect(&mut self, index: usize, run: &Run, tally: &mut Tally) -> bool {
        let attempt = run.target.connect().and_then(|stream| {
            stream
                .set_nonblocking(true)
                .context("could not make the socket non-blocking")?;
            Ok(stream)
        });
        let now = Instant::now();
        let mut stream = match attempt {
            Ok(stream) => TcpStream::from_std(stream),
            Err(err) => {
                log::debug!("bench: {err:#}");
                let errors = &mut tally.errors;
                if err.downcast_ref::<crate::net::SelfConnection>().is_some() {
                    errors.self_connections += 1;
                } else {
                    errors.connect_failures += 1;
                    if now >= run.window.measure_from {
                        errors.after_warmup += 1;
                    }
                    let refused = err
                        .root_cause()
                        .downcast_ref::<io::Error>()
                        .is_some_and(|io| io.kind() == io::ErrorKind::ConnectionRefused);
                    if refused && self.ever_connected {
                        // It was there and now nothing listens: measuring on would measure
                        // reconnect attempts (or, worse, sockets connected to themselves).
                        run.gone.raise();
                    }
                }
                tally.connect_error = Some(err);
                self.slots[index].retry_at = Some(now + MAINTENANCE_INTERVAL);
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
            tally.errors.connect_failures += 1;
            self.slots[index].retry_at = Some(now + MAINTENANCE_INTERVAL);
            return false;
        }
        let slot = &mut self.slots[index];
        slot.stream = Some(stream);
        slot.retry_at = None;
        slot.echoes_on_socket = 0;
        true
    }

    /// Connection `index`'s socket, if it has one.
    pub(crate) fn stream(&mut self, index: usize) -> Option<&mut TcpStream> {
        self.slots[index].stream.as_mut()
    }

    pub(crate) fn is_connected(&self, index: usize) -> bool {
        self.slots[index].stream.is_some()
    }

    /// Counts `echoes` completed on connection `index`'s current socket.
    pub(crate) fn echoed(&mut self, index: usize, echoes: u64) {
        self.slots[index].echoes_on_socket += echoes;
    }

    /// Whether connection `index` has no socket and its time to connect again has come.
    pub(crate) fn due_for_reconnect(&self, index: usize, now: Instant) -> bool {
        let slot = &self.slots[index];
        slot.stream.is_none() && slot.retry_at.is_some_and(|at| at <= now)
    }

    /// Drops connection `index` for `broken`, counts why in `tally`, and has it connected again
    /// at the next maintenance pass (a server that resets every connection must not turn the
    /// loop into a connect storm).
    pub(crate) fn drop_broken(
        &mut self,
        index: usize,
        broken: Broken,
        run: &Run,
        tally: &mut Tally,
    ) {
        let now = Instant::now();
        let errors = &mut tally.errors;
        match broken {
            Broken::Reset => {
                errors.resets += 1;
                if self.slots[index].echoes_on_socket == 0 {
                    errors.closed_at_once += 1;
                }
                if now >= run.window.measure_from {
                    errors.after_warmup += 1;
                }
            }
            Broken::Corrupted => {
                errors.corrupted += 1;
                self.corruption_warnings
                    .warn(|again| format!("bench: corrupted echo on connection {index}{again}"));
            }
            Broken::TimedOut => errors.timeouts += 1,
        }
        self.close(index);
        self.slots[index].retry_at = Some(now);
    }

    /// Takes connection `index`'s socket out of the poll, which closes it.
    fn close(&mut self, index: usize) {
        if let Some(mut stream) = self.slots[index].stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
    }

    /// Ends every connection the way a well-behaved client does: a half-close, then reading
    /// until the server's end of stream (its last echo included), so that the server sees a
    /// clean close, not a reset, and counts no client as failed. Bounded by [`CLOSE_GRACE`].
    pub(crate) fn close_cleanly(&mut self) {
        let deadline = Instant::now() + CLOSE_GRACE;
        let mut open = 0;
        for slot in &mut self.slots {
            if let Some(stream) = slot.stream.as_mut() {
                let _ = stream.shutdown(std::net::Shutdown::Write);
                open += 1;
            }
        }
        let mut events = Events::with_capacity(1024);
        // First pass over all: what is already waiting gives no new readiness edge.
        let mut ready: Vec<usize> = (0..self.slots.len()).collect();
        while open > 0 {
            for index in ready.drain(..) {
                if index < self.slots.len() && self.drain_to_end(index) {
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
        for index in 0..self.slots.len() {
            self.close(index);
        }
    }

    /// Reads and discards until end of stream; true once the connection is done with (closed by
    /// the server, or failed), false while more may come.
    fn drain_to_end(&mut self, index: usize) -> bool {
        let Some(stream) = self.slots[index].stream.as_mut() else {
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
}
