//! The server: the listening sockets, their accept loops, one thread per client, and shutdown.
//!
//! Only accept loops (one per listening address) create client threads, and each takes a place
//! under the client limit in one atomic step before it spawns, so the limit holds for all of them
//! together. Every client thread holds a guard that
//! takes it out of the count and out of the registry when it ends, however it ends (a panic
//! included), so the numbers stay right.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::Context;
use log::{debug, error, info, warn};

use crate::cli::Limit;
use crate::echo::{echo_until_eof, EchoBuffer, EchoEnd};
use crate::sys::{classify_accept_error, AcceptErrorClass};

/// Stack size of a client thread.
///
/// The echo loop needs a few KiB (its buffer is on the heap); the rest is headroom for logging and
/// for a panic's unwinding. Only touched pages cost memory, but a small reservation keeps the
/// address space of thousands of clients modest.
pub const CLIENT_STACK_SIZE: usize = 128 * 1024;

/// How long the accept loop waits before trying again when the system is out of file
/// descriptors or memory: long enough not to burn a core, short enough to serve soon after.
const RESOURCE_BACKOFF: Duration = Duration::from_millis(50);

/// How long a shutdown waits for its wake-up connection to the listener; on loopback it takes
/// microseconds, and only a listener whose queue is full could make it wait at all.
const WAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// How often a repeated warning (an accept error, a rejected client) is logged at most.
const WARNING_INTERVAL: Duration = Duration::from_secs(1);

/// What the server is allowed to do.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Most clients served at once; a connection beyond that is accepted and closed at once.
    pub max_clients: usize,
    /// How long a client may send nothing, or leave its echo unread, before it is disconnected.
    pub idle_timeout: Limit,
    /// How many client threads wait for the next client once theirs has left, and for how long.
    pub thread_cache: ThreadCache,
}

/// Client threads kept for the next client instead of ending with theirs (MySQL's
/// `thread_cache_size`, Apache's worker MPM): creating a thread costs more system calls than the
/// whole echo of a short connection, and a parked thread takes the next client at the cost of
/// one wake-up. Each client still has one thread to itself for its whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadCache {
    /// At most this many threads wait for a client at once; the others end with their client.
    pub max_parked: usize,
    /// A thread that has waited this long without a client ends, so an idle server goes back
    /// to its accept loops alone.
    pub park_limit: Duration,
}

impl Default for ThreadCache {
    fn default() -> Self {
        Self {
            max_parked: 32,
            park_limit: Duration::from_secs(10),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_clients: 1024,
            idle_timeout: Limit::After(Duration::from_secs(300)),
            thread_cache: ThreadCache::default(),
        }
    }
}

/// Counters a server keeps while it runs.
#[derive(Debug, Default)]
struct Stats {
    active: AtomicUsize,
    served: AtomicU64,
    rejected: AtomicU64,
    timed_out: AtomicU64,
    failed: AtomicU64,
    bytes_echoed: AtomicU64,
}

/// A copy of the server's counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Clients being served right now.
    pub active: usize,
    /// Clients that were served (accepted within the limit), including the active ones.
    pub served: u64,
    /// Connections closed at once because `max_clients` were being served.
    pub rejected: u64,
    /// Clients disconnected by the idle timeout.
    pub timed_out: u64,
    /// Clients whose connection ended with an error (a reset, a panic in their thread).
    pub failed: u64,
    /// Bytes echoed back, over all clients.
    pub bytes_echoed: u64,
}

impl std::fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} clients served, {} rejected, {} timed out, {} failed, {} bytes echoed",
            self.served, self.rejected, self.timed_out, self.failed, self.bytes_echoed
        )
    }
}

/// A client being served: its socket (to close it at shutdown).
struct ClientEntry {
    stream: Arc<TcpStream>,
}

/// A client handed to a client thread: everything that thread needs to serve it.
struct ClientJob {
    stream: Arc<TcpStream>,
    peer: SocketAddr,
    /// Clients being served, this one included, when it was accepted.
    active: usize,
    guard: ClientGuard,
}

/// What a parked client thread is woken with.
type Mailbox = mpsc::Sender<Option<ClientJob>>;

/// State shared by the accept loop, the client threads and shutdown handles.
struct Shared {
    /// Every listening socket, each with the address it listens on.
    listeners: Vec<(TcpListener, SocketAddr)>,
    shutting_down: AtomicBool,
    /// The last client id handed out (ids are unique over all listeners).
    next_id: AtomicU64,
    stats: Stats,
    clients: Mutex<HashMap<u64, ClientEntry>>,
    /// Signalled, with `clients` locked, each time a client leaves.
    client_left: Condvar,
    /// Client threads waiting for a client, most recently parked last, each with its id.
    parked: Mutex<Vec<(u64, Mailbox)>>,
    /// Every client thread that may still run, by id, to join them at shutdown.
    threads: Mutex<HashMap<u64, JoinHandle<()>>>,
    /// The last client thread id handed out.
    next_thread: AtomicU64,
}

impl Shared {
    fn clients(&self) -> MutexGuard<'_, HashMap<u64, ClientEntry>> {
        // A client thread never panics while holding this lock, but if one did the map is still
        // consistent (every change to it is a single insert or remove), so carry on.
        self.clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn parked(&self) -> MutexGuard<'_, Vec<(u64, Mailbox)>> {
        self.parked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn threads(&self) -> MutexGuard<'_, HashMap<u64, JoinHandle<()>>> {
        self.threads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn snapshot(&self) -> StatsSnapshot {
        let stats = &self.stats;
        StatsSnapshot {
            active: stats.active.load(Ordering::SeqCst),
            served: stats.served.load(Ordering::Relaxed),
            rejected: stats.rejected.load(Ordering::Relaxed),
            timed_out: stats.timed_out.load(Ordering::Relaxed),
            failed: stats.failed.load(Ordering::Relaxed),
            bytes_echoed: stats.bytes_echoed.load(Ordering::Relaxed),
        }
    }
}

/// A bound, listening echo server, not yet accepting.
pub struct Server {
    shared: Arc<Shared>,
    config: ServerConfig,
}

/// Stops a running [`Server`] from another thread (a signal handler, a test).
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

impl ShutdownHandle {
    /// Asks the server to stop: the accept loop ends, every client connection is closed and
    /// [`Server::run`] returns once the client threads have been joined. Calling it again does
    /// nothing more.
    pub fn shutdown(&self) {
        if self.shared.shutting_down.swap(true, Ordering::SeqCst) {
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
    }

    /// The server's counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.snapshot()
    }

    /// Client threads waiting for a client now ([`ThreadCache`]).
    pub fn parked_threads(&self) -> usize {
        self.shared.parked().len()
    }

    /// Waits until at most `clients` clients are being served, or `limit` has passed; returns
    /// whether it got there. Woken by each client that leaves, not by polling.
    pub fn wait_until_active_at_most(&self, clients: usize, limit: Duration) -> bool {
        let registry = self.shared.clients();
        let (_registry, waited) = self
            .shared
            .client_left
            .wait_timeout_while(registry, limit, |_| {
                self.shared.stats.active.load(Ordering::SeqCst) > clients
            })
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        !waited.timed_out()
    }
}

impl Server {
    /// Resolves every one of `hosts`, and listens on `port` on every address they name (port 0:
    /// the OS chooses one, the same for all); see [`crate::net::listen_on_all`].
    pub fn bind(
        hosts: &[impl AsRef<str>],
        port: u16,
        config: ServerConfig,
    ) -> anyhow::Result<Server> {
        let listeners = crate::net::listen_on_all(hosts, port)?;
        Server::from_listeners(listeners, config)
    }

    /// Serves on listeners the caller has already bound (at least one).
    pub fn from_listeners(
        listeners: Vec<TcpListener>,
        config: ServerConfig,
    ) -> anyhow::Result<Server> {
        anyhow::ensure!(!listeners.is_empty(), "no address to listen on");
        let mut listening = Vec::with_capacity(listeners.len());
        for listener in listeners {
            let addr = listener
                .local_addr()
                .context("could not read the listening address")?;
            if let Some(warning) = exposure_warning(addr) {
                warn!("{warning}");
            }
            listening.push((listener, addr));
        }
        Ok(Server {
            shared: Arc::new(Shared {
                listeners: listening,
                shutting_down: AtomicBool::new(false),
                next_id: AtomicU64::new(0),
                stats: Stats::default(),
                clients: Mutex::new(HashMap::new()),
                client_left: Condvar::new(),
                parked: Mutex::new(Vec::new()),
                threads: Mutex::new(HashMap::new()),
                next_thread: AtomicU64::new(0),
            }),
            config,
        })
    }

    /// The first address the server listens on, with the real port.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.listeners[0].1
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

    /// Accepts clients and serves each on its own thread until [`ShutdownHandle::shutdown`];
    /// then closes every client connection, joins their threads and returns the final counters.
    ///
    /// Each listening address has its own accept loop (the first on this thread); the client
    /// limit and the counters are shared. Accept errors never end a loop: errors of one
    /// connection (aborted or reset before it was accepted) are skipped, and running out of file
    /// descriptors or memory is logged at most once a second and retried after a short back-off.
    pub fn run(self) -> StatsSnapshot {
        let addrs: Vec<String> = self.local_addrs().iter().map(|a| a.to_string()).collect();
        let max = self.config.max_clients;
        info!(
            "serving on {} (at most {max} {}, idle timeout {})",
            addrs.join(", "),
            if max == 1 { "client" } else { "clients" },
            self.config.idle_timeout
        );
        let mut others = Vec::new();
        for index in 1..self.shared.listeners.len() {
            let acceptor = Acceptor {
                shared: Arc::clone(&self.shared),
                config: self.config.clone(),
                index,
            };
            let addr = self.shared.listeners[index].1;
            match thread::Builder::new()
                .name(format!("accept {addr}"))
                .spawn(move || acceptor.run())
            {
                Ok(thread) => others.push(thread),
                Err(err) => error!("could not start accepting on {addr}: {err}"),
            }
        }
        Acceptor {
            shared: Arc::clone(&self.shared),
            config: self.config.clone(),
            index: 0,
        }
        .run();
        for thread in others {
            let _ = thread.join();
        }
        self.close_clients()
    }

    /// Closes every client connection, joins the client threads and returns the final counters.
    fn close_clients(self) -> StatsSnapshot {
        let clients: Vec<ClientEntry> = self.shared.clients().drain().map(|(_, c)| c).collect();
        if !clients.is_empty() {
            info!(
                "shutting down: closing {} client connections",
                clients.len()
            );
        }
        for client in &clients {
            // A thread blocked in read() sees end of stream, one blocked in write() gets an
            // error, and the client sees end of stream.
            crate::sys::interrupt(&client.stream);
        }
        drop(clients);
        // Parked threads end now; the others end as their client does (they see the flag
        // under the same lock before they would park).
        for (_, mailbox) in self.shared.parked().drain(..) {
            let _ = mailbox.send(None);
        }
        let threads: Vec<JoinHandle<()>> = self.shared.threads().drain().map(|(_, t)| t).collect();
        for thread in threads {
            let _ = thread.join();
        }
        let stats = self.shared.snapshot();
        match crate::logging::dropped_lines() {
            0 => info!("stopped: {stats}"),
            dropped => info!("stopped: {stats}, {dropped} log lines dropped"),
        }
        stats
    }
}

/// One listening socket's accept loop: the only kind of thread that creates client threads.
struct Acceptor {
    shared: Arc<Shared>,
    config: ServerConfig,
    /// Which of `shared.listeners` this loop accepts on.
    index: usize,
}

impl Acceptor {
    fn run(&self) {
        let shared = &self.shared;
        let listener = &shared.listeners[self.index].0;
        let mut accept_warnings = RateLimited::new(WARNING_INTERVAL);
        let mut reject_warnings = RateLimited::new(WARNING_INTERVAL);
        while !shared.shutting_down.load(Ordering::SeqCst) {
            let (stream, peer) = match listener.accept() {
                // Possibly the shutdown's own wake-up connection: not a client.
                Ok(_) if shared.shutting_down.load(Ordering::SeqCst) => break,
                Ok(accepted) => accepted,
                Err(err) => {
                    if shared.shutting_down.load(Ordering::SeqCst) {
                        break;
                    }
                    match classify_accept_error(&err) {
                        AcceptErrorClass::Connection => debug!("accept: {err} (skipped)"),
                        AcceptErrorClass::Resources | AcceptErrorClass::Other => {
                            accept_warnings
                                .warn(|again| format!("accept failed: {err}, retrying{again}"));
                            thread::sleep(RESOURCE_BACKOFF);
                        }
                    }
                    continue;
                }
            };
            // A place among the clients is taken in one step, so that accept loops on several
            // listeners never serve more than the limit together.
            let max = self.config.max_clients;
            let taken =
                shared
                    .stats
                    .active
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |active| {
                        (active < max).then_some(active + 1)
                    });
            let Ok(before) = taken else {
                shared.stats.rejected.fetch_add(1, Ordering::Relaxed);
                reject_warnings.warn(|again| {
                    let clients = if max == 1 { "client" } else { "clients" };
                    format!(
                        "{peer} rejected: already serving {max} {clients} (--max-clients){again}"
                    )
                });
                drop(stream);
                continue;
            };
            let id = shared.next_id.fetch_add(1, Ordering::Relaxed) + 1;
            self.start_client(id, stream, peer, before + 1);
        }
    }

    /// Hands one client, already counted as `active`, to a parked client thread, or to a new
    /// one when none is parked; records it in the registry.
    fn start_client(&self, id: u64, stream: TcpStream, peer: SocketAddr, active: usize) {
        let shared = &self.shared;
        shared.stats.served.fetch_add(1, Ordering::Relaxed);
        let stream = Arc::new(stream);
        shared.clients().insert(
            id,
            ClientEntry {
                stream: Arc::clone(&stream),
            },
        );
        // The guard goes with the client, so that a failed spawn (which drops it) also undoes
        // the count and the registry entry.
        let mut job = ClientJob {
            stream,
            peer,
            active,
            guard: ClientGuard {
                id,
                peer,
                shared: Arc::clone(shared),
                released: false,
            },
        };
        // A parked thread whose wait has just ended may be gone: then the next one, or a new one.
        while let Some((_, mailbox)) = shared.parked().pop() {
            match mailbox.send(Some(job)) {
                Ok(()) => return,
                Err(mpsc::SendError(returned)) => job = returned.expect("a client was sent"),
            }
        }
        let thread_id = shared.next_thread.fetch_add(1, Ordering::Relaxed) + 1;
        let client_thread = ClientThread {
            id: thread_id,
            shared: Arc::clone(shared),
            idle_timeout: self.config.idle_timeout,
            cache: self.config.thread_cache,
        };
        let spawned = thread::Builder::new()
            .name("client".into())
            .stack_size(CLIENT_STACK_SIZE)
            .spawn(move || client_thread.run(job));
        match spawned {
            Ok(thread) => {
                shared.threads().insert(thread_id, thread);
            }
            Err(err) => {
                // The closure, and with it the guard and the stream, is already dropped: the
                // connection is closed and uncounted.
                shared.stats.failed.fetch_add(1, Ordering::Relaxed);
                error!("{peer}: could not start a thread for this client, closing: {err}");
            }
        }
    }
}

/// A client thread: serves one client at a time for that client's whole life, then parks to
/// wait for the next one ([`ThreadCache`]) or ends.
struct ClientThread {
    id: u64,
    shared: Arc<Shared>,
    idle_timeout: Limit,
    cache: ThreadCache,
}

impl ClientThread {
    fn run(self, first: ClientJob) {
        let (mailbox, next_client) = mpsc::channel();
        let mut next = Some(first);
        while let Some(ClientJob {
            stream,
            peer,
            active,
            guard,
        }) = next
        {
            serve_client(&stream, peer, self.idle_timeout, active, guard);
            // The connection closes here (the registry's reference went with the guard), not
            // when the next client comes.
            drop(stream);
            next = self.park(&mailbox, &next_client);
        }
        // Ending on its own (not joined by a shutdown): nobody needs its handle any more.
        self.shared.threads().remove(&self.id);
    }

    /// Waits for the next client, unless the cache is full, the server is shutting down, or
    /// none comes within the park limit.
    fn park(
        &self,
        mailbox: &Mailbox,
        next_client: &mpsc::Receiver<Option<ClientJob>>,
    ) -> Option<ClientJob> {
        {
            let mut parked = self.shared.parked();
            // Checked under the lock that shutdown drains the cache with: no thread parks after.
            if self.shared.shutting_down.load(Ordering::SeqCst)
                || parked.len() >= self.cache.max_parked
            {
                return None;
            }
            parked.push((self.id, mailbox.clone()));
        }
        match next_client.recv_timeout(self.cache.park_limit) {
            Ok(next) => next,
            Err(_) => {
                let mut parked = self.shared.parked();
                if let Some(at) = parked.iter().position(|&(id, _)| id == self.id) {
                    parked.remove(at);
                    return None;
                }
                drop(parked);
                // Taken off the list just now: a client (or the shutdown) is on its way.
                next_client.recv().ok().flatten()
            }
        }
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
fn exposure_warning(addr: SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "listening on {addr}, which is not a loopback address: anyone who can reach this host \
             can use the echo service"
        )
    })
}

/// The body of a client thread.
fn serve_client(
    stream: &TcpStream,
    peer: SocketAddr,
    idle_timeout: Limit,
    active: usize,
    guard: ClientGuard,
) {
    let started = Instant::now();
    info!("{peer} connected ({active} active)");
    if let Err(err) = configure_client_socket(stream, idle_timeout) {
        warn!("{peer}: could not configure the connection, closing it: {err}");
        guard.shared.stats.failed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut buffer = EchoBuffer::new();
    let report = echo_until_eof(stream, peer, &mut buffer);
    let stats = &guard.shared.stats;
    stats
        .bytes_echoed
        .fetch_add(report.bytes, Ordering::Relaxed);
    let how = match report.end {
        EchoEnd::PeerClosed => "disconnected".to_string(),
        EchoEnd::IdleTimeout => {
            stats.timed_out.fetch_add(1, Ordering::Relaxed);
            format!("disconnected after {idle_timeout} idle (--idle-timeout)")
        }
        EchoEnd::Failed(_) if guard.shared.shutting_down.load(Ordering::SeqCst) => {
            "disconnected by shutdown".to_string()
        }
        EchoEnd::Failed(err) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            format!("connection failed: {err}")
        }
    };
    let active_after = guard.release();
    info!(
        "{peer} {how}: {} bytes echoed in {:.3?} ({active_after} active)",
        report.bytes,
        started.elapsed()
    );
}

fn configure_client_socket(stream: &TcpStream, idle_timeout: Limit) -> io::Result<()> {
    // Small echoes must go out at once: with Nagle's algorithm a reply that does not fill a
    // segment waits for the client's delayed ACK (tens of milliseconds).
    stream.set_nodelay(true)?;
    stream.set_read_timeout(idle_timeout.as_option())?;
    stream.set_write_timeout(idle_timeout.as_option())?;
    Ok(())
}

/// Takes a client out of the active count and the registry when its thread ends: explicitly
/// through [`ClientGuard::release`], or on drop (a panic, a failed spawn).
struct ClientGuard {
    id: u64,
    peer: SocketAddr,
    shared: Arc<Shared>,
    released: bool,
}

impl ClientGuard {
    /// Takes the client out of the count and the registry; returns how many clients are left.
    fn release(mut self) -> usize {
        self.release_once()
    }

    fn release_once(&mut self) -> usize {
        self.released = true;
        let mut clients = self.shared.clients();
        // Dropping the entry drops the registry's reference to the socket (closed once the
        // thread's own reference is gone too) and detaches the thread's JoinHandle.
        let entry = clients.remove(&self.id);
        let left = self.shared.stats.active.fetch_sub(1, Ordering::SeqCst) - 1;
        self.shared.client_left.notify_all();
        drop(clients);
        drop(entry);
        left
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if thread::panicking() {
            self.shared.stats.failed.fetch_add(1, Ordering::Relaxed);
            error!("{}: the client's thread panicked; closing it", self.peer);
        }
        self.release_once();
    }
}

/// A warning that may repeat quickly (once per accept attempt, per rejected client), logged at
/// most once per interval with a count of the ones in between.
struct RateLimited {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// Logs the message `make(again)` builds, where `again` says how many were held back since
    /// the last one, or counts it as held back.
    fn warn(&mut self, make: impl FnOnce(&str) -> String) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            self.suppressed += 1;
            return;
        }
        let again = match self.suppressed {
            0 => String::new(),
            n => format!(" ({n} more like this since the last warning)"),
        };
        let message = make(&again);
        warn!("{message}");
        self.last = Some(now);
        self.suppressed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_with_one_client(id: u64) -> (Arc<Shared>, ClientGuard) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let peer = stream.local_addr().unwrap();
        let server = Server::from_listeners(vec![listener], ServerConfig::default()).unwrap();
        let shared = Arc::clone(&server.shared);
        shared.stats.active.fetch_add(1, Ordering::SeqCst);
        shared.clients().insert(
            id,
            ClientEntry {
                stream: Arc::new(stream),
            },
        );
        let guard = ClientGuard {
            id,
            peer,
            shared: Arc::clone(&shared),
            released: false,
        };
        (shared, guard)
    }

    #[test]
    fn a_panicking_client_thread_is_uncounted_and_marked_failed() {
        let (shared, guard) = shared_with_one_client(1);
        let thread = thread::spawn(move || {
            let _guard = guard;
            panic!("a bug in a client thread");
        });
        assert!(thread.join().is_err());
        let stats = shared.snapshot();
        assert_eq!(stats.active, 0);
        assert_eq!(stats.failed, 1);
        assert!(shared.clients().is_empty());
    }

    #[test]
    fn a_guard_dropped_unused_as_on_a_failed_spawn_undoes_the_count() {
        let (shared, guard) = shared_with_one_client(2);
        drop(guard);
        assert_eq!(shared.snapshot().active, 0);
        assert_eq!(shared.snapshot().failed, 0);
        assert!(shared.clients().is_empty());
    }

    #[test]
    fn only_non_loopback_addresses_are_warned_about() {
        for exposed in ["0.0.0.0:8888", "[::]:8888", "192.0.2.1:7"] {
            let warning = exposure_warning(exposed.parse().unwrap());
            assert!(
                warning.is_some_and(|w| w.contains("anyone who can reach this host")),
                "{exposed}"
            );
        }
        for private in ["127.0.0.1:8888", "127.1.2.3:9", "[::1]:8888"] {
            assert_eq!(
                exposure_warning(private.parse().unwrap()),
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

    #[test]
    fn repeated_warnings_are_rate_limited() {
        let mut limited = RateLimited::new(Duration::from_secs(3600));
        let mut logged = Vec::new();
        for _ in 0..5 {
            limited.warn(|again| {
                logged.push(again.to_string());
                String::new()
            });
        }
        assert_eq!(
            logged,
            vec![String::new()],
            "only the first of five is logged"
        );
        assert_eq!(limited.suppressed, 4);
    }
}
