//! A client's datagram socket: aimed at the server (connected), so that where the system reports
//! a closed port (ICMP port unreachable) the client can say that nothing listens there, at once.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use anyhow::Context;

use super::Target;

/// The largest datagram UDP carries over IPv6 (over IPv4: 65 507), and a byte more, so that a
/// receive into this much can never be cut off.
pub(crate) const RECEIVE_BUFFER: usize = 65_536;

/// Nothing listens where the datagrams go: the system said so (an ICMP port unreachable,
/// reported on a connected socket).
#[derive(Debug)]
pub struct NothingListening(pub SocketAddr);

impl fmt::Display for NothingListening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nothing is listening on udp {}", self.0)
    }
}

impl std::error::Error for NothingListening {}

/// A UDP socket aimed at `target`'s first address, and that address.
pub(crate) fn connect_datagram(target: &Target) -> anyhow::Result<(UdpSocket, SocketAddr)> {
    let server = *target.addrs().first().context("no address to send to")?;
    let any: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(any).context("could not create a UDP socket")?;
    socket
        .connect(server)
        .with_context(|| format!("could not send to udp {server}"))?;
    // A socket bound to the very port it is aimed at receives its own datagrams, a perfect
    // "echo" (as TCP's self-connection): never use it.
    if socket.local_addr().ok() == Some(server) {
        return Err(anyhow::Error::new(super::SelfConnection(server)));
    }
    Ok((socket, server))
}

/// Whether `err`, from a connected UDP socket, means that nothing listens at its peer (Linux
/// and macOS report ECONNREFUSED; Windows, WSAECONNRESET).
pub(crate) fn means_nothing_listens(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    )
}
