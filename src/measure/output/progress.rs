//! The live line a running bench shows on standard error, when that is a terminal.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use crate::measure::Tick;

/// Runs `run` with the live progress line on standard error, erased when it returns.
pub fn with_progress<T>(run: impl FnOnce(&mut dyn FnMut(&Tick)) -> T) -> T {
    let mut progress = ProgressLine::on_stderr();
    let result = run(&mut |tick| progress.show(tick));
    progress.finish();
    result
}

/// A progress line redrawn in place (`\r`, then "erase to end of line") once a tick.
pub struct ProgressLine {
    terminal: bool,
    /// The previous tick's time and round trips, for the rate since then.
    last: (Duration, u64),
}

impl ProgressLine {
    /// A line on standard error, drawn only if standard error is a terminal: a log file or a pipe
    /// gets no control characters.
    pub fn on_stderr() -> Self {
        Self {
            terminal: io::stderr().is_terminal(),
            last: (Duration::ZERO, 0),
        }
    }

    /// Draws the line for `tick`.
    pub fn show(&mut self, tick: &Tick) {
        if !self.terminal {
            return;
        }
        let (then, done_then) = self.last;
        let seconds = tick.elapsed.saturating_sub(then).as_secs_f64();
        let rate = match seconds > 0.0 {
            true => tick.round_trips.saturating_sub(done_then) as f64 / seconds,
            false => 0.0,
        };
        self.last = (tick.elapsed, tick.round_trips);
        let phase = if tick.warming_up { " (warm-up)" } else { "" };
        eprint!(
            "\r\x1b[K{:5.1} s  {rate:9.0} round trips/s  {} errors{phase}",
            tick.elapsed.as_secs_f64(),
            tick.errors
        );
        let _ = io::stderr().flush();
    }

    /// Erases the line, so that what follows starts on a clean line.
    pub fn finish(self) {
        if self.terminal {
            eprint!("\r\x1b[K");
        }
    }
}
