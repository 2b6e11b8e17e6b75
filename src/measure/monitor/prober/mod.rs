//! How each kind of target is probed, on the monitor's one event loop: an echo over a kept TCP
//! connection, a TCP handshake, a UDP datagram. Every probe has its scheduled time, and its round
//! trip counts from it, so a target or a monitor that stalls shows as latency, not as fewer
//! probes.

mod connect;
mod tcp;
mod udp;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::Registry;

use crate::measure::record::Outcome;
use crate::net::{Marks, PathOptions};

pub(super) use connect::Connects;
pub(super) use tcp::TcpEcho;
use udp::found_of;
pub(super) use udp::Datagrams;

/// Sockets a target may have at once: its pending handshakes, for `connect` targets (a probe
/// beyond that fails at once, saying so).
pub(super) const SLOTS: usize = 64;

/// What a probe came to, for the loop to record, count and judge.
#[derive(Debug)]
pub(super) struct Found {
    pub(super) seq: u64,
    pub(super) outcome: Outcome,
    pub(super) rtt: Option<Duration>,
    pub(super) out_of_order: bool,
    /// The marking a UDP echo came back with.
    pub(super) marks: Option<Marks>,
    /// Why, for a failure.
    pub(super) detail: Option<String>,
}

impl Found {
    fn new(seq: u64, outcome: Outcome, rtt: Option<Duration>) -> Found {
        Found {
            seq,
            outcome,
            rtt,
            out_of_order: false,
            marks: None,
            detail: None,
        }
    }

    fn because(mut self, detail: impl Into<String>) -> Found {
        self.detail = Some(detail.into());
        self
    }
}

/// The sockets of one target, and where it tells what it found.
pub(super) struct Context<'a> {
    pub(super) registry: &'a Registry,
    /// The target's first token; its sockets use this one and the [`SLOTS`] after it.
    pub(super) token: usize,
    pub(super) timeout: Duration,
    /// What the probes' packets ask of the path.
    pub(super) path: &'a PathOptions,
    pub(super) found: &'a mut Vec<Found>,
}

impl<'a> Context<'a> {
    /// The context of target `index`, whose sockets take the tokens from `index * SLOTS`.
    pub(in crate::measure::monitor) fn of_target(
        registry: &'a Registry,
        index: usize,
        options: &'a super::MonitorOptions,
        found: &'a mut Vec<Found>,
    ) -> Context<'a> {
        Context {
            registry,
            token: index * SLOTS,
            timeout: options.timeout,
            path: &options.path,
            found,
        }
    }
}

/// One target's prober.
pub(super) enum Prober {
    Tcp(TcpEcho),
    Connect(Connects),
    // Boxed: a ledger is the largest of the three by far.
    Udp(Box<Datagrams>),
}

impl Prober {
    /// Sends probe `seq`, due at `scheduled`, to `addr`.
    pub(super) fn probe(
        &mut self,
        cx: &mut Context,
        seq: u64,
        scheduled: Instant,
        addr: SocketAddr,
    ) {
        match self {
            Prober::Tcp(tcp) => tcp.probe(cx, seq, scheduled, addr),
            Prober::Connect(connects) => connects.probe(cx, seq, scheduled, addr),
            Prober::Udp(udp) => udp.probe(cx, seq, scheduled, addr),
        }
    }

    /// Serves a readiness event of socket `slot`; `buffer` (a datagram's room) is the loop's,
    /// shared by every target, rather than one per target.
    pub(super) fn serve(
        &mut self,
        cx: &mut Context,
        slot: usize,
        event: &Event,
        buffer: &mut [u8],
    ) {
        match self {
            Prober::Tcp(tcp) => tcp.serve(cx, event, buffer),
            Prober::Connect(connects) => connects.serve(cx, slot),
            Prober::Udp(udp) => udp.serve(cx, buffer),
        }
    }

    /// Gives up on what is past its timeout at `now`.
    pub(super) fn maintain(&mut self, cx: &mut Context, now: Instant) {
        match self {
            Prober::Tcp(tcp) => tcp.maintain(cx, now),
            Prober::Connect(connects) => connects.maintain(cx, now),
            Prober::Udp(udp) => udp.ledger.expire(now, |fate| cx.found.push(found_of(fate))),
        }
    }

    /// Whether any probe is still awaited.
    pub(super) fn awaiting(&self) -> bool {
        match self {
            Prober::Tcp(tcp) => !tcp.in_flight.is_empty(),
            Prober::Connect(connects) => connects.pending.iter().any(Option::is_some),
            Prober::Udp(udp) => udp.ledger.awaiting(),
        }
    }
}

/// A TCP stream to `addr` made with `path`'s options, its non-blocking connect started.
fn connect_stream(addr: SocketAddr, path: &PathOptions) -> io::Result<mio::net::TcpStream> {
    let socket = crate::net::stream_socket(addr, path).map_err(io::Error::other)?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(err)
            if err.raw_os_error() == in_progress() || err.kind() == io::ErrorKind::WouldBlock => {}
        Err(err) => return Err(err),
    }
    Ok(mio::net::TcpStream::from_std(socket.into()))
}

/// The error a non-blocking connect returns while the handshake goes on.
fn in_progress() -> Option<i32> {
    crate::sys::connect_in_progress()
}

/// The record of a connect that failed: refused, or failed otherwise.
fn failed_connect(seq: u64, err: &io::Error) -> Found {
    let outcome = match err.kind() {
        io::ErrorKind::ConnectionRefused => Outcome::Refused,
        io::ErrorKind::TimedOut => Outcome::TimedOut,
        _ => Outcome::Failed,
    };
    Found::new(seq, outcome, None).because(err.to_string())
}
