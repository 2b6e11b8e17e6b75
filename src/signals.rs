//! SIGINT and SIGTERM: the first one asks for a clean stop, a second one ends the process at once.

use std::io;
use std::thread;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Calls `on_first` the first time SIGINT or SIGTERM arrives; a second signal exits the process
/// at once with the shell's code for it (128 + the signal number).
///
/// The handler only forwards signals to a thread, so `on_first` may do anything (log, take
/// locks, shut sockets down), which a signal handler may not. `on_first` runs on a thread of its
/// own: if the clean stop it starts gets stuck (a blocked standard error, say), the second signal
/// is still heard and still ends the process.
pub fn on_termination(on_first: impl FnOnce(i32) + Send + 'static) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut on_first = Some(on_first);
            for signal in signals.forever() {
                match on_first.take() {
                    Some(first) => {
                        let started = thread::Builder::new()
                            .name("shutdown".into())
                            .spawn(move || first(signal));
                        if started.is_err() {
                            // No thread to stop cleanly with: stop now.
                            std::process::exit(128 + signal);
                        }
                    }
                    // Nothing is logged here: logging may be what the clean stop is stuck on.
                    None => std::process::exit(128 + signal),
                }
            }
        })?;
    Ok(())
}

/// A readable name for the signals this module handles.
pub fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "signal",
    }
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
