//! The handles other threads hold on a running server: one stops it, one reads its counters.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use log::warn;

use super::{Shared, StatsSnapshot};

/// How long a shutdown waits for its wake-up connection to the listener; on loopback it takes
/// microseconds, and only a listener whose queue is full could make it wait at all.
const WAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// Stops a running [`Server`](super::Server) from another thread (a signal handler, a test).
#[derive(Clone)]
pub struct ShutdownHandle {
    pub(super) shared: Arc<Shared>,
}

impl ShutdownHandle {
    /// Asks the server to stop: the accept loops end, every client connection is closed and
    /// [`Server::run`](super::Server::run) returns once the client threads have been joined. Calling it again does
    /// nothing more.
    pub fn shutdown(&self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // A thread blocked in accept() is woken by what it waits for: one connection. (Shutting
        // the listener down wakes it on Linux only; macOS and Windows leave it blocked.) The
        // accept loop sees the flag as soon as accept() returns and drops this connection
        // uncounted.
        for &(_, addr) in &self.shared.listeners {
            let target = wake_address(addr);
            if let Err(err) = TcpStream::connect_timeout(&target, WAKE_TIMEOUT) {
                warn!("could not wake the accept loop through {target}: {err}");
            }
        }
        // A UDP thread blocked in recv_from() is woken the same way: by one datagram.
        for &addr in &self.shared.datagram_addrs {
            let target = wake_address(addr);
            let unspecified: SocketAddr = match target {
                SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            let sent = UdpSocket::bind(unspecified).and_then(|socket| socket.send_to(&[], target));
            if let Err(err) = sent {
                warn!("could not wake the udp echo through {target}: {err}");
            }
        }
    }
}

/// Reads a running [`Server`](super::Server)'s state from another thread: its counters, its thread cache.
#[derive(Clone)]
pub struct ServerProbe {
    pub(super) shared: Arc<Shared>,
}

impl ServerProbe {
    /// The server's counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats()
    }

    /// Client threads waiting for a client now ([`ThreadCacheConfig`](super::ThreadCacheConfig)).
    pub fn parked_threads(&self) -> usize {
        self.shared.cache.parked_threads()
    }

    /// Waits until at most `clients` clients are being served, or `limit` has passed; returns
    /// whether it got there. Woken by each client that leaves, not by polling.
    pub fn wait_until_active_at_most(&self, clients: usize, limit: Duration) -> bool {
        let client_limit = &self.shared.limit;
        self.shared
            .registry
            .wait_until(limit, || client_limit.active() <= clients)
    }
}

/// Where to connect to reach a listener on `addr`: the address itself, or loopback of the same
/// family for a wildcard (`0.0.0.0`, `::`), which cannot be connected to.
fn wake_address(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        ip if !ip.is_unspecified() => ip,
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    SocketAddr::new(ip, addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listener_is_woken_through_loopback() {
        let wake = |addr: &str| wake_address(addr.parse().unwrap()).to_string();
        assert_eq!(wake("0.0.0.0:7"), "127.0.0.1:7");
        assert_eq!(wake("[::]:7"), "[::1]:7");
        assert_eq!(wake("127.0.0.2:7"), "127.0.0.2:7");
    }
}
