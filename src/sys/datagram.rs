//! What the IP header of a datagram says, and what it is to say: the local address a datagram
//! was sent to (so that a server on a wildcard address answers from it), the traffic class
//! (DSCP and ECN) and the TTL or hop limit it arrived with, and the marking it leaves with.
//! Each system reports these its own way (ancillary data of recvmsg and WSARecvMsg, under names
//! that differ); here they are one interface.

use std::io;
use std::net::{IpAddr, SocketAddr};

use socket2::SockRef;

use super::imp;

/// The local address a datagram was sent to, and the interface it came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Destination {
    pub(crate) ip: IpAddr,
    pub(crate) interface: u32,
}

/// What the system said about a datagram besides its bytes and sender: each part only where
/// the socket asked for it and the system gives it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Arrival {
    pub(crate) destination: Option<Destination>,
    /// The IPv4 TOS byte or IPv6 traffic class: DSCP in the high six bits, ECN in the low two.
    pub(crate) tos: Option<u8>,
    /// The TTL (IPv4) or hop limit (IPv6).
    pub(crate) ttl: Option<u8>,
}

/// Which parts of the header a socket reports with each datagram, as far as the system could
/// be asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reported {
    pub(crate) tos: bool,
    pub(crate) ttl: bool,
}

/// Asks the system to report each datagram's destination address (for a socket on a wildcard
/// address, whose answers must leave from it).
pub(crate) fn report_destination(socket: SockRef<'_>, v6: bool) -> io::Result<()> {
    imp::report_destination(socket, v6)
}

/// Asks the system to report each datagram's traffic class and TTL; says which it will.
pub(crate) fn report_marks(socket: SockRef<'_>, v6: bool) -> Reported {
    imp::report_marks(socket, v6)
}

/// Receives one datagram into `buf`: its length, its sender, and what the socket was asked to
/// report of it.
pub(crate) fn receive(
    socket: SockRef<'_>,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Arrival)> {
    imp::receive(socket, buf)
}

/// Sends `buf` to `to`, from the local address `from` (a datagram's destination, so that the
/// answer leaves from the address that was asked).
pub(crate) fn send_from(
    socket: SockRef<'_>,
    buf: &[u8],
    to: SocketAddr,
    from: Destination,
) -> io::Result<usize> {
    imp::send_from(socket, buf, to, from)
}

/// What a socket's datagrams (or a stream's segments) are to leave with. `None`: the system's
/// default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Marking {
    pub(crate) tos: Option<u8>,
    pub(crate) ttl: Option<u8>,
    /// Never fragmented: a datagram too big for the path fails instead.
    pub(crate) dont_fragment: bool,
}

/// Sets `marking` on a socket of the family `v6` says. A dual-stack IPv6 socket gets the IPv4
/// options too, for its IPv4 peers.
pub(crate) fn set_marking(socket: SockRef<'_>, v6: bool, marking: Marking) -> io::Result<()> {
    imp::set_marking(socket, v6, marking)
}

/// Why this system cannot set a traffic class, if it cannot.
pub(crate) fn traffic_class_unsupported() -> Option<&'static str> {
    imp::TRAFFIC_CLASS_UNSUPPORTED
}

/// Whether `err` says a datagram was too big to leave unfragmented.
pub(crate) fn is_too_big(err: &io::Error) -> bool {
    imp::is_too_big(err)
}

/// The path MTU a connected socket knows, where the system says (Linux).
pub(crate) fn path_mtu(socket: SockRef<'_>, v6: bool) -> Option<u32> {
    imp::path_mtu(socket, v6)
}
