//! Serving one client: its socket options, the echo loop, the log lines of its arrival and
//! departure, and the guard that takes it out of the count and the registry however it ends.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use log::{error, info, warn};

use super::client_limit::Admission;
use super::stats::Counters;
use crate::echo::{echo_until_eof, EchoBuffer, EchoEnd};
use crate::human::bytes;
use crate::limits::{Hinted, Limit, SettingNames};

/// Stack size of a client thread.
///
/// The echo loop needs a few KiB (its buffer is on the heap); the rest is headroom for logging and
/// for a panic's unwinding. Only touched pages cost memory, but a small reservation keeps the
/// address space of thousands of clients modest.
pub(super) const CLIENT_STACK_SIZE: usize = 128 * 1024;

/// The connections of the clients being served, so that a shutdown can end every one of them.
#[derive(Default)]
pub(super) struct Registry {
    clients: Mutex<HashMap<u64, Arc<TcpStream>>>,
    /// Signalled, with `clients` locked, each time a client leaves.
    left: Condvar,
}

impl Registry {
    pub(super) fn insert(&self, id: u64, stream: Arc<TcpStream>) {
        self.clients().insert(id, stream);
    }

    /// Takes client `id` out and gives back its place under the client limit, in one step under
    /// the registry's lock (so that a waiter never misses it); returns how many clients are left.
    fn leave(&self, id: u64, admission: Admission) -> usize {
        let mut clients = self.clients();
        let entry = clients.remove(&id);
        let left = admission.release();
        self.left.notify_all();
        drop(clients);
        // The registry's reference to the socket goes here, outside the lock; the socket closes
        // once the client thread's own reference is gone too.
        drop(entry);
        left
    }

    /// Takes every connection out, for a shutdown to end them.
    pub(super) fn drain(&self) -> Vec<Arc<TcpStream>> {
        self.clients().drain().map(|(_, stream)| stream).collect()
    }

    /// Waits until `done` holds, checking it each time a client leaves, or until `limit` has
    /// passed; returns whether it holds.
    pub(super) fn wait_until(&self, limit: Duration, mut done: impl FnMut() -> bool) -> bool {
        let clients = self.clients();
        let (_clients, waited) = self
            .left
            .wait_timeout_while(clients, limit, |_| !done())
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        !waited.timed_out()
    }

    fn clients(&self) -> MutexGuard<'_, HashMap<u64, Arc<TcpStream>>> {
        // Every change to the map is a single insert or remove, so a poisoned lock (which no client
        // thread causes: none panics while holding it) still guards a consistent map.
        self.clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A client handed to a client thread: its connection and the guard that accounts for it.
pub(super) struct ClientJob {
    pub(super) stream: Arc<TcpStream>,
    pub(super) peer: SocketAddr,
    pub(super) guard: ClientGuard,
}

/// How client threads serve: the settings and the state they share with the server.
pub(super) struct Serving {
    pub(super) idle_timeout: Limit,
    pub(super) names: SettingNames,
    pub(super) counters: Arc<Counters>,
    /// Set when the server shuts down, so that the end it causes is not counted as a failure.
    pub(super) stopping: Arc<AtomicBool>,
}

impl Serving {
    /// The body of a client thread, for one client: configure, echo until the end, account.
    pub(super) fn serve(&self, job: ClientJob) {
        let ClientJob {
            stream,
            peer,
            guard,
        } = job;
        let started = Instant::now();
        // No count of active clients here: the lines of client threads interleave, and a count
        // read out of order would mislead (the summary and the metrics have the exact one).
        info!("{peer} connected");
        if let Err(err) = configure_client_socket(&stream, self.idle_timeout) {
            warn!("{peer}: could not configure the connection, closing it: {err}");
            self.counters.failed();
            return;
        }
        let mut buffer = EchoBuffer::new();
        let counters = &self.counters;
        let report = echo_until_eof(&*stream, &*stream, peer, &mut buffer, |bytes| {
            counters.echoed(bytes)
        });
        let how = match report.end {
            EchoEnd::PeerClosed => "disconnected".to_string(),
            EchoEnd::IdleTimeout => {
                self.counters.timed_out();
                Hinted::new(format!(
                    "disconnected after {} idle ({{idle_timeout}})",
                    self.idle_timeout
                ))
                .render(self.names)
            }
            EchoEnd::Failed(_) if self.stopping.load(Ordering::SeqCst) => {
                "disconnected by shutdown".to_string()
            }
            EchoEnd::Failed(err) => {
                self.counters.failed();
                format!("connection failed: {err}")
            }
        };
        guard.release();
        info!(
            "{peer} {how}: {} echoed in {:.3?}",
            bytes(report.bytes),
            started.elapsed()
        );
        // The connection closes as `stream` goes here, not when the thread's next client comes.
    }
}

fn configure_client_socket(stream: &TcpStream, idle_timeout: Limit) -> io::Result<()> {
    // Small echoes must go out at once: with Nagle's algorithm a reply that does not fill a
    // segment waits for the client's delayed ACK (tens of milliseconds).
    stream.set_nodelay(true)?;
    stream.set_read_timeout(idle_timeout.as_option())?;
    stream.set_write_timeout(idle_timeout.as_option())?;
    Ok(())
}

/// Takes a client out of the registry and gives back its place when its thread is done with it:
/// explicitly through [`ClientGuard::release`], or on drop (a panic, a thread that could not be
/// started), so the counts stay right however a client ends.
pub(super) struct ClientGuard {
    id: u64,
    peer: SocketAddr,
    registry: Arc<Registry>,
    admission: Option<Admission>,
    /// Where a panic in the client's thread is counted as a failure.
    counters: Arc<Counters>,
}

impl ClientGuard {
    pub(super) fn new(
        id: u64,
        peer: SocketAddr,
        registry: Arc<Registry>,
        admission: Admission,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            id,
            peer,
            registry,
            admission: Some(admission),
            counters,
        }
    }

    /// Takes the client out.
    fn release(mut self) {
        self.release_once();
    }

    fn release_once(&mut self) -> usize {
        match self.admission.take() {
            Some(admission) => self.registry.leave(self.id, admission),
            None => 0,
        }
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        if self.admission.is_none() {
            return;
        }
        if thread::panicking() {
            self.counters.failed();
            error!("{}: the client's thread panicked; closing it", self.peer);
        }
        self.release_once();
    }
}

#[cfg(test)]
mod tests {
    use super::super::client_limit::ClientLimit;
    use super::*;

    /// A registry with one client in it, admitted under a limit of one (and of one per source),
    /// and its guard.
    fn one_client() -> (Arc<ClientLimit>, Arc<Registry>, Arc<Counters>, ClientGuard) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let peer = stream.local_addr().unwrap();
        let limit = ClientLimit::new(1, Some(1));
        let registry = Arc::new(Registry::default());
        let counters = Arc::new(Counters::default());
        let (admission, _) = limit.admit(peer.ip()).unwrap();
        registry.insert(1, Arc::new(stream));
        let guard = ClientGuard::new(
            1,
            peer,
            Arc::clone(&registry),
            admission,
            Arc::clone(&counters),
        );
        (limit, registry, counters, guard)
    }

    #[test]
    fn a_panicking_client_thread_is_uncounted_and_marked_failed() {
        let (limit, registry, counters, guard) = one_client();
        let thread = thread::spawn(move || {
            let _guard = guard;
            panic!("a bug in a client thread");
        });
        assert!(thread.join().is_err());
        let stats = counters.snapshot(limit.active(), Some(limit.sources()), None);
        assert_eq!((stats.active, stats.sources), (0, 0));
        assert_eq!(stats.failed, 1);
        assert!(registry.drain().is_empty());
    }

    #[test]
    fn a_guard_dropped_unused_as_on_a_failed_spawn_undoes_the_count() {
        let (limit, registry, counters, guard) = one_client();
        drop(guard);
        assert_eq!((limit.active(), limit.sources()), (0, 0));
        assert_eq!(counters.snapshot(0, None, None).failed, 0);
        assert!(registry.drain().is_empty());
    }
}
