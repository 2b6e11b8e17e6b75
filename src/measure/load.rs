//! What every load generator's run is made of, closed loop or open: event-loop threads that each
//! drive a share of the connections, the measuring window they share, the signals between them
//! (a stop, the server gone), the counters the ticks read, and the merge of their tallies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use super::tally::Tally;
use super::Tick;
use crate::limits::Limit;
use crate::net::Target;
use crate::signals::StopFlag;

/// How often `on_tick` is called while a run goes on.
const TICK: Duration = Duration::from_secs(1);

/// The measuring window: what happens before `measure_from` is warm-up, nothing is measured
/// after `end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) started: Instant,
    pub(crate) measure_from: Instant,
    pub(crate) end: Instant,
}

impl Window {
    pub(crate) fn starting_now(warmup: Duration, duration: Duration) -> Window {
        let started = Instant::now();
        Window {
            started,
            measure_from: started + warmup,
            end: started + warmup + duration,
        }
    }
}

/// Raised by the first event loop whose reconnect is refused after the server was there: every
/// loop stops at once, and the report says when.
#[derive(Default)]
pub(crate) struct ServerGone {
    pub(crate) flag: StopFlag,
    at: Mutex<Option<Instant>>,
}

impl ServerGone {
    pub(crate) fn raise(&self) {
        let mut at = self
            .at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        at.get_or_insert_with(Instant::now);
        self.flag.request();
    }

    pub(crate) fn at(&self) -> Option<Instant> {
        *self
            .at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What the event loops publish while they run, for the ticks.
#[derive(Default)]
pub(crate) struct Live {
    pub(crate) round_trips: AtomicU64,
    pub(crate) errors: AtomicU64,
}

/// What every event loop of one run shares: where to connect, the window, and the signals.
pub(crate) struct Run {
    pub(crate) target: Target,
    pub(crate) window: Window,
    /// A round trip that makes no progress for this long is a timeout.
    pub(crate) timeout: Limit,
    /// Raised by the caller (Ctrl-C): every loop ends with what it has.
    pub(crate) stop: StopFlag,
    pub(crate) gone: ServerGone,
    pub(crate) live: Live,
    /// When a loop first saw the stop request: the measured time ends there, not after the
    /// wait for the last echoes.
    stopped_at: std::sync::OnceLock<Instant>,
}

impl Run {
    pub(crate) fn new(target: &Target, window: Window, timeout: Limit, stop: &StopFlag) -> Self {
        Run {
            target: target.clone(),
            window,
            timeout,
            stop: stop.clone(),
            gone: ServerGone::default(),
            live: Live::default(),
            stopped_at: std::sync::OnceLock::new(),
        }
    }

    /// Whether the loops should stop before the window ends: asked to, or the server is gone.
    pub(crate) fn interrupted(&self) -> bool {
        let stopped = self.stop.is_requested();
        if stopped {
            self.stopped_at.get_or_init(Instant::now);
        }
        stopped || self.gone.flag.is_requested()
    }
}

/// Splits `connections` over `threads` event loops (connection `c` to loop `c % threads`), runs
/// `event_loop` on each with its share, calls `on_tick` about once a second until the window
/// ends or every loop is done, and merges what they measured.
pub(crate) fn run_event_loops(
    run: &Arc<Run>,
    connections: usize,
    threads: usize,
    event_loop: impl Fn(Arc<Run>, Vec<usize>) -> anyhow::Result<Tally> + Send + Sync + 'static,
    mut on_tick: impl FnMut(&Tick),
) -> anyhow::Result<Tally> {
    // Like the server, a load generator raises its soft open-file limit to what it opens.
    if let Err(err) = crate::sys::raise_open_file_limit(connections) {
        log::warn!("could not read or raise the open-file limit: {err}");
    }
    let threads = threads.clamp(1, connections.max(1));
    let event_loop = Arc::new(event_loop);
    // Raised when the last event loop has ended (window over, stop requested, or no connection
    // possible), so that the ticks end with them.
    let all_done = StopFlag::new();
    let running = Arc::new(AtomicU64::new(threads as u64));
    let workers: Vec<_> = (0..threads)
        .map(|worker| {
            let ids: Vec<usize> = (worker..connections).step_by(threads).collect();
            let (run, event_loop) = (Arc::clone(run), Arc::clone(&event_loop));
            let (running, all_done) = (Arc::clone(&running), all_done.clone());
            thread::Builder::new()
                .name(format!("bench {worker}"))
                .spawn(move || {
                    let tally = event_loop(run, ids);
                    if running.fetch_sub(1, Ordering::SeqCst) == 1 {
                        all_done.request();
                    }
                    tally
                })
                .context("could not start a load thread")
        })
        .collect::<anyhow::Result<_>>()?;

    let window = run.window;
    loop {
        let left = window.end.saturating_duration_since(Instant::now());
        if left.is_zero() || all_done.sleep(left.min(TICK)) {
            break;
        }
        on_tick(&Tick {
            elapsed: window.started.elapsed(),
            round_trips: run.live.round_trips.load(Ordering::Relaxed),
            errors: run.live.errors.load(Ordering::Relaxed),
            warming_up: Instant::now() < window.measure_from,
        });
    }

    let mut tally = Tally::new();
    for worker in workers {
        let outcome = worker
            .join()
            .map_err(|_| anyhow!("a load thread panicked"))??;
        tally.merge(outcome)?;
    }
    if tally.connected == 0 {
        if let Some(err) = tally.connect_error.take() {
            return Err(err);
        }
    }
    Ok(tally)
}

/// How long the measured time really lasted: to the end of the window, or to when the run was
/// stopped or the server went away, whichever came first.
pub(crate) fn measured_seconds(run: &Run) -> f64 {
    let window = run.window;
    let until = Instant::now()
        .min(window.end)
        .min(run.gone.at().unwrap_or(window.end))
        .min(run.stopped_at.get().copied().unwrap_or(window.end));
    until
        .saturating_duration_since(window.measure_from)
        .as_secs_f64()
}

/// When, counted from the start of the measured time, the server went away, if it did.
pub(crate) fn server_gone_after(run: &Run) -> Option<f64> {
    run.gone.at().map(|at| {
        at.saturating_duration_since(run.window.measure_from)
            .as_secs_f64()
    })
}
