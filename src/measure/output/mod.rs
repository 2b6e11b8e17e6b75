//! Showing a measuring run to a person: the lines and reports as text, and the live progress
//! line. Nothing here measures; everything here reads what the workloads produced.

mod bench;
pub mod progress;
pub mod text;

use std::io::{self, Write};
use std::time::SystemTime;

use crate::limits::SettingNames;
use crate::measure::export::{json, ExportFiles};
use crate::measure::monitor::MonitorEvent;
use crate::measure::ping::PingEvent;
use crate::measure::record::ProbeRecord;
use crate::measure::report::{Measured, Report};
use crate::measure::slo::{self, Judged, Objective};
use crate::measure::udp_ping::UdpPingEvent;
use crate::measure::ProbeEvent;
use crate::signals::StopFlag;

/// What a run prints on standard output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Shown {
    /// A line per probe, then the summary.
    #[default]
    Everything,
    /// The summary only (`ping -q`, as ping(8)'s; `bench`).
    Summary,
    /// The summary only, as JSON (`--json`).
    Json,
}

/// How a run's report is shown: what is printed, the files written, the objectives it is held
/// to.
#[derive(Debug, Default)]
pub struct ReportOptions {
    pub shown: Shown,
    pub exports: ExportFiles,
    pub objectives: Vec<Objective>,
}

/// How each probe is told (`ping`, `monitor`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeLines {
    /// Each line begins with its time (`-D`).
    pub timestamps: bool,
    /// One JSON record per probe outcome, to this file (`-`: standard output, instead of the
    /// lines).
    pub ndjson: Option<std::path::PathBuf>,
    /// Each UDP echo's line says the marking it came back with (`--dscp` and the other path
    /// flags, or `-v`).
    pub marks: bool,
}

/// How a shown run ended: passed or failed (and why), and the objectives it missed.
#[derive(Debug)]
pub struct Judgement {
    pub verdict: Result<(), String>,
    pub missed: Vec<Judged>,
}

/// Prints a run's report as `options` ask, with a line per objective (its reason, if it failed,
/// rendered through `names`, `started` saying when it began), writes the files asked for, and
/// returns how it ended.
pub fn show(
    measured: &Measured<Report>,
    options: &ReportOptions,
    started: SystemTime,
    names: SettingNames,
) -> anyhow::Result<Judgement> {
    let (shown, exports, objectives) = (options.shown, &options.exports, &options.objectives);
    let report = &measured.report;
    let verdict = report
        .verdict_under(objectives)
        .map_err(|reason| reason.render(names));
    let judged = slo::judge(objectives, report);
    let printed = match shown {
        Shown::Json => {
            let said = verdict.as_ref().map_err(String::as_str).copied();
            let slo = (!objectives.is_empty()).then_some(judged.as_slice());
            json::document(report, said, started, measured.histograms.as_ref(), slo)
        }
        Shown::Everything => format!("\n{report}{}", slo_lines(&judged)),
        Shown::Summary => format!("{report}{}", slo_lines(&judged)),
    };
    // Nobody reading any more (`| head`) is no failure of the run.
    let _ = writeln!(io::stdout().lock(), "{printed}");
    if let Some(histograms) = &measured.histograms {
        exports.write(histograms, &text::title(report))?;
    }
    let missed = judged.into_iter().filter(|judged| !judged.met).collect();
    Ok(Judgement { verdict, missed })
}

/// A line per objective, after the report.
fn slo_lines(judged: &[Judged]) -> String {
    judged.iter().map(|judged| format!("\n{judged}")).collect()
}

/// How the probes of `ping` and `monitor` are told: a line each for a person (each beginning
/// with its time, with `-D`), and, with `--ndjson`, a JSON record each for a script, in a file or
/// on standard output (then instead of the lines).
pub struct ProbeOutput {
    lines: Lines,
    timestamps: bool,
    marks: bool,
    ndjson: Option<Box<dyn Write + Send>>,
}

impl ProbeOutput {
    /// The output `lines` ask for: lines on standard output when `shown` (and the records are
    /// not there), each with its time with `-D`; records to the `--ndjson` file (`-`: standard
    /// output). Standard output closing raises `stop`.
    pub fn open(stop: &StopFlag, shown: bool, lines: &ProbeLines) -> anyhow::Result<ProbeOutput> {
        let (timestamps, ndjson) = (lines.timestamps, lines.ndjson.as_deref());
        let to_stdout = ndjson.is_some_and(|path| path.as_os_str() == "-");
        let ndjson: Option<Box<dyn Write + Send>> = match ndjson {
            None => None,
            Some(_) if to_stdout => Some(Box::new(io::LineWriter::new(io::stdout()))),
            Some(path) => {
                let file = std::fs::File::create(path).map_err(|err| {
                    anyhow::Error::new(err).context(format!("could not write {}", path.display()))
                })?;
                Some(Box::new(io::LineWriter::new(file)))
            }
        };
        Ok(ProbeOutput {
            lines: Lines::on_stdout(stop, shown && !to_stdout),
            timestamps,
            marks: lines.marks,
            ndjson,
        })
    }

    /// Says `line`, after its time with `-D`.
    pub fn line(&mut self, line: impl AsRef<str>) {
        match self.timestamps {
            true => self.lines.say(format!(
                "[{}] {}",
                super::export::json::timestamp(std::time::SystemTime::now()),
                line.as_ref()
            )),
            false => self.lines.say(line),
        }
    }

    /// Tells a ping's `event`, its probes named `target` in the records, settings named through
    /// `names`.
    pub fn ping(&mut self, target: &str, event: ProbeEvent, names: SettingNames) {
        let line = match event {
            ProbeEvent::Echo(event) => {
                if let PingEvent::Probe(probe) = event {
                    self.record(target, "tcp", &ProbeRecord::of_ping(probe));
                }
                text::ping_line(event, names)
            }
            ProbeEvent::Udp(event) => {
                let mut line = text::udp_ping_line(event, names);
                if let UdpPingEvent::Probe { seq, outcome, .. } = event {
                    let record = ProbeRecord::of_udp(*seq, outcome);
                    self.record(target, "udp", &record);
                    line.push_str(&self.marks_of(&record));
                }
                line
            }
            ProbeEvent::Connect(probe) => {
                self.record(target, "connect", &ProbeRecord::of_connect(probe));
                text::connect_line(probe, names)
            }
        };
        self.line(line);
    }

    /// Tells a monitor's `event`.
    pub fn monitor(&mut self, event: &MonitorEvent) {
        let mut line = text::monitor_line(event);
        if let MonitorEvent::Probe { target, record, .. } = event {
            self.record(&target.label(), target.proto.name(), record);
            line.push_str(&self.marks_of(record));
        }
        self.line(line);
    }

    /// ` dscp=EF ecn=ECT(1) ttl=64` for a UDP echo, when lines say the marking.
    fn marks_of(&self, record: &ProbeRecord) -> String {
        let Some(marks) = record.marks.filter(|_| self.marks) else {
            return String::new();
        };
        let class = match marks.class {
            Some(class) => format!(
                " dscp={} ecn={}",
                crate::net::Dscp::of_class(class),
                crate::net::Ecn::of_class(class)
            ),
            None => String::new(),
        };
        let ttl = marks
            .ttl
            .map(|ttl| format!(" ttl={ttl}"))
            .unwrap_or_default();
        class + &ttl
    }

    /// Writes `record`, a probe of `target` by `proto`, as an NDJSON line, if asked.
    pub fn record(
        &mut self,
        target: &str,
        proto: &str,
        record: &crate::measure::record::ProbeRecord,
    ) {
        if let Some(out) = &mut self.ndjson {
            let line = super::export::json::record(target, proto, record);
            if writeln!(out, "{line}").is_err() {
                // The reader of the records went away: the run has nobody to tell any more.
                self.ndjson = None;
                self.lines.stop.request();
            }
        }
    }
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
