//! How a run ended, and the one place that turns it into an exit code (and, for a failure or a
//! missed objective, the last line on standard error). The codes are README's: 0 success, 1
//! failure (which wins over a missed objective), 2 usage (clap's, before any run), 3 an objective
//! missed, 128 + n for a run ended by signal n.

use crate::limits::{describe, SettingNames};
use crate::measure::output::Judgement;
use crate::signals::StopSignal;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done, and all it checked held.
    Success,
    /// Done, and it failed: the reason, as a sentence.
    Failed(String),
    /// Done and trustworthy, and objectives were missed (as `--slo` wrote them).
    Missed(Vec<String>),
    /// Not done: what it was given cannot be used (files that do not merge, say).
    Refused(String),
    /// Ended early by a stop request; what it printed covers the part that ran.
    Interrupted(StopSignal),
}

impl Outcome {
    /// How a shown run ended: failed (which wins), objectives missed, or success.
    pub fn of(judgement: Judgement) -> Outcome {
        match judgement.verdict {
            Err(reason) => Outcome::Failed(reason),
            Ok(()) if !judgement.missed.is_empty() => Outcome::Missed(
                judgement
                    .missed
                    .iter()
                    .map(|judged| judged.objective.text.clone())
                    .collect(),
            ),
            Ok(()) => Outcome::Success,
        }
    }

    /// The process's exit code for this outcome.
    pub fn code(&self) -> i32 {
        match self {
            Outcome::Success => 0,
            Outcome::Failed(_) => 1,
            Outcome::Missed(_) => 3,
            Outcome::Refused(_) => 2,
            Outcome::Interrupted(signal) => signal.exit_code(),
        }
    }
}

/// Says how `result` ended on standard error when it failed (one line, `program: …`, settings
/// named through `names`) and returns the exit code.
pub fn conclude(result: anyhow::Result<Outcome>, program: &str, names: SettingNames) -> i32 {
    match result {
        Ok(outcome) => {
            match &outcome {
                Outcome::Failed(reason) => eprintln!("{program}: the run failed: {reason}"),
                Outcome::Missed(objectives) => {
                    eprintln!("{program}: objectives missed: {}", objectives.join(", "))
                }
                Outcome::Refused(why) => eprintln!("{program}: error: {why}"),
                Outcome::Success | Outcome::Interrupted(_) => {}
            }
            outcome.code()
        }
        Err(err) => {
            eprintln!("{program}: error: {}", describe(&err, names));
            1
        }
    }
}
