//! The accept loops, one per listening socket: the only code that admits clients (under the
//! [`super::client_limit::ClientLimit`] they share) and hands them to client threads.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use log::{debug, error};

use super::client::{ClientGuard, ClientJob};
use super::client_limit::{Admission, Refusal};
use super::Shared;
use crate::human::plural;
use crate::limits::Hinted;
use crate::logging::{RateLimited, WARNING_INTERVAL};
use crate::sys::{classify_accept_error, AcceptErrorClass};

/// How long an accept loop waits before trying again when the system is out of file descriptors
/// or memory: long enough not to burn a core, short enough to serve soon after.
const RESOURCE_BACKOFF: Duration = Duration::from_millis(50);

/// One listening socket's accept loop.
pub(super) struct Acceptor {
    pub(super) shared: Arc<Shared>,
    /// Which of the server's listeners this loop accepts on.
    pub(super) index: usize,
}

impl Acceptor {
    /// Accepts until the server shuts down. Accept errors never end the loop: errors of one
    /// connection (aborted or reset before it was accepted) are skipped, and running out of file
    /// descriptors or memory is logged at most once a second and retried after a short back-off.
    pub(super) fn run(self) {
        let shared = &*self.shared;
        let (listener, _) = &shared.listeners[self.index];
        let mut accept_warnings = RateLimited::new(WARNING_INTERVAL);
        let mut reject_warnings = RateLimited::new(WARNING_INTERVAL);
        let mut source_warnings = RateLimited::new(WARNING_INTERVAL);
        let mut deny_warnings = RateLimited::new(WARNING_INTERVAL);
        while !shared.is_stopping() {
            let (stream, peer) = match listener.accept() {
                // Possibly the shutdown's own wake-up connection: not a client.
                Ok(_) if shared.is_stopping() => break,
                Ok(accepted) => accepted,
                Err(err) => {
                    if shared.is_stopping() {
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
            if !shared.config.access.permits(peer.ip()) {
                // Counted before the close, so that whoever sees it closed sees it counted.
                shared.counters.denied();
                deny_warnings
                    .warn(|again| format!("{peer} denied: its source is not allowed{again}"));
                drop(stream);
                continue;
            }
            let admission = match shared.limit.admit(peer.ip()) {
                Ok((admission, _active)) => admission,
                Err(refusal) => {
                    let warnings = match refusal {
                        Refusal::Full => &mut reject_warnings,
                        Refusal::SourceFull(_) => &mut source_warnings,
                    };
                    // Counted before the close, so that whoever sees it closed sees it counted.
                    self.refuse(peer, refusal, warnings);
                    // Accepted and closed at once: the client sees end of stream, no bytes.
                    drop(stream);
                    continue;
                }
            };
            self.start_client(stream, peer, admission);
        }
    }

    /// Counts a connection turned away and warns about it, at most once a second.
    fn refuse(&self, peer: SocketAddr, refusal: Refusal, warnings: &mut RateLimited) {
        let shared = &*self.shared;
        let text = match refusal {
            Refusal::Full => {
                shared.counters.rejected();
                let max = shared.limit.max();
                format!(
                    "{peer} rejected: already serving {} ({{max_clients}})",
                    plural(max as u64, "client")
                )
            }
            Refusal::SourceFull(source) => {
                shared.counters.rejected_per_source();
                let max = shared.limit.max_per_source().unwrap_or_default();
                format!(
                    "{peer} rejected: already serving {} from {source} ({{max_per_source}})",
                    plural(max as u64, "client")
                )
            }
        };
        warnings.warn(|again| Hinted::new(format!("{text}{again}")).render(shared.config.names));
    }

    /// Hands an admitted client to a client thread, and records it in the registry.
    fn start_client(&self, stream: TcpStream, peer: SocketAddr, admission: Admission) {
        let shared = &*self.shared;
        shared.counters.served();
        let id = shared.next_client_id();
        let stream = Arc::new(stream);
        shared.registry.insert(id, Arc::clone(&stream));
        // The guard goes with the client, so that a thread that cannot be started (which drops
        // it) also undoes the count and the registry entry.
        let guard = ClientGuard::new(
            id,
            peer,
            Arc::clone(&shared.registry),
            admission,
            Arc::clone(&shared.counters),
        );
        let job = ClientJob {
            stream,
            peer,
            guard,
        };
        if let Err(err) = shared.cache.run(job) {
            // The job, and with it the guard and the stream, is already dropped: the connection
            // is closed and uncounted.
            shared.counters.failed();
            error!("{peer}: could not start a thread for this client, closing: {err}");
        }
    }
}
