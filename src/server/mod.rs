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
mod access;
mod client;
mod client_limit;
mod config;
mod handles;
mod inetd;
mod source;
mod source_rates;
mod stats;
mod thread_cache;
mod udp;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use anyhow::Context;
use log::{error, info, warn};

use crate::human::plural;
use crate::limits::Hinted;
use accept::Acceptor;
use client::{ClientJob, Registry, Serving, CLIENT_STACK_SIZE};
use client_limit::ClientLimit;
use source_rates::SourceRates;
use stats::{Counters, DatagramCounters};
use thread_cache::ThreadCache;
use udp::{DatagramEcho, Headers};

pub use access::{parse_range, Access};
pub use config::{EchoMarking, ServerConfig};
pub use handles::{ServerProbe, ShutdownHandle};
pub use inetd::{inetd, stderr_is_the_connection};
pub use stats::{DatagramStats, StatsSnapshot};
pub use thread_cache::ThreadCacheConfig;

/// State shared by the accept loops, the client threads, and the handles.
struct Shared {
    /// Every listening socket, each with the address it listens on.
    listeners: Vec<(TcpListener, SocketAddr)>,
    /// The address of every UDP socket (their threads own the sockets).
    datagram_addrs: Vec<SocketAddr>,
    datagram_counters: Option<Arc<DatagramCounters>>,
    /// Each source's allowance of echoed datagrams, with `--udp-rate-per-source`.
    source_rates: Option<Arc<SourceRates>>,
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
        let mut stats = self.counters.snapshot(
            self.limit.active(),
            sources,
            self.datagram_counters.as_deref(),
        );
        stats.access_rules = self.config.access.has_rules();
        if let (Some(udp), Some(rates)) = (&mut stats.udp, &self.source_rates) {
            udp.sources_tracked = Some(rates.tracked());
        }
        stats
    }
}

/// A bound, listening echo server, not yet accepting.
pub struct Server {
    shared: Arc<Shared>,
    /// The UDP sockets, each with what it reports of a datagram's header, until `run` hands
    /// each to its thread.
    datagram_sockets: Vec<(UdpSocket, Headers)>,
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

    /// Serves on the sockets a service manager handed over (systemd's socket activation: stream
    /// sockets as TCP echo, datagram sockets as UDP echo), if it handed any; `None` when it did
    /// not, and the caller binds as usual.
    pub fn handed_over(mut config: ServerConfig) -> anyhow::Result<Option<Server>> {
        let Some(handed) =
            crate::sys::handed_sockets().context("could not take the sockets handed over")?
        else {
            return Ok(None);
        };
        let (mut listeners, mut datagrams) = (Vec::new(), Vec::new());
        for socket in handed {
            match socket {
                crate::sys::Handed::Stream(listener) => listeners.push(listener),
                crate::sys::Handed::Datagram(socket) => datagrams.push(socket),
            }
        }
        config.udp = !datagrams.is_empty();
        Server::from_listeners(listeners, datagrams, config).map(Some)
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
        anyhow::ensure!(
            !listeners.is_empty() || !datagram_sockets.is_empty(),
            "no address to listen on"
        );
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
                let limit = match config.udp_rate_per_source {
                    Some(_) => "",
                    None => " ({udp_rate_per_source} limits what one source can be sent)",
                };
                let warning = Hinted::new(format!(
                    "udp {addr} is not a loopback address: anyone who can reach this host can use \
                     the echo service, and since UDP source addresses are not verified, anyone \
                     can make it send datagrams to a third party{limit}"
                ));
                warn!("{}", warning.render(config.names));
            }
            datagram_addrs.push(addr);
        }
        // Asked before any datagram can arrive: the socket is announced as soon as this returns.
        let datagram_sockets: Vec<(UdpSocket, Headers)> = datagram_sockets
            .into_iter()
            .zip(&datagram_addrs)
            .map(|(socket, &addr)| {
                let headers = Headers::ask(&socket, addr, config.udp_marking);
                (socket, headers)
            })
            .collect();
        if datagram_sockets.is_empty() && config.udp_rate_per_source.is_some() {
            let warning =
                Hinted::new("{udp_rate_per_source} has no UDP echo to limit (-u serves one)");
            warn!("{}", warning.render(config.names));
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
        let datagram_counters = config.udp.then(|| {
            Arc::new(match config.udp_marking {
                EchoMarking::Reflected => DatagramCounters::counting_classes(),
                EchoMarking::ServerDefault => DatagramCounters::default(),
            })
        });
        let room_for_clients = Server::room_for_clients(&config);
        Ok(Server {
            datagram_sockets,
            shared: Arc::new(Shared {
                listeners: listening,
                datagram_addrs,
                datagram_counters,
                source_rates: config
                    .udp_rate_per_source
                    .map(|per_second| Arc::new(SourceRates::new(per_second))),
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

    /// The first address the server listens on, with the real port (its first UDP address when
    /// it serves UDP only).
    pub fn local_addr(&self) -> SocketAddr {
        let first_tcp = self.shared.listeners.first().map(|&(_, addr)| addr);
        first_tcp
            .or_else(|| self.shared.datagram_addrs.first().copied())
            .expect("a server listens on an address")
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
        if !addrs.is_empty() {
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
        }
        if config.access.has_rules() {
            info!("{}", config.access);
        }
        let rate = match config.udp_rate_per_source {
            Some(rate) => format!(
                " (at most {} a second to one source)",
                plural(u64::from(rate), "datagram")
            ),
            None => String::new(),
        };
        let mut acceptors = (0..self.shared.listeners.len()).map(|index| Acceptor {
            shared: Arc::clone(&self.shared),
            index,
        });
        let datagram_threads: Vec<_> = std::mem::take(&mut self.datagram_sockets)
            .into_iter()
            .zip(self.shared.datagram_addrs.clone())
            .filter_map(|((socket, headers), addr)| {
                let echo = DatagramEcho {
                    socket,
                    addr,
                    headers,
                    counters: Arc::clone(self.shared.datagram_counters.as_ref()?),
                    access: self.shared.config.access.clone(),
                    source_rates: self.shared.source_rates.clone(),
                    stopping: Arc::clone(&self.shared.stopping),
                };
                info!("serving udp echo on {addr}{rate}");
                thread::Builder::new()
                    .name(format!("udp {addr}"))
                    .spawn(move || echo.run())
                    .map_err(|err| error!("could not start the udp echo on {addr}: {err}"))
                    .ok()
            })
            .collect();
        // The first accept loop runs on this thread; a server of UDP alone waits for its echoes.
        let first = acceptors.next();
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
        if let Some(first) = first {
            first.run();
        }
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
}
