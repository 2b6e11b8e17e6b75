//! The server: listening sockets, one accept loop each, one thread per client, and shutdown.
//!
//! - `accept.rs`: the accept loops; the only code that admits clients and hands them to threads.
//! - `client_limit.rs`: the limit on clients served at once, and the place each one holds.
//! - `client.rs`: serving one client (socket options, the echo loop, its log lines) and the guard
//!   that accounts for it however it ends.
//! - `thread_cache.rs`: threads kept between clients, so that a short connection costs a wake-up
//!   rather than a thread creation.
//! - `udp.rs`: the UDP echo, one thread per UDP socket.
//! - `stats.rs`: the counters.
//!
//! A [`ShutdownHandle`] stops a running server; a [`ServerProbe`] reads its counters (tests,
//! tools). Both may be taken before [`Server::run`] and used from any thread.

mod accept;
mod client;
mod client_limit;
mod source;
mod stats;
mod thread_cache;
mod udp;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::Context;
use log::{error, info, warn};

use crate::human::plural;
use crate::limits::{Hinted, Limit, Setting, SettingNames};
use accept::Acceptor;
use client::{ClientJob, Registry, Serving, CLIENT_STACK_SIZE};
use client_limit::ClientLimit;
use stats::{Counters, DatagramCounters};
use thread_cache::ThreadCache;
use udp::DatagramEcho;

pub use stats::{DatagramStats, StatsSnapshot};
pub use thread_cache::ThreadCacheConfig;

/// How long a shutdown waits for its wake-up connection to the listener; on loopback it takes
/// microseconds, and only a listener whose queue is full could make it wait at all.
const WAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// What the server is allowed to do.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Most clients served at once; a connection beyond that is accepted and closed at once.
    pub max_clients: usize,
    /// Most clients served at once from one source (an IPv4 address, an IPv6 /64), so that one
    /// host cannot take every place; `None`: no such limit. Beyond it, as beyond
    /// `max_clients`, a connection is accepted and closed at once.
    pub max_per_source: Option<usize>,
    /// How long a client may send nothing, or leave its echo unread, before it is disconnected.
    pub idle_timeout: Limit,
    /// How many client threads wait for the next client once theirs has left, and for how long.
    pub thread_cache: ThreadCacheConfig,
    /// Serve UDP echo as well, on every address and the same port number.
    pub udp: bool,
    /// How the log names a setting it points at (soc_server: its flags).
    pub names: SettingNames,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_clients: 1024,
            max_per_source: None,
            idle_timeout: Limit::After(Duration::from_secs(300)),
            thread_cache: ThreadCacheConfig::default(),
            udp: false,
            names: Setting::field,
        }
    }
}

/// State shared by the accept loops, the client threads, and the handles.
struct Shared {
    /// Every listening socket, each with the address it listens on.
    listeners: Vec<(TcpListener, SocketAddr)>,
    /// The address of every UDP socket (their threads own the sockets).
    datagram_addrs: Vec<SocketAddr>,
    datagram_counters: Option<Arc<DatagramCounters>>,
    config: ServerConfig,
    /// Clients the open-file limit leaves room for at once (at most `config.max_clients`).
    room_for_clients: usize,
    stopping: Arc<AtomicBool>,
    /// The last client id handed out (ids are unique over all listeners).
    next_id: AtomicU64,
    limit: Arc<ClientLimit>,
    registry: Arc<Registry>,
    counters: Arc<Counters>,
    cache: Arc<ThreadCache<ClientJob>>,
}

impl Shared {
    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn next_client_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn stats(&self) -> StatsSnapshot {
        let sources = self.config.max_per_source.map(|_| self.limit.sources());
        self.counters.snapshot(
            self.limit.active(),
            sources,
            self.datagram_counters.as_deref(),
        )
    }
}

/// A bound, listening echo server, not yet accepting.
pub struct Server {
    shared: Arc<Shared>,
    /// The UDP sockets, until `run` hands each to its thread.
    datagram_sockets: Vec<UdpSocket>,
}

/// Stops a running [`Server`] from another thread (a signal handler, a test).
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

impl ShutdownHandle {
    /// Asks the server to stop: the accept loops end, every client connection is closed and
    /// [`Server::run`] returns once the client threads have been joined. Calling it again does
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

/// Reads a running [`Server`]'s state from another thread: its counters, its thread cache.
#[derive(Clone)]
pub struct ServerProbe {
    shared: Arc<Shared>,
}

impl ServerProbe {
    /// The server's counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats()
    }

    /// Client threads waiting for a client now ([`ThreadCacheConfig`]).
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

impl Server {
    /// Resolves every one of `hosts`, and listens on `port` on every address they name (port 0:
    /// the OS chooses one, the same for all). A name is listened on at every address it resolves to; an
    /// address this machine cannot listen on is skipped with a warning while another one works.
    pub fn bind(
        hosts: &[impl AsRef<str>],
        port: u16,
        config: ServerConfig,
    ) -> anyhow::Result<Server> {
        let listening = crate::net::listen_on_all(hosts, port, config.udp)?;
        Server::from_listeners(listening.tcp, listening.udp, config)
    }

    /// How many clients the server can really serve at once: `max_clients`, or fewer where the
    /// open-file limit (raised as far as it goes) leaves room for fewer sockets. The others then
    /// wait in the listen queue until a client leaves; the warning and the announcement say so.
    fn room_for_clients(config: &ServerConfig) -> usize {
        let max = config.max_clients;
        match crate::sys::raise_open_file_limit(max) {
            Ok(limit) => match limit.sockets() {
                Some(room) if room < max => {
                    let room = room.max(1);
                    warn!(
                        "{}",
                        Hinted::new(format!(
                            "the open-file limit leaves room for {} at once, fewer than \
                             {{max_clients}} {max}: the others wait in the listen queue until one \
                             leaves (raise the limit with ulimit -n)",
                            plural(room as u64, "client")
                        ))
                        .render(config.names)
                    );
                    room
                }
                _ => max,
            },
            Err(err) => {
                warn!("could not read or raise the open-file limit: {err}");
                max
            }
        }
    }

    /// Serves on sockets already bound (at least one listener).
    fn from_listeners(
        listeners: Vec<TcpListener>,
        datagram_sockets: Vec<UdpSocket>,
        config: ServerConfig,
    ) -> anyhow::Result<Server> {
        anyhow::ensure!(!listeners.is_empty(), "no address to listen on");
        let mut listening = Vec::with_capacity(listeners.len());
        for listener in listeners {
            let addr = listener
                .local_addr()
                .context("could not read the listening address")?;
            if let Some(warning) = exposure_warning(addr, config.max_per_source.is_some()) {
                warn!("{}", warning.render(config.names));
            }
            listening.push((listener, addr));
        }
        let mut datagram_addrs = Vec::with_capacity(datagram_sockets.len());
        for socket in &datagram_sockets {
            let addr = socket
                .local_addr()
                .context("could not read the udp address")?;
            if !addr.ip().is_loopback() {
                warn!(
                    "udp {addr} is not a loopback address: anyone who can reach this host can use \
                     the echo service, and since UDP source addresses are not verified, anyone \
                     can make it send datagrams to a third party"
                );
            }
            datagram_addrs.push(addr);
        }
        let stopping = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let serving = Serving {
            idle_timeout: config.idle_timeout,
            names: config.names,
            counters: Arc::clone(&counters),
            stopping: Arc::clone(&stopping),
        };
        let cache = ThreadCache::new(
            config.thread_cache,
            "client",
            CLIENT_STACK_SIZE,
            move |job| serving.serve(job),
        );
        let datagram_counters = config.udp.then(|| Arc::new(DatagramCounters::default()));
        let room_for_clients = Server::room_for_clients(&config);
        Ok(Server {
            datagram_sockets,
            shared: Arc::new(Shared {
                listeners: listening,
                datagram_addrs,
                datagram_counters,
                limit: ClientLimit::new(config.max_clients, config.max_per_source),
                room_for_clients,
                config,
                stopping,
                next_id: AtomicU64::new(0),
                registry: Arc::new(Registry::default()),
                counters,
                cache,
            }),
        })
    }

    /// The first address the server listens on, with the real port.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.listeners[0].1
    }

    /// Every address the server serves UDP echo on, in the order asked for (none without UDP).
    pub fn udp_addrs(&self) -> Vec<SocketAddr> {
        self.shared.datagram_addrs.clone()
    }

    /// Every address the server listens on, in the order asked for.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.shared
            .listeners
            .iter()
            .map(|&(_, addr)| addr)
            .collect()
    }

    /// A handle that stops [`Server::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// A probe that reads the server's counters from another thread.
    pub fn probe(&self) -> ServerProbe {
        ServerProbe {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Accepts clients and serves each on its own thread until [`ShutdownHandle::shutdown`];
    /// then closes every client connection, joins their threads and returns the final counters.
    ///
    /// Each listening address has its own accept loop (the first on this thread); the client
    /// limit and the counters are shared.
    pub fn run(mut self) -> StatsSnapshot {
        let addrs: Vec<String> = self.local_addrs().iter().map(|a| a.to_string()).collect();
        let config = &self.shared.config;
        // What will really be served at once, which the open-file limit may hold below the
        // client limit (and then warned about, in `room_for_clients`).
        let room = self.shared.room_for_clients;
        info!(
            "serving on {} (at most {}{}, idle timeout {})",
            addrs.join(", "),
            plural(room as u64, "client"),
            match room < config.max_clients {
                true => " by the open-file limit",
                false => "",
            },
            config.idle_timeout
        );
        let mut acceptors = (0..self.shared.listeners.len()).map(|index| Acceptor {
            shared: Arc::clone(&self.shared),
            index,
        });
        let datagram_threads: Vec<_> = std::mem::take(&mut self.datagram_sockets)
            .into_iter()
            .zip(self.shared.datagram_addrs.clone())
            .filter_map(|(socket, addr)| {
                let echo = DatagramEcho {
                    socket,
                    addr,
                    counters: Arc::clone(self.shared.datagram_counters.as_ref()?),
                    stopping: Arc::clone(&self.shared.stopping),
                };
                info!("serving udp echo on {addr}");
                thread::Builder::new()
                    .name(format!("udp {addr}"))
                    .spawn(move || echo.run())
                    .map_err(|err| error!("could not start the udp echo on {addr}: {err}"))
                    .ok()
            })
            .collect();
        let first = acceptors.next().expect("a server has a listener");
        let others: Vec<_> = acceptors
            .filter_map(|acceptor| {
                let addr = self.shared.listeners[acceptor.index].1;
                thread::Builder::new()
                    .name(format!("accept {addr}"))
                    .spawn(move || acceptor.run())
                    .map_err(|err| error!("could not start accepting on {addr}: {err}"))
                    .ok()
            })
            .collect();
        first.run();
        for thread in others.into_iter().chain(datagram_threads) {
            let _ = thread.join();
        }
        self.close_clients()
    }

    /// Closes every client connection, joins the client threads and returns the final counters.
    fn close_clients(self) -> StatsSnapshot {
        let clients = self.shared.registry.drain();
        if !clients.is_empty() {
            info!(
                "shutting down: closing {}",
                plural(clients.len() as u64, "client connection")
            );
        }
        for stream in &clients {
            // A thread blocked in read() sees end of stream, one blocked in write() gets an
            // error, and the client sees end of stream.
            crate::sys::interrupt(stream);
        }
        drop(clients);
        // Parked threads end now; the others end as their client does.
        self.shared.cache.close_and_join();
        let stats = self.shared.stats();
        match crate::logging::dropped_lines() {
            0 => info!("stopped: {stats}"),
            dropped => info!("stopped: {stats}, {dropped} log lines dropped"),
        }
        stats
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

/// The warning for a listening address that is reachable from other machines, if it is.
fn exposure_warning(addr: SocketAddr, per_source_limit: bool) -> Option<Hinted> {
    (!addr.ip().is_loopback()).then(|| {
        let one_host = match per_source_limit {
            true => "",
            false => ", and one host can take every client place ({max_per_source} limits that)",
        };
        Hinted::new(format!(
            "listening on {addr}, which is not a loopback address: anyone who can reach this host \
             can use the echo service{one_host}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_non_loopback_addresses_are_warned_about() {
        for exposed in ["0.0.0.0:8888", "[::]:8888", "192.0.2.1:7"] {
            let warning = exposure_warning(exposed.parse().unwrap(), false).unwrap();
            let text = warning.render(crate::limits::Setting::field);
            assert!(text.contains("anyone who can reach this host"), "{exposed}");
            assert!(text.contains("(max_per_source limits that)"), "{text}");
            let limited = exposure_warning(exposed.parse().unwrap(), true).unwrap();
            assert!(!limited.to_string().contains("max_per_source"), "{limited}");
        }
        for private in ["127.0.0.1:8888", "127.1.2.3:9", "[::1]:8888"] {
            assert_eq!(
                exposure_warning(private.parse().unwrap(), false),
                None,
                "{private}"
            );
        }
    }

    #[test]
    fn a_wildcard_listener_is_woken_through_loopback() {
        let wake = |addr: &str| wake_address(addr.parse().unwrap()).to_string();
        assert_eq!(wake("0.0.0.0:7"), "127.0.0.1:7");
        assert_eq!(wake("[::]:7"), "[::1]:7");
        assert_eq!(wake("127.0.0.2:7"), "127.0.0.2:7");
    }
}
