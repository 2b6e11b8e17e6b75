//! Showing a measuring run to a person: the lines and reports as text, and the live progress
//! line. Nothing here measures; everything here reads what the workloads produced.

mod bench;
pub mod progress;
pub mod text;

use std::io::{self, Write};
use std::time::SystemTime;

use crate::limits::SettingNames;
use crate::measure::export::{json, ExportFiles};
use crate::measure::report::{Measured, Report};
use crate::signals::StopFlag;

/// What a run prints on standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// A line per probe, then the summary.
    Everything,
    /// The summary only (`ping -q`, as ping(8)'s; `bench`).
    Summary,
    /// The summary only, as JSON (`--json`).
    Json,
}

/// Prints a run's report as `shown` asks (its reason, if it failed, rendered through `names`,
/// `started` saying when it began), writes the files asked for, and returns whether it passed.
pub fn show(
    measured: &Measured<Report>,
    shown: Shown,
    exports: &ExportFiles,
    started: SystemTime,
    names: SettingNames,
) -> anyhow::Result<Result<(), String>> {
    let report = &measured.report;
    let verdict = report.verdict().map_err(|reason| reason.render(names));
    let printed = match shown {
        Shown::Json => {
            let said = verdict.as_ref().map_err(String::as_str).copied();
            json::document(report, said, started)
        }
        Shown::Everything => format!("\n{report}"),
        Shown::Summary => report.to_string(),
    };
    // Nobody reading any more (`| head`) is no failure of the run.
    let _ = writeln!(io::stdout().lock(), "{printed}");
    if let Some(histograms) = &measured.histograms {
        exports.write(histograms, &text::title(report))?;
    }
    Ok(verdict)
}

/// A run's lines for a person, on standard output, as they come. When nobody reads them any more
/// (`ping | head -3`) the run is asked to stop, quietly, as ping(8) ends on SIGPIPE: Rust ignores
/// SIGPIPE, so the failed write is the signal.
pub struct Lines {
    stop: StopFlag,
    shown: bool,
}

impl Lines {
    /// Lines that are printed when `shown`, and that raise `stop` when standard output closes.
    pub fn on_stdout(stop: &StopFlag, shown: bool) -> Lines {
        Lines {
            stop: stop.clone(),
            shown,
        }
    }

    /// Prints `line` (when lines are shown).
    pub fn say(&mut self, line: impl AsRef<str>) {
        if !self.shown {
            return;
        }
        let mut stdout = io::stdout().lock();
        let written = writeln!(stdout, "{}", line.as_ref()).and_then(|()| stdout.flush());
        if written.is_err() {
            self.stop.request();
        }
    }
}
