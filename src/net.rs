//! Address resolution, the listening socket and the outgoing connection: the socket set-up that
//! the server and the client share.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context};
use socket2::{Domain, Protocol, Socket, Type};

/// How many not-yet-accepted connections the kernel queues for us.
///
/// A burst of connects larger than the backlog gets SYNs dropped and retried a second later, which
/// shows up as 1 s latency spikes under churn; Linux caps the value at `net.core.somaxconn`.
pub const LISTEN_BACKLOG: i32 = 1024;

/// Resolves `host` (an IPv4 or IPv6 literal or a host name) and `port` to socket addresses.
pub fn resolve(host: &str, port: u16) -> anyhow::Result<Vec<SocketAddr>> {
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

/// Creates a listening socket on `addr`: Python's `socket()`, `bind()` and `listen()` in one.
///
/// The port is claimed on each system's terms ([`crate::sys::claim_listening_port`]: a restarted
/// server binds again at once, and no second server can take a port in use); an IPv6 socket
/// listens on IPv6 only so that `::` and `0.0.0.0` behave alike on every system.
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    crate::sys::claim_listening_port(&socket)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Resolves `host:port` and listens on the first address that works.
pub fn listen_on(host: &str, port: u16) -> anyhow::Result<TcpListener> {
    let mut last_error = None;
    for addr in resolve(host, port)? {
        match listen(addr) {
            Ok(listener) => return Ok(listener),
            Err(err) => last_error = Some((addr, err)),
        }
    }
    let (addr, err) = last_error.expect("resolve returns at least one address");
    Err(describe_listen_error(addr, err))
}

fn describe_listen_error(addr: SocketAddr, err: io::Error) -> anyhow::Error {
    let hint = match err.kind() {
        io::ErrorKind::AddrInUse => " (is another server already using this port?)",
        io::ErrorKind::AddrNotAvailable => " (that address does not belong to this machine)",
        io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges)",
        _ => "",
    };
    anyhow::Error::new(err).context(format!("could not listen on {addr}{hint}"))
}

/// Resolves `host:port` and connects to the first address that accepts, each attempt bounded by
/// `timeout` (`None`: the operating system's own limit).
///
/// The connection has `TCP_NODELAY` set: an echo client waits for each reply, and Nagle's
/// algorithm would hold back a small write until the previous one is acknowledged.
pub fn connect(host: &str, port: u16, timeout: Option<Duration>) -> anyhow::Result<TcpStream> {
    connect_to(&resolve(host, port)?, timeout)
}

/// Connects to the first of `addrs` that accepts (see [`connect`]); for callers that connect
/// again and again and resolve once.
pub fn connect_to(addrs: &[SocketAddr], timeout: Option<Duration>) -> anyhow::Result<TcpStream> {
    let mut last_error = None;
    for &addr in addrs {
        let attempt = match timeout {
            Some(limit) => TcpStream::connect_timeout(&addr, limit),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(stream) => {
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
            Some(limit) => format!(" (no answer within {})", crate::cli::format_secs(limit)),
            None => " (no answer)".to_string(),
        },
        _ => String::new(),
    };
    anyhow::Error::new(err).context(format!("could not connect to {addr}{hint}"))
}

/// True for a socket error that means the peer is gone (reset, closed, aborted), as opposed to a
/// local fault.
pub fn is_disconnect(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

/// True for the error a socket read or write returns when its timeout (`SO_RCVTIMEO`,
/// `SO_SNDTIMEO`) passes without progress.
pub fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
