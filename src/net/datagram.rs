//! A client's datagram socket: aimed at the server (connected), so that where the system reports
//! a closed port (ICMP port unreachable) the client can say that nothing listens there, at once.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use anyhow::Context;

use socket2::SockRef;

use super::marking::{Marks, PathOptions};
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

/// A UDP socket aimed at `target`'s first address (with its path options), and that address.
pub(crate) fn connect_datagram(target: &Target) -> anyhow::Result<(UdpSocket, SocketAddr)> {
    let server = *target.addrs().first().context("no address to send to")?;
    Ok((aimed_at(server, target.path())?, server))
}

/// A UDP socket connected to `server`, made with `path`'s options, that reports the marking of
/// what it receives where the system can ([`receive_marked`]).
pub(crate) fn aimed_at(server: SocketAddr, path: &PathOptions) -> anyhow::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(server),
        Type::DGRAM,
        Some(Protocol::UDP),
    )
    .context("could not create a UDP socket")?;
    super::prepare(&socket, server, path)?;
    if path.source.is_none() {
        let any: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        socket
            .bind(&any.into())
            .context("could not create a UDP socket")?;
    }
    // Where the system cannot, the echoes' marking is "not available" and nothing else changes.
    crate::sys::datagram::report_marks((&socket).into(), server.is_ipv6());
    socket
        .connect(&server.into())
        .with_context(|| format!("could not send to udp {server}"))?;
    let socket: UdpSocket = socket.into();
    // A socket bound to the very port it is aimed at receives its own datagrams, a perfect
    // "echo" (as TCP's self-connection): never use it.
    if socket.local_addr().ok() == Some(server) {
        return Err(anyhow::Error::new(super::SelfConnection(server)));
    }
    Ok(socket)
}

/// Receives one datagram on a socket from [`aimed_at`]: its length, and the marking it arrived
/// with as far as the system says.
pub(crate) fn receive_marked(socket: SockRef<'_>, buf: &mut [u8]) -> io::Result<(usize, Marks)> {
    let (len, _, arrival) = crate::sys::datagram::receive(socket, buf)?;
    Ok((
        len,
        Marks {
            class: arrival.tos,
            ttl: arrival.ttl,
        },
    ))
}

/// A datagram too big for the path with `--df`: one line with its size, and the path's MTU where
/// the system says it.
pub(crate) fn too_big(socket: SockRef<'_>, server: SocketAddr, size: usize) -> anyhow::Error {
    let mtu = crate::sys::datagram::path_mtu(socket, server.is_ipv6())
        .map(|mtu| format!(" (path MTU {mtu})"))
        .unwrap_or_default();
    anyhow::anyhow!(
        "a datagram of {size} bytes is too big for the path to udp {server}{mtu}, and --df \
         forbids fragmenting it"
    )
}

/// With `--df`, refuses at once a datagram of `size` bytes that cannot fit the path MTU the
/// system knows for `socket` (Linux); elsewhere the first send says so.
pub(crate) fn check_fits(
    socket: &UdpSocket,
    server: SocketAddr,
    size: usize,
    path: &PathOptions,
) -> anyhow::Result<()> {
    if path.fragmenting != super::Fragmenting::Forbidden {
        return Ok(());
    }
    // The IP and UDP headers around the payload.
    let headers = if server.is_ipv6() { 48 } else { 28 };
    match crate::sys::datagram::path_mtu(socket.into(), server.is_ipv6()) {
        Some(mtu) if size + headers > mtu as usize => Err(too_big(socket.into(), server, size)),
        _ => Ok(()),
    }
}

/// Whether `err`, from a send, says the datagram was too big to leave unfragmented.
pub(crate) fn is_too_big(err: &io::Error) -> bool {
    crate::sys::datagram::is_too_big(err)
}

/// Whether `err`, from a connected UDP socket, means that nothing listens at its peer (Linux
/// and macOS report ECONNREFUSED; Windows, WSAECONNRESET).
pub(crate) fn means_nothing_listens(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    )
}
