//! A TCP target: an echo over one kept connection, made again when it fails.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use mio::event::Event;
use mio::net::TcpStream;
use mio::{Interest, Token};

use super::{failed_connect, Context, Found};
use crate::measure::record::Outcome;
use crate::wire::{self, Layout, Message};

/// An echo over one kept connection, made again when it fails. Probes may be in flight together
/// (a timeout longer than the interval); a stream keeps their order.
pub(in crate::measure::monitor) struct TcpEcho {
    stream: Option<TcpStream>,
    connected: bool,
    /// Whether a connection was ever made, so that the next is a reconnection.
    pub(super) ever_connected: bool,
    pub(in crate::measure::monitor) reconnections: u64,
    message: Message,
    out: Vec<u8>,
    /// Probes written (or queued), not yet echoed, with their scheduled times.
    pub(super) in_flight: VecDeque<(u64, Instant)>,
    /// The front probe's message, as its echo must come back, and how much of it came.
    expect: Vec<u8>,
    read: usize,
}

impl TcpEcho {
    pub(in crate::measure::monitor) fn new(flow: u64, size: usize) -> TcpEcho {
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
        }
    }

    pub(super) fn probe(
        &mut self,
        cx: &mut Context,
        seq: u64,
        scheduled: Instant,
        addr: SocketAddr,
    ) {
        if self.stream.is_none() {
            match super::connect_stream(addr, cx.path) {
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

    pub(super) fn serve(&mut self, cx: &mut Context, event: &Event, buffer: &mut [u8]) {
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
            self.read_echoes(cx, buffer);
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

    fn read_echoes(&mut self, cx: &mut Context, buffer: &mut [u8]) {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            let n = match stream.read(buffer) {
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
            let mut data = &buffer[..n];
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

    pub(super) fn maintain(&mut self, cx: &mut Context, now: Instant) {
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
