//! Stop requests (Ctrl-C everywhere, SIGTERM on Unix, Ctrl-Break and console close on Windows):
//! the first one asks for a clean stop, a second one ends the process at once.

use std::io;
use std::sync::Mutex;
use std::thread;

pub use crate::sys::StopSignal;

/// Calls `on_first` the first time a stop request arrives; a second request exits the process
/// at once with the shell's code for it ([`StopSignal::exit_code`]).
///
/// Requests are forwarded to a thread, never handled in a signal handler, so `on_first` may do
/// anything (log, take locks, shut sockets down). `on_first` runs on a thread of its own: if the
/// clean stop it starts gets stuck (a blocked standard error, say), the second request is still
/// heard and still ends the process.
pub fn on_termination(on_first: impl FnOnce(StopSignal) + Send + 'static) -> io::Result<()> {
    let on_first = Mutex::new(Some(on_first));
    crate::sys::on_stop_signals(move |signal| {
        let first = on_first
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        match first {
            Some(first) => {
                let started = thread::Builder::new()
                    .name("shutdown".into())
                    .spawn(move || first(signal));
                if started.is_err() {
                    // No thread to stop cleanly with: stop now.
                    std::process::exit(signal.exit_code());
                }
            }
            // Nothing is logged here: logging may be what the clean stop is stuck on.
            None => std::process::exit(signal.exit_code()),
        }
    })
}

/// A request to stop that long-running loops (ping, bench) check between steps, and that wakes
/// their waits at once: Ctrl-C ends a run with its summary instead of killing it.
#[derive(Debug, Clone, Default)]
pub struct StopFlag {
    inner: std::sync::Arc<StopInner>,
}

#[derive(Debug, Default)]
struct StopInner {
    requested: std::sync::atomic::AtomicBool,
    /// The stop request that raised the flag, when one did.
    by: std::sync::OnceLock<StopSignal>,
    lock: std::sync::Mutex<()>,
    wake: std::sync::Condvar,
}

impl StopFlag {
    /// A flag nobody has raised yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Raises the flag and wakes every [`StopFlag::sleep`].
    pub fn request(&self) {
        let _guard = self.inner.lock.lock();
        self.inner
            .requested
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.wake.notify_all();
    }

    /// Raises the flag for a stop request the user made (Ctrl-C, SIGTERM), which
    /// [`StopFlag::signal`] tells afterwards.
    pub fn request_by(&self, signal: StopSignal) {
        let _ = self.inner.by.set(signal);
        self.request();
    }

    /// The stop request that raised the flag, if a user's did.
    pub fn signal(&self) -> Option<StopSignal> {
        self.inner.by.get().copied()
    }

    /// A flag raised by the first stop request the process receives (a second one ends the
    /// process at once, [`on_termination`]).
    pub fn on_signals() -> io::Result<StopFlag> {
        let stop = StopFlag::new();
        let flag = stop.clone();
        on_termination(move |signal| flag.request_by(signal))?;
        Ok(stop)
    }

    /// Whether a stop was requested (one atomic load: cheap enough for hot loops).
    pub fn is_requested(&self) -> bool {
        self.inner
            .requested
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Sleeps for `duration` or until a stop is requested; returns whether one was.
    pub fn sleep(&self, duration: std::time::Duration) -> bool {
        let guard = self
            .inner
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = self
            .inner
            .wake
            .wait_timeout_while(guard, duration, |_| !self.is_requested());
        self.is_requested()
    }
}
