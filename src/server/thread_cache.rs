//! The thread cache: a client thread whose client has left waits for the next client instead of
//! ending (MySQL's `thread_cache_size`, Apache's worker MPM).
//!
//! Creating a thread costs more system calls than the whole echo of a short connection, and a
//! parked thread takes the next client for the cost of one wake-up. Each client still has one
//! thread to itself for its whole life: the cache only decides what a thread does between
//! clients. It knows nothing of sockets; it runs jobs of type `J` with the handler it was made
//! with.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How many threads the cache keeps, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadCacheConfig {
    /// At most this many threads wait for a client at once; the others end with their client.
    pub max_parked: usize,
    /// A thread that has waited this long without a client ends, so an idle server goes back
    /// to its accept loops alone.
    pub park_limit: Duration,
}

impl Default for ThreadCacheConfig {
    fn default() -> Self {
        Self {
            max_parked: 32,
            park_limit: Duration::from_secs(10),
        }
    }
}

/// What a parked thread is woken with: the next job, or `None` to end.
type Mailbox<J> = mpsc::Sender<Option<J>>;

/// What the cache runs a job with.
type Handler<J> = Box<dyn Fn(J) + Send + Sync>;

/// Threads that run one job at a time and, between jobs, wait in the cache for the next one.
pub(super) struct ThreadCache<J> {
    config: ThreadCacheConfig,
    handler: Handler<J>,
    /// Threads waiting for a job, most recently parked last, each with its id.
    parked: Mutex<Parked<J>>,
    /// Every thread that may still run, by id, to join them when the cache closes.
    threads: Mutex<HashMap<u64, JoinHandle<()>>>,
    /// The last thread id handed out.
    next_thread: AtomicU64,
    /// The name and stack size of every thread.
    thread_name: String,
    stack_size: usize,
}

struct Parked<J> {
    waiting: Vec<(u64, Mailbox<J>)>,
    /// Set by [`ThreadCache::close`]: no thread parks from then on.
    closed: bool,
}

impl<J: Send + 'static> ThreadCache<J> {
    /// A cache whose threads, named `thread_name` with stacks of `stack_size` bytes, run each job
    /// with `handler`.
    pub(super) fn new(
        config: ThreadCacheConfig,
        thread_name: &str,
        stack_size: usize,
        handler: impl Fn(J) + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            config,
            handler: Box::new(handler),
            parked: Mutex::new(Parked {
                waiting: Vec::new(),
                closed: false,
            }),
            threads: Mutex::new(HashMap::new()),
            next_thread: AtomicU64::new(0),
            thread_name: thread_name.to_string(),
            stack_size,
        })
    }

    /// Runs `job` on a parked thread, or on a new one when none is parked. A new thread that
    /// cannot be started is an error, and the job is dropped with its closure.
    pub(super) fn run(self: &Arc<Self>, job: J) -> io::Result<()> {
        match self.offer(job) {
            Ok(()) => Ok(()),
            Err(job) => self.spawn(job),
        }
    }

    /// Hands `job` to a parked thread; gives it back when none is waiting.
    pub(super) fn offer(&self, mut job: J) -> Result<(), J> {
        // A parked thread whose wait has just ended may be gone: then the next one.
        while let Some((_, mailbox)) = self.parked().waiting.pop() {
            match mailbox.send(Some(job)) {
                Ok(()) => return Ok(()),
                Err(mpsc::SendError(returned)) => job = returned.expect("a job was sent"),
            }
        }
        Err(job)
    }

    /// Starts a thread for `job`, which then parks for the next.
    fn spawn(self: &Arc<Self>, job: J) -> io::Result<()> {
        let id = self.next_thread.fetch_add(1, Ordering::Relaxed) + 1;
        let cache = Arc::clone(self);
        let thread = thread::Builder::new()
            .name(self.thread_name.clone())
            .stack_size(self.stack_size)
            .spawn(move || cache.work(id, job))?;
        self.threads().insert(id, thread);
        Ok(())
    }

    /// The body of a cached thread: a job, then the next, until none comes.
    fn work(&self, id: u64, first: J) {
        let (mailbox, next_job) = mpsc::channel();
        let mut next = Some(first);
        while let Some(job) = next {
            (self.handler)(job);
            next = self.park(id, &mailbox, &next_job);
        }
        // Ending on its own (not joined by close_and_join): nobody needs its handle any more.
        self.threads().remove(&id);
    }

    /// Waits for the next job, unless the cache is full or closed, or none comes within the
    /// park limit.
    fn park(
        &self,
        id: u64,
        mailbox: &Mailbox<J>,
        next_job: &mpsc::Receiver<Option<J>>,
    ) -> Option<J> {
        {
            let mut parked = self.parked();
            // Checked under the lock that close() takes: no thread parks after it.
            if parked.closed || parked.waiting.len() >= self.config.max_parked {
                return None;
            }
            parked.waiting.push((id, mailbox.clone()));
        }
        match next_job.recv_timeout(self.config.park_limit) {
            Ok(next) => next,
            Err(_) => {
                let mut parked = self.parked();
                if let Some(at) = parked.waiting.iter().position(|&(other, _)| other == id) {
                    parked.waiting.remove(at);
                    return None;
                }
                drop(parked);
                // Taken off the list just now: a job (or the close) is on its way.
                next_job.recv().ok().flatten()
            }
        }
    }

    /// Threads waiting for a job now.
    pub(super) fn parked_threads(&self) -> usize {
        self.parked().waiting.len()
    }

    /// Ends every parked thread at once, keeps any other from parking, and joins every thread
    /// (those still running a job end when their job does).
    pub(super) fn close_and_join(&self) {
        {
            let mut parked = self.parked();
            parked.closed = true;
            for (_, mailbox) in parked.waiting.drain(..) {
                let _ = mailbox.send(None);
            }
        }
        let threads: Vec<JoinHandle<()>> = self.threads().drain().map(|(_, t)| t).collect();
        for thread in threads {
            let _ = thread.join();
        }
    }

    fn parked(&self) -> MutexGuard<'_, Parked<J>> {
        // No job runs while this lock is held, so a poisoned lock still guards a consistent list.
        self.parked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn threads(&self) -> MutexGuard<'_, HashMap<u64, JoinHandle<()>>> {
        self.threads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits, at most 10 s, until `cache` has a parked thread.
    fn until_one_parks<J: Send + 'static>(cache: &ThreadCache<J>) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while cache.parked_threads() == 0 {
            assert!(std::time::Instant::now() < deadline, "no thread parked");
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_thread_whose_job_is_done_takes_the_next_one_and_close_ends_it() {
        let (done, finished) = mpsc::channel();
        let cache = ThreadCache::new(
            ThreadCacheConfig {
                max_parked: 1,
                park_limit: Duration::from_secs(3600),
            },
            "test",
            64 * 1024,
            move |job: u32| done.send((job, thread::current().id())).unwrap(),
        );
        // Nobody is parked yet: the job comes back.
        assert_eq!(cache.offer(1), Err(1));
        cache.run(1).unwrap();
        let (_, first_thread) = finished.recv().unwrap();
        until_one_parks(&cache);
        // The parked thread takes the next job.
        assert_eq!(cache.offer(2), Ok(()));
        assert_eq!(finished.recv().unwrap(), (2, first_thread));
        until_one_parks(&cache);
        cache.close_and_join();
        assert_eq!(cache.parked_threads(), 0);
        assert_eq!(cache.offer(3), Err(3));
    }
}
