//! The server's sockets: a TCP listener and a UDP socket per address, on one port, each claimed
//! on its system's terms.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

use super::resolve;

/// How many not-yet-accepted connections the kernel queues for us.
///
/// A burst of connects larger than the backlog gets SYNs dropped and retried a second later, which
/// shows up as 1 s latency spikes under churn; Linux caps the value at `net.core.somaxconn`.
const LISTEN_BACKLOG: i32 = 1024;

/// What a listening socket on the IPv6 wildcard `::` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WildcardV6 {
    /// IPv6 clients only (so that `0.0.0.0` can listen beside it on the same port).
    Ipv6Only,
    /// IPv4 clients too, as IPv4-mapped addresses, where the system allows it (ncat's and
    /// Python's `dualstack_ipv6=True` behaviour).
    DualStack,
}

/// Creates a listening socket on `addr`: Python's `socket()`, `bind()` and `listen()` in one.
///
/// The port is claimed on each system's terms ([`crate::sys::claim_listening_port`]: a restarted
/// server binds again at once, and no second server can take a port in use). An IPv6 socket
/// listens on IPv6 only, except on the wildcard `::` with [`WildcardV6::DualStack`].
fn listen(addr: SocketAddr, wildcard: WildcardV6) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    crate::sys::claim_listening_port(&socket)?;
    if addr.is_ipv6() {
        let dual_stack = addr.ip().is_unspecified() && wildcard == WildcardV6::DualStack;
        if let Err(err) = socket.set_only_v6(!dual_stack) {
            if !dual_stack {
                return Err(err);
            }
            log::warn!(
                "{addr} listens on IPv6 only: this system has no dual-stack sockets ({err})"
            );
        }
    }
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Bytes a UDP socket of the echo server asks the system to queue for it: room for a burst of
/// datagrams while its thread is busy (the system may grant less: Linux caps it at
/// `net.core.rmem_max`).
const UDP_RECEIVE_BUFFER: usize = 1 << 20;

/// Creates a UDP socket bound to `addr`: Python's `socket(AF_INET, SOCK_DGRAM)` and `bind()`.
/// The port is claimed on each system's terms ([`crate::sys::claim_datagram_port`]), and a
/// datagram that could not be delivered does not fail the next receive
/// ([`crate::sys::ignore_port_unreachable`]). An IPv6 socket is IPv6 only, except on the
/// wildcard `::` with [`WildcardV6::DualStack`], as for TCP.
fn bind_udp(addr: SocketAddr, wildcard: WildcardV6) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    crate::sys::claim_datagram_port(&socket)?;
    if addr.is_ipv6() {
        let dual_stack = addr.ip().is_unspecified() && wildcard == WildcardV6::DualStack;
        if let Err(err) = socket.set_only_v6(!dual_stack) {
            if !dual_stack {
                return Err(err);
            }
        }
    }
    crate::sys::ignore_port_unreachable(&socket)?;
    let _ = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// What the server listens on: a TCP listener per address, and a UDP socket per address when
/// UDP is asked for, all on one port number.
pub(crate) struct Listening {
    pub(crate) tcp: Vec<TcpListener>,
    pub(crate) udp: Vec<UdpSocket>,
}

/// How often port 0 is chosen again when the port the first address got is taken on another.
const PORT_CHOICES: usize = 8;

/// Resolves every one of `hosts` and listens on every address they name, all on `port` (with
/// port 0, the port the system gives the first address is asked for on the others too), with
/// TCP and, when `udp`, UDP on the same port number.
///
/// A host name may resolve to several addresses (`localhost`: `127.0.0.1` and `::1`): each is
/// listened on. An address this machine cannot listen on (IPv6 switched off, say) is skipped
/// with a warning while another one works; a port in use or a privileged port fails the whole.
/// `::` accepts IPv4 clients too, unless `0.0.0.0` is asked for beside it.
pub(crate) fn listen_on_all(
    hosts: &[impl AsRef<str>],
    port: u16,
    udp: bool,
) -> anyhow::Result<Listening> {
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for host in hosts {
        for addr in resolve(host.as_ref(), port)? {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
    }
    let ipv4_wildcard_asked = addrs
        .iter()
        .any(|addr| addr.is_ipv4() && addr.ip().is_unspecified());
    let wildcard = match ipv4_wildcard_asked {
        true => WildcardV6::Ipv6Only,
        false => WildcardV6::DualStack,
    };
    let mut attempt = 0;
    'choose_port: loop {
        attempt += 1;
        let mut listeners = Vec::new();
        let mut skipped = Vec::new();
        let mut chosen = port;
        for &addr in &addrs {
            let addr = SocketAddr::new(addr.ip(), chosen);
            match listen(addr, wildcard) {
                Ok(listener) => {
                    if chosen == 0 {
                        chosen = listener.local_addr()?.port();
                    }
                    listeners.push(listener);
                }
                Err(err)
                    if port == 0
                        && chosen != 0
                        && err.kind() == io::ErrorKind::AddrInUse
                        && attempt < PORT_CHOICES =>
                {
                    continue 'choose_port;
                }
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
                    ) =>
                {
                    return Err(describe_listen_error(addr, err));
                }
                Err(err) => skipped.push((addr, err)),
            }
        }
        if listeners.is_empty() {
            let (addr, err) = skipped.remove(0);
            return Err(describe_listen_error(addr, err));
        }
        let mut datagram_sockets = Vec::new();
        if udp {
            for listener in &listeners {
                let addr = listener.local_addr()?;
                match bind_udp(addr, wildcard) {
                    Ok(socket) => datagram_sockets.push(socket),
                    // The port the system gave TCP is taken for UDP: choose another pair.
                    Err(err)
                        if port == 0
                            && err.kind() == io::ErrorKind::AddrInUse
                            && attempt < PORT_CHOICES =>
                    {
                        continue 'choose_port;
                    }
                    Err(err) => {
                        let hint = match err.kind() {
                            io::ErrorKind::AddrInUse => {
                                " (is another program using this UDP port?)"
                            }
                            io::ErrorKind::PermissionDenied => {
                                " (ports below 1024 need privileges)"
                            }
                            _ => "",
                        };
                        return Err(anyhow::Error::new(err)
                            .context(format!("could not listen on udp {addr}{hint}")));
                    }
                }
            }
        }
        for (addr, err) in skipped {
            log::warn!("{:#}", describe_listen_error(addr, err).context("skipped"));
        }
        return Ok(Listening {
            tcp: listeners,
            udp: datagram_sockets,
        });
    }
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
