//! UDP echo (RFC 862's other half): each datagram goes back to its sender as one datagram with
//! the same bytes. One thread per UDP socket, blocking `recv_from`/`send_to`: no connection, no
//! accept, no client limit and no idle timeout (those are TCP notions).
//!
//! A datagram's source address is whatever its sender wrote, so an echo can be aimed at a third
//! party. Two services that answer every datagram, aimed at each other, echo one datagram back
//! and forth for ever (the echo/chargen loop, CVE-1999-0103). Like FreeBSD's inetd, the echo
//! refuses datagrams from the ports such services answer from, and counts them.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use log::{debug, warn};

use super::access::Access;
use super::config::EchoMarking;
use super::source_rates::SourceRates;
use super::stats::DatagramCounters;
use crate::dump::{trace_chunk, Direction};
use crate::logging::{RateLimited, WARNING_INTERVAL};
use crate::sys::datagram::{self as sys, Arrival};

/// The largest datagram UDP carries over IPv6 (over IPv4: 65 507), with a byte to spare to tell
/// that nothing was cut off.
const LARGEST_DATAGRAM: usize = 65_536;

/// How long a UDP thread waits after an error that is not one datagram's (the socket itself
/// failing), so that a persistent error cannot make it spin.
const ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Ports of services that answer any datagram with a datagram: a datagram from one of them is
/// refused, as FreeBSD's inetd does, so that two such services cannot be set echoing each other.
const ANSWERING_PORTS: [(u16, &str); 7] = [
    (7, "echo"),
    (11, "systat"),
    (13, "daytime"),
    (15, "netstat"),
    (17, "quote of the day"),
    (19, "chargen"),
    (37, "time"),
];

/// Why a datagram is refused rather than echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Port 0 cannot be answered; a datagram claiming it is forged.
    PortZero,
    /// The port of a service that answers datagrams.
    AnsweringService(u16, &'static str),
    /// This server's own port, which another echo service would answer from too.
    OwnPort(u16),
}

impl Refusal {
    /// Why a datagram from `source` to a server on port `own_port` must not be echoed, if so.
    pub(super) fn of(source: SocketAddr, own_port: u16) -> Option<Refusal> {
        let port = source.port();
        if port == 0 {
            return Some(Refusal::PortZero);
        }
        if port == own_port {
            return Some(Refusal::OwnPort(port));
        }
        ANSWERING_PORTS
            .iter()
            .find(|&&(answering, _)| answering == port)
            .map(|&(port, name)| Refusal::AnsweringService(port, name))
    }

    fn reason(self) -> String {
        match self {
            Refusal::PortZero => "its source port is 0, which no sender has".into(),
            Refusal::AnsweringService(port, name) => format!(
                "its source port {port} ({name}) answers datagrams too, and echoing could start \
                 an endless loop"
            ),
            Refusal::OwnPort(port) => format!(
                "its source port {port} is this echo's own, from which another echo service \
                 would answer, and echoing could start an endless loop"
            ),
        }
    }
}

/// One UDP socket's echo.
pub(super) struct DatagramEcho {
    pub(super) socket: UdpSocket,
    pub(super) addr: SocketAddr,
    /// What the socket reports of each datagram's header, and what is done with it.
    pub(super) headers: Headers,
    pub(super) counters: Arc<DatagramCounters>,
    /// Who may be echoed to.
    pub(super) access: Access,
    /// Each source's allowance, with `--udp-rate-per-source`.
    pub(super) source_rates: Option<Arc<SourceRates>>,
    pub(super) stopping: Arc<AtomicBool>,
}

/// What the echo asks the system to report of each datagram, and what it does with it.
#[derive(Debug, Default)]
pub(super) struct Headers {
    /// The socket is on a wildcard address: each echo leaves from the address its datagram was
    /// sent to, which the system reports.
    answer_from_destination: bool,
    /// `--reflect-tos`: each echo leaves with its datagram's traffic class.
    reflect: bool,
    /// The traffic class the socket sends with now (set only when it changes).
    class_now: u8,
}

impl Headers {
    fn any(&self) -> bool {
        self.answer_from_destination || self.reflect
    }
}

impl Headers {
    /// Asks the system for what the echo on `socket` (at `addr`) needs of each datagram's
    /// header; says what it cannot have.
    pub(super) fn ask(socket: &UdpSocket, addr: SocketAddr, marking: EchoMarking) -> Headers {
        let v6 = addr.is_ipv6();
        let mut answer_from_destination = addr.ip().is_unspecified();
        if answer_from_destination {
            if let Err(err) = sys::report_destination(socket.into(), v6) {
                warn!(
                    "udp {addr}: answers may leave from another address than the one asked, \
                     which connected clients, NATs and firewalls drop: {err}"
                );
                answer_from_destination = false;
            }
        }
        let reflect = marking == EchoMarking::Reflected;
        if reflect && !sys::report_marks(socket.into(), v6).tos {
            warn!(
                "udp {addr}: this system does not say what marking a datagram arrived with: \
                 echoes leave with the server's own"
            );
        }
        Headers {
            answer_from_destination,
            reflect,
            class_now: 0,
        }
    }
}

impl DatagramEcho {
    /// Receives one datagram, with what the echo needs of its header.
    fn receive(
        &self,
        buffer: &mut [u8],
        headers: &Headers,
    ) -> io::Result<(usize, SocketAddr, Arrival)> {
        match headers.any() {
            true => sys::receive(socket2::SockRef::from(&self.socket), buffer),
            false => self
                .socket
                .recv_from(buffer)
                .map(|(len, peer)| (len, peer, Arrival::default())),
        }
    }

    /// Sends the echo of `datagram` to `peer`, from the address it was sent to and with the
    /// marking it came with, as `headers` ask.
    fn answer(
        &self,
        datagram: &[u8],
        peer: SocketAddr,
        arrival: &Arrival,
        headers: &mut Headers,
    ) -> io::Result<usize> {
        if let Some(class) = arrival.tos {
            self.counters.arrived_with(class);
            if headers.reflect && class != headers.class_now {
                let marking = sys::Marking {
                    tos: Some(class),
                    ..sys::Marking::default()
                };
                sys::set_marking((&self.socket).into(), self.addr.is_ipv6(), marking)?;
                headers.class_now = class;
            }
        }
        match arrival.destination {
            Some(from) if headers.answer_from_destination => {
                sys::send_from((&self.socket).into(), datagram, peer, from)
            }
            None if headers.answer_from_destination => {
                // Asked for, and not given: said once, and answered as the routing table says.
                headers.answer_from_destination = false;
                warn!(
                    "udp {}: the system did not say where a datagram was sent to: answers leave \
                     from the address the routing table picks",
                    self.addr
                );
                self.socket.send_to(datagram, peer)
            }
            _ => self.socket.send_to(datagram, peer),
        }
    }

    /// Echoes datagrams until the server shuts down. Errors of one datagram never stop it.
    pub(super) fn run(mut self) {
        let mut buffer = vec![0u8; LARGEST_DATAGRAM];
        let mut refusals = RateLimited::new(WARNING_INTERVAL);
        let mut failures = RateLimited::new(WARNING_INTERVAL);
        let mut denials = RateLimited::new(WARNING_INTERVAL);
        let mut over_rate = RateLimited::new(WARNING_INTERVAL);
        let own_port = self.addr.port();
        let mut headers = std::mem::take(&mut self.headers);
        loop {
            let received = self.receive(&mut buffer, &headers);
            if self.stopping.load(Ordering::SeqCst) {
                // The shutdown's own wake-up datagram, or the last one before it: not echoed.
                return;
            }
            let (len, peer, arrival) = match received {
                Ok(received) => received,
                Err(err) => {
                    self.counters.failed();
                    match err.kind() {
                        // One datagram's fault (an ICMP error about an earlier one, where the
                        // system reports those): on to the next.
                        io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionRefused => {}
                        _ => {
                            failures.warn(|again| {
                                format!("udp {}: receive failed: {err}, retrying{again}", self.addr)
                            });
                            thread::sleep(ERROR_BACKOFF);
                        }
                    }
                    continue;
                }
            };
            let datagram = &buffer[..len];
            if let Some(refusal) = Refusal::of(peer, own_port) {
                self.counters.refused();
                refusals.warn(|again| {
                    format!(
                        "udp {peer}: a datagram of {len} bytes not echoed: {}{again}",
                        refusal.reason()
                    )
                });
                continue;
            }
            if !self.access.permits(peer.ip()) {
                self.counters.denied();
                denials.warn(|again| {
                    format!("udp {peer}: a datagram of {len} bytes not echoed: its source is not allowed{again}")
                });
                continue;
            }
            if let Some(rates) = &self.source_rates {
                if !rates.allows(peer.ip(), std::time::Instant::now()) {
                    // Dropped without a word per datagram: a flood is what this is for.
                    self.counters.rate_limited();
                    over_rate.warn(|again| {
                        format!("udp {peer}: datagrams beyond its rate are dropped{again}")
                    });
                    continue;
                }
            }
            trace_chunk(peer, Direction::Received, datagram);
            if let (true, Some(class)) = (headers.reflect, arrival.tos) {
                debug!(
                    "udp {peer}: {len} bytes arrived marked {}",
                    crate::net::class_name(class)
                );
            }
            // Counted before it goes, so that whoever has the echo sees it counted (and taken
            // back if the send fails).
            self.counters.echoed(len as u64);
            match self.answer(datagram, peer, &arrival, &mut headers) {
                Ok(_) => {}
                Err(err) => {
                    self.counters.not_echoed(len as u64);
                    self.counters.failed();
                    failures.warn(|again| {
                        format!("udp {peer}: could not echo {len} bytes: {err}{again}")
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_from_answering_ports_are_refused() {
        let from = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        assert_eq!(Refusal::of(from(0), 7), Some(Refusal::PortZero));
        assert_eq!(
            Refusal::of(from(19), 8888),
            Some(Refusal::AnsweringService(19, "chargen"))
        );
        assert_eq!(
            Refusal::of(from(7), 8888),
            Some(Refusal::AnsweringService(7, "echo"))
        );
        assert_eq!(Refusal::of(from(8888), 8888), Some(Refusal::OwnPort(8888)));
        assert_eq!(Refusal::of(from(40000), 8888), None);
        assert_eq!(Refusal::of(from(53), 8888), None);
    }
}
