//! How each kind of target is probed, on the monitor's one event loop: an echo over a kept TCP
//! connection, a TCP handshake, a UDP datagram. Every probe has its scheduled time, and its round
//! trip counts from it, so a target or a monitor that stalls shows as latency, not as fewer
//! probes.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::net::{TcpStream, UdpSocket};
use mio::{Interest, Registry, Token};

use crate::measure::ledger::{Fate, Ledger};
use crate::measure::record::Outcome;
use crate::net::{means_nothing_listens, RECEIVE_BUFFER};
use crate::wire::{self, Layout, Message};

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
    pub(super) found: &'a mut Vec<Found>,
}

/// One target's prober.
pub(super) enum Prober {
    Tcp(TcpEcho),
    Connect(Connects),
    Udp(Datagrams),
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

    /// Serves a readiness event of socket `slot`.
    pub(super) fn serve(&mut self, cx: &mut Context, slot: usize, event: &Event) {
        match self {
            Prober::Tcp(tcp) => tcp.serve(cx, event),
            Prober::Connect(connects) => connects.serve(cx, slot),
            Prober::Udp(udp) => udp.serve(cx),
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

/// An echo over one kept connection, made again when it fails. Probes may be in flight together
/// (a timeout longer than the interval); a stream keeps their order.
pub(super) struct TcpEcho {
    stream: Option<TcpStream>,
    connected: bool,
    /// Whether a connection was ever made, so that the next is a reconnection.
    pub(super) ever_connected: bool,
    pub(super) reconnections: u64,
    message: Message,
    out: Vec<u8>,
    /// Probes written (or queued), not yet echoed, with their scheduled times.
    in_flight: VecDeque<(u64, Instant)>,
    /// The front probe's message, as its echo must come back, and how much of it came.
    expect: Vec<u8>,
    read: usize,
    buffer: Vec<u8>,
}

impl TcpEcho {
    pub(super) fn new(flow: u64, size: usize) -> TcpEcho {
        TcpEcho {
            stream: None,
            connected: false,
            ever_connected: false,
            reconnections: 0,
            message: Message::new(Layout::Stream, flow, size),
            out: Vec::new(),
            in_flight: VecDeque::new(),
            expect: vec![0; size],
            read: 0,
            buffer: vec![0; 64 * 1024],
        }
    }

    fn probe(&mut self, cx: &mut Context, seq: u64, scheduled: Instant, addr: SocketAddr) {
        if self.stream.is_none() {
            match TcpStream::connect(addr) {
                Ok(mut stream) => {
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if let Err(err) = cx.registry.register(&mut stream, Token(cx.token), interest) {
                        cx.found
                            .push(Found::new(seq, Outcome::Failed, None).because(err.to_string()));
                        return;
                    }
                    self.stream = Some(stream);
                    self.connected = false;
                }
                Err(err) => {
                    cx.found.push(failed_connect(seq, &err));
                    return;
                }
            }
        }
        let at = self.out.len();
        self.out.resize(at + self.message.len(), 0);
        self.message.write(&mut self.out[at..], seq, 0);
        self.in_flight.push_back((seq, scheduled));
        if self.connected {
            self.flush(cx);
        }
    }

    fn serve(&mut self, cx: &mut Context, event: &Event) {
        if !self.connected && event.is_writable() {
            let Some(stream) = &self.stream else { return };
            match stream.take_error() {
                Ok(None) if stream.peer_addr().is_ok() => {
                    let _ = stream.set_nodelay(true);
                    self.connected = true;
                    if self.ever_connected {
                        self.reconnections += 1;
                    }
                    self.ever_connected = true;
                }
                Ok(None) => return, // not yet
                Ok(Some(err)) | Err(err) => {
                    return self.fail_all(cx, |seq| failed_connect(seq, &err))
                }
            }
        }
        if !self.connected {
            return;
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.read_echoes(cx);
        }
        if event.is_writable() {
            self.flush(cx);
        }
    }

    /// Writes what is queued, as far as the socket takes it.
    fn flush(&mut self, cx: &mut Context) {
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        while !self.out.is_empty() {
            match stream.write(&self.out) {
                Ok(0) => break,
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    let why = format!("the connection failed: {err}");
                    return self.fail_all(cx, |seq| {
                        Found::new(seq, Outcome::Lost, None).because(why.clone())
                    });
                }
            }
        }
    }

    fn read_echoes(&mut self, cx: &mut Context) {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            let n = match stream.read(&mut self.buffer) {
                Ok(0) => {
                    let why = "the server closed the connection";
                    return self
                        .fail_all(cx, |seq| Found::new(seq, Outcome::Lost, None).because(why));
                }
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    let why = format!("the connection failed: {err}");
                    return self.fail_all(cx, |seq| {
                        Found::new(seq, Outcome::Lost, None).because(why.clone())
                    });
                }
            };
            let arrived = Instant::now();
            let mut data = &self.buffer[..n];
            while let Some(&(seq, scheduled)) = self.in_flight.front().filter(|_| !data.is_empty())
            {
                if self.read == 0 {
                    self.message.write(&mut self.expect, seq, 0);
                }
                let take = (self.expect.len() - self.read).min(data.len());
                let differing =
                    wire::differing(&data[..take], &self.expect[self.read..self.read + take]);
                if differing > 0 {
                    // Out of step with what was sent: this probe is corrupted, the connection
                    // is made again for the next.
                    self.in_flight.pop_front();
                    let rtt = arrived.saturating_duration_since(scheduled);
                    cx.found.push(
                        Found::new(seq, Outcome::Corrupted, Some(rtt))
                            .because(format!("{differing} bytes differ")),
                    );
                    let why = "its connection was made again after a corrupted echo";
                    return self
                        .fail_all(cx, |seq| Found::new(seq, Outcome::Lost, None).because(why));
                }
                self.read += take;
                data = &data[take..];
                if self.read == self.expect.len() {
                    self.read = 0;
                    self.in_flight.pop_front();
                    let rtt = arrived.saturating_duration_since(scheduled);
                    cx.found.push(Found::new(seq, Outcome::Echoed, Some(rtt)));
                }
            }
            if !data.is_empty() {
                let why = "more came back than was sent";
                cx.found
                    .push(Found::new(0, Outcome::Stray, None).because(why));
                return self.fail_all(cx, |seq| Found::new(seq, Outcome::Lost, None).because(why));
            }
        }
    }

    fn maintain(&mut self, cx: &mut Context, now: Instant) {
        let Some(&(seq, scheduled)) = self.in_flight.front() else {
            return;
        };
        if now.saturating_duration_since(scheduled) <= cx.timeout {
            return;
        }
        let timeout = cx.timeout;
        match self.connected {
            true => {
                cx.found.push(
                    Found::new(seq, Outcome::Lost, None)
                        .because(format!("no echo within {} s", timeout.as_secs_f64())),
                );
                self.in_flight.pop_front();
                let why = "its connection was made again after a lost probe";
                self.fail_all(cx, |seq| Found::new(seq, Outcome::Lost, None).because(why));
            }
            false => {
                let why = format!(
                    "no answer to the connection within {} s",
                    timeout.as_secs_f64()
                );
                self.fail_all(cx, |seq| {
                    Found::new(seq, Outcome::TimedOut, None).because(why.clone())
                });
            }
        }
    }

    /// Ends the connection; every probe in flight comes to `each`, and the next probe connects
    /// again.
    fn fail_all(&mut self, cx: &mut Context, each: impl Fn(u64) -> Found) {
        if let Some(mut stream) = self.stream.take() {
            let _ = cx.registry.deregister(&mut stream);
        }
        self.connected = false;
        self.out.clear();
        self.read = 0;
        for (seq, _) in self.in_flight.drain(..) {
            cx.found.push(each(seq));
        }
    }
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

/// Handshakes: each probe a new connection, closed once made.
pub(super) struct Connects {
    pending: Vec<Option<(u64, Instant, TcpStream)>>,
}

impl Connects {
    pub(super) fn new() -> Connects {
        Connects {
            pending: (0..SLOTS).map(|_| None).collect(),
        }
    }

    fn probe(&mut self, cx: &mut Context, seq: u64, scheduled: Instant, addr: SocketAddr) {
        let Some(slot) = self.pending.iter().position(Option::is_none) else {
            let why = format!("{SLOTS} handshakes are pending already");
            return cx
                .found
                .push(Found::new(seq, Outcome::Failed, None).because(why));
        };
        match TcpStream::connect(addr) {
            Ok(mut stream) => {
                let token = Token(cx.token + slot);
                if let Err(err) = cx.registry.register(&mut stream, token, Interest::WRITABLE) {
                    return cx
                        .found
                        .push(Found::new(seq, Outcome::Failed, None).because(err.to_string()));
                }
                self.pending[slot] = Some((seq, scheduled, stream));
            }
            Err(err) => cx.found.push(failed_connect(seq, &err)),
        }
    }

    fn serve(&mut self, cx: &mut Context, slot: usize) {
        let Some((seq, scheduled, stream)) = self.pending.get(slot).and_then(Option::as_ref) else {
            return;
        };
        let (seq, scheduled) = (*seq, *scheduled);
        let found = match stream.take_error() {
            Ok(None) if stream.peer_addr().is_ok() => {
                let took = Instant::now().saturating_duration_since(scheduled);
                Found::new(seq, Outcome::Connected, Some(took))
            }
            Ok(None) => return, // not yet
            Ok(Some(err)) | Err(err) => failed_connect(seq, &err),
        };
        cx.found.push(found);
        self.close(cx, slot);
    }

    fn maintain(&mut self, cx: &mut Context, now: Instant) {
        for slot in 0..SLOTS {
            let Some((seq, scheduled, _)) = self.pending[slot].as_ref() else {
                continue;
            };
            if now.saturating_duration_since(*scheduled) > cx.timeout {
                let why = format!("no answer within {} s", cx.timeout.as_secs_f64());
                cx.found
                    .push(Found::new(*seq, Outcome::TimedOut, None).because(why));
                self.close(cx, slot);
            }
        }
    }

    fn close(&mut self, cx: &mut Context, slot: usize) {
        if let Some((_, _, mut stream)) = self.pending[slot].take() {
            let _ = cx.registry.deregister(&mut stream);
        }
    }
}

/// Datagrams, each probe one, counted by the UDP ledger.
pub(super) struct Datagrams {
    socket: Option<(UdpSocket, SocketAddr)>,
    pub(super) ledger: Ledger,
    buffer: Vec<u8>,
}

impl Datagrams {
    pub(super) fn new(flow: u64, size: usize, timeout: Duration) -> Datagrams {
        let message = Message::new(Layout::Timed, flow, size);
        Datagrams {
            socket: None,
            ledger: Ledger::new(Layout::Timed, message, 1, timeout),
            buffer: vec![0; RECEIVE_BUFFER],
        }
    }

    fn probe(&mut self, cx: &mut Context, seq: u64, scheduled: Instant, addr: SocketAddr) {
        debug_assert_eq!(seq, self.ledger.next_seq());
        if self.socket.as_ref().is_none_or(|(_, aimed)| *aimed != addr) {
            if let Err(err) = self.aim(cx, addr) {
                // The ledger still records it: lost, at its timeout.
                log::debug!("monitor: no socket for udp {addr}: {err}");
            }
        }
        // Sent at its scheduled time, as far as the ledger is concerned: its round trip counts
        // from there.
        let datagram = self.ledger.next_datagram(scheduled);
        if let Some((socket, _)) = &self.socket {
            if let Err(err) = socket.send(datagram) {
                log::debug!("monitor: could not send to udp {addr}: {err}");
            }
        }
        self.ledger.sent(scheduled);
    }

    /// A socket aimed at `addr` (again, when the name moved).
    fn aim(&mut self, cx: &mut Context, addr: SocketAddr) -> io::Result<()> {
        if let Some((mut old, _)) = self.socket.take() {
            let _ = cx.registry.deregister(&mut old);
        }
        let any: SocketAddr = match addr {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let mut socket = UdpSocket::bind(any)?;
        socket.connect(addr)?;
        cx.registry
            .register(&mut socket, Token(cx.token), Interest::READABLE)?;
        self.socket = Some((socket, addr));
        Ok(())
    }

    fn serve(&mut self, cx: &mut Context) {
        let Some((socket, _)) = &self.socket else {
            return;
        };
        loop {
            let len = match socket.recv(&mut self.buffer) {
                Ok(len) => len,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                // Nothing listens there (for now): the probes are lost at their timeout.
                Err(err) if means_nothing_listens(&err) => continue,
                Err(_) => return,
            };
            let fate = self.ledger.receive(&self.buffer[..len], Instant::now());
            cx.found.push(found_of(fate));
        }
    }
}

/// What the UDP ledger decided, as a probe's record.
fn found_of(fate: Fate) -> Found {
    match fate {
        Fate::Echoed {
            seq,
            rtt,
            out_of_order,
        } => Found {
            out_of_order,
            ..Found::new(seq, Outcome::Echoed, Some(rtt))
        },
        Fate::Lost { seq } => Found::new(seq, Outcome::Lost, None),
        Fate::Late { seq, after } => Found::new(seq, Outcome::Late, after),
        Fate::Duplicate { seq, after } => Found::new(seq, Outcome::Duplicate, after),
        Fate::Corrupted { seq, differing } => {
            Found::new(seq, Outcome::Corrupted, None).because(format!("{differing} bytes differ"))
        }
        Fate::Stray { bytes } => Found::new(0, Outcome::Stray, None)
            .because(format!("{bytes} bytes that match no probe")),
    }
}
