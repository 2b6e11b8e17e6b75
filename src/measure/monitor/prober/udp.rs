//! A `udp://` target: each probe a datagram, counted by the UDP ledger.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Interest, Token};

use super::{Context, Found};
use crate::measure::ledger::{Fate, Ledger};
use crate::measure::record::Outcome;
use crate::net::{means_nothing_listens, receive_marked};
use crate::wire::{Layout, Message};

/// Datagrams, each probe one, counted by the UDP ledger.
pub(in crate::measure::monitor) struct Datagrams {
    socket: Option<(UdpSocket, SocketAddr)>,
    pub(in crate::measure::monitor) ledger: Ledger,
}

impl Datagrams {
    pub(in crate::measure::monitor) fn new(flow: u64, size: usize, timeout: Duration) -> Datagrams {
        let message = Message::new(Layout::Timed, flow, size);
        Datagrams {
            socket: None,
            ledger: Ledger::new(Layout::Timed, message, 1, timeout),
        }
    }

    pub(super) fn probe(
        &mut self,
        cx: &mut Context,
        seq: u64,
        scheduled: Instant,
        addr: SocketAddr,
    ) {
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
        let socket = crate::net::aimed_at(addr, cx.path).map_err(io::Error::other)?;
        socket.set_nonblocking(true)?;
        let mut socket = UdpSocket::from_std(socket);
        cx.registry
            .register(&mut socket, Token(cx.token), Interest::READABLE)?;
        self.socket = Some((socket, addr));
        Ok(())
    }

    pub(super) fn serve(&mut self, cx: &mut Context, buffer: &mut [u8]) {
        let Some((socket, _)) = &self.socket else {
            return;
        };
        loop {
            // Through mio's try_io, so that on Windows a "would block" re-arms the socket's
            // readiness, as mio's own receive would.
            let received = socket.try_io(|| receive_marked(socket.into(), buffer));
            let (len, marks) = match received {
                Ok(received) => received,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                // Nothing listens there (for now): the probes are lost at their timeout.
                Err(err) if means_nothing_listens(&err) => continue,
                Err(_) => return,
            };
            let fate = self.ledger.receive(&buffer[..len], Instant::now(), marks);
            cx.found.push(found_of(fate));
        }
    }
}

/// What the UDP ledger decided, as a probe's record.
pub(super) fn found_of(fate: Fate) -> Found {
    match fate {
        Fate::Echoed {
            seq,
            rtt,
            out_of_order,
            marks,
        } => Found {
            out_of_order,
            marks: Some(marks),
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
