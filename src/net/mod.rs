//! The transport below both the client's modes and the measuring tools, and the server's
//! sockets: resolving, connecting (with the self-connection check), a client's stream and
//! datagram primitives, and listening.
//!
//! - `target.rs`: [`Target`], where a client connects;
//! - `stream.rs`: connecting with timeouts, sending all, reading a reply whole and why it fell
//!   short;
//! - `datagram.rs`: a UDP socket aimed at the server, and "nothing listens there";
//! - `listen.rs`: the server's listening and UDP sockets on every address.

mod datagram;
mod listen;
mod marking;
mod stream;
mod target;

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context};

pub use datagram::NothingListening;
pub(crate) use datagram::{
    aimed_at, check_fits, connect_datagram, is_too_big, means_nothing_listens, receive_marked,
    too_big, RECEIVE_BUFFER,
};
pub(crate) use listen::listen_on_all;
pub(crate) use marking::{class_name, classes_counted};
pub use marking::{traffic_class_unsupported, Dscp, Ecn, Family, Fragmenting, Marks, PathOptions};
pub(crate) use stream::{
    connect_with_timeouts, is_hang_up, read_full, send_all, turned_away, Answered, ShortRead,
    ShortReadCause,
};
pub use target::Target;

/// Resolves `host` (an IPv4 or IPv6 literal or a host name) and `port` to socket addresses.
pub(crate) fn resolve(host: &str, port: u16) -> anyhow::Result<Vec<SocketAddr>> {
    // `[::1]` is how users write IPv6 addresses next to a port; accept it here too.
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let addrs: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .with_context(|| format!("could not resolve host '{host}'"))?
        .collect();
    if addrs.is_empty() {
        bail!("could not resolve host '{host}': no addresses found");
    }
    Ok(addrs)
}

/// Connects to the first of `addrs` that accepts, each attempt bounded by `timeout` (`None`:
/// the operating system's own limit), on a socket made with `path`'s options.
///
/// The connection has `TCP_NODELAY` set: an echo client waits for each reply, and Nagle's
/// algorithm would hold back a small write until the previous one is acknowledged.
pub(crate) fn connect_to(
    addrs: &[SocketAddr],
    timeout: Option<Duration>,
    path: &PathOptions,
) -> anyhow::Result<TcpStream> {
    let mut last_error = None;
    for &addr in addrs {
        let socket = stream_socket(addr, path)?;
        let attempt = match timeout {
            Some(limit) => socket.connect_timeout(&addr.into(), limit),
            None => socket.connect(&addr.into()),
        }
        // A server that accepts and closes at once (one at its client limit) can hang up before
        // the wait for the handshake looks, which then reads as a failed connect without an
        // error (socket2's WSAPoll on Windows does): a socket that has a peer was connected, and
        // its first read tells the rest.
        .or_else(|err| socket.peer_addr().map(drop).map_err(|_| err));
        match attempt {
            Ok(()) => {
                let stream: TcpStream = socket.into();
                if let Ok(local) = stream.local_addr() {
                    if is_self_connection(local, addr) {
                        return Err(anyhow::Error::new(SelfConnection(addr)));
                    }
                }
                stream
                    .set_nodelay(true)
                    .with_context(|| format!("could not set TCP_NODELAY on {addr}"))?;
                return Ok(stream);
            }
            Err(err) => last_error = Some((addr, err)),
        }
    }
    match last_error {
        Some((addr, err)) => Err(describe_connect_error(addr, err, timeout)),
        None => bail!("no address to connect to"),
    }
}

/// A stream socket for `server`, not yet connected, with `path`'s marking and source address.
pub(crate) fn stream_socket(
    server: SocketAddr,
    path: &PathOptions,
) -> anyhow::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(server),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .context("could not create a TCP socket")?;
    prepare(&socket, server, path)?;
    Ok(socket)
}

/// Applies `path` to a new socket for `server`: its marking, then its source address.
pub(crate) fn prepare(
    socket: &socket2::Socket,
    server: SocketAddr,
    path: &PathOptions,
) -> anyhow::Result<()> {
    crate::sys::datagram::set_marking(socket.into(), server.is_ipv6(), path.marking())
        .context("could not mark the socket (--dscp, --ecn, --ttl, --df)")?;
    if let Some(source) = path.source {
        target::check_source(source, server)?;
        socket
            .bind(&source.into())
            .with_context(|| format!("could not send from {source} (--source)"))?;
    }
    Ok(())
}

/// A connection whose two ends are one socket: TCP's simultaneous open lets a connect to a free
/// port in the ephemeral range (every `--port 0` server's, once it has gone) pick that same port
/// as its own, and such a socket echoes everything, perfectly. It is never used.
#[derive(Debug)]
pub(crate) struct SelfConnection(pub(crate) SocketAddr);

impl std::fmt::Display for SelfConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the connection to {} was connected to itself (nothing listens there); refused",
            self.0
        )
    }
}

impl std::error::Error for SelfConnection {}

/// Whether a connection from `local` to `peer` is a socket connected to itself.
fn is_self_connection(local: SocketAddr, peer: SocketAddr) -> bool {
    local == peer
}

fn describe_connect_error(
    addr: SocketAddr,
    err: io::Error,
    timeout: Option<Duration>,
) -> anyhow::Error {
    let hint = match err.kind() {
        io::ErrorKind::ConnectionRefused => {
            " (is soc_server running on that address and port?)".to_string()
        }
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => match timeout {
            Some(limit) => format!(" (no answer within {})", crate::human::secs(limit)),
            None => " (no answer)".to_string(),
        },
        _ => String::new(),
    };
    anyhow::Error::new(err).context(format!("could not connect to {addr}{hint}"))
}

/// True for the error a socket read or write returns when its timeout (`SO_RCVTIMEO`,
/// `SO_SNDTIMEO`) passes without progress.
pub(crate) fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::is_self_connection;

    #[test]
    fn a_socket_connected_to_itself_is_recognised() {
        let me = "127.0.0.1:40000".parse().unwrap();
        assert!(is_self_connection(me, me));
        let server = "127.0.0.1:40001".parse().unwrap();
        assert!(!is_self_connection(me, server));
        let other_host = "127.0.0.2:40000".parse().unwrap();
        assert!(!is_self_connection(me, other_host));
    }
}
