//! How a run ended, and the one place that turns it into an exit code (and, for a failure, the
//! last line on standard error). The codes are README's: 0 success, 1 failure, 2 usage (clap's,
//! before any run), 3 an objective missed, 128 + n for a run ended by signal n.

use crate::limits::{describe, SettingNames};
use crate::signals::StopSignal;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done, and all it checked held.
    Success,
    /// Done, and it failed: the reason, as a sentence.
    Failed(String),
    /// Ended early by a stop request; what it printed covers the part that ran.
    Interrupted(StopSignal),
}

impl Outcome {
    /// The process's exit code for this outcome.
    pub fn code(&self) -> i32 {
        match self {
            Outcome::Success => 0,
            Outcome::Failed(_) => 1,
            Outcome::Interrupted(signal) => signal.exit_code(),
        }
    }
}

/// Says how `result` ended on standard error when it failed (one line, `program: …`, settings
/// named through `names`) and returns the exit code.
pub fn conclude(result: anyhow::Result<Outcome>, program: &str, names: SettingNames) -> i32 {
    match result {
        Ok(outcome) => {
            if let Outcome::Failed(reason) = &outcome {
                eprintln!("{program}: the run failed: {reason}");
            }
            outcome.code()
        }
        Err(err) => {
            eprintln!("{program}: error: {}", describe(&err, names));
            1
        }
    }
}
