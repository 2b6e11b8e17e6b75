//! soc_client: the echo client. Interactive on a terminal, a byte-exact pipe otherwise, a
//! one-line check with `-m`, and two measuring tools: `ping` and `bench`.
//!
//! This file only reads the command line, sets up logging and signals, calls the library for the
//! mode asked, and shows what it returns; `soc::cli::conclude` picks the exit code.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::SystemTime;

use soc::cli::client::{
    BenchRequest, ClientMode, ClientRequest, MergeRequest, MonitorRequest, PingRequest,
};
use soc::cli::{client_flag, conclude, Outcome};
use soc::logging::Output;
use soc::measure::monitor::{self, Published};
use soc::measure::output::progress::with_progress;
use soc::measure::output::{self, text, ProbeOutput, Shown};
use soc::measure::slo;
use soc::metrics::{Endpoint, MonitorMetrics};
use soc::signals::StopFlag;
use soc::Target;

fn main() {
    let request =
        ClientRequest::parse_from(std::env::args_os()).unwrap_or_else(|usage| usage.exit());
    if let Err(err) = soc::logging::init(request.verbosity.level(), Output::Direct) {
        eprintln!("soc_client: error: could not start logging: {err}");
        std::process::exit(1);
    }
    let code = conclude(run(request), "soc_client", client_flag);
    let _ = io::stdout().flush();
    std::process::exit(code);
}

fn run(request: ClientRequest) -> anyhow::Result<Outcome> {
    let target = || {
        Target::resolve(
            &request.host,
            request.port,
            request.connect_timeout,
            request.path,
        )
    };
    match request.mode {
        ClientMode::Message(options) => {
            soc::client::message_over(&target()?, request.transport, &options, &mut io::stdout())?
        }
        ClientMode::Session { timeout } => {
            soc::client::session(&target()?, request.transport, timeout)?
        }
        ClientMode::Ping(ping) => {
            return self::ping(
                &target()?,
                &format!("{}:{}", request.host, request.port),
                ping,
            )
        }
        ClientMode::Bench(bench) => return self::bench(&target()?, bench),
        ClientMode::Monitor(monitor) => return self::monitor(monitor),
        ClientMode::Merge(merge) => return self::merge(merge),
        ClientMode::Generate(kind) => {
            let mut stdout = io::stdout().lock();
            soc::cli::generate(kind, soc::cli::client::command(), &mut stdout)?;
            stdout.flush()?;
        }
    }
    Ok(Outcome::Success)
}

fn ping(target: &Target, named: &str, ping: PingRequest) -> anyhow::Result<Outcome> {
    let stop = StopFlag::on_signals()?;
    let started = SystemTime::now();
    let everything = ping.report.shown == Shown::Everything;
    let mut out = ProbeOutput::open(&stop, everything, &ping.lines)?;
    let measured = ping
        .probes
        .run(target, &stop, |event| out.ping(named, event, client_flag))?;
    // Like ping(8), a ping stopped by Ctrl-C ends with its summary, and its code says whether
    // every probe came back.
    Ok(Outcome::of(output::show(
        &measured,
        &ping.report,
        started,
        client_flag,
    )?))
}

/// Probes the targets until Ctrl-C (or their count), then prints each one's statistics; exit 0.
fn monitor(monitor: MonitorRequest) -> anyhow::Result<Outcome> {
    let stop = StopFlag::on_signals()?;
    let published = Arc::new(Published::for_targets(&monitor.targets));
    let collector = MonitorMetrics::of(Arc::clone(&published));
    let endpoint = monitor
        .metrics
        .map(|addr| Endpoint::start(addr, collector))
        .transpose()?;
    let mut out = ProbeOutput::open(&stop, !monitor.quiet, &monitor.lines)?;
    if let Some(endpoint) = &endpoint {
        // Standard output may be closed already (`| head`): nothing left to tell, no panic.
        let _ = writeln!(io::stdout(), "{}", endpoint.announcement());
    }
    let (targets, options) = (&monitor.targets, &monitor.options);
    let watched = monitor::run(targets, options, &stop, &published, |event| {
        out.monitor(event)
    })?;
    let _ = writeln!(io::stdout(), "{}", text::monitor_summaries(&watched));
    // Done probing (-c): the final counts stay served for a last scrape, until Ctrl-C.
    endpoint.inspect(|endpoint| endpoint.serve_until(&stop));
    Ok(Outcome::Success)
}

/// One report from the reports of several runs.
fn merge(merge: MergeRequest) -> anyhow::Result<Outcome> {
    let merged = soc::measure::merge::files(&merge.files).and_then(|merged| {
        let mode = merged.0.report.mode();
        slo::check(
            &merge.report.objectives,
            mode,
            &format!("a merge of {mode} reports"),
        )?;
        Ok(merged)
    });
    let (measured, started) = match merged {
        Ok(merged) => merged,
        Err(why) => return Ok(Outcome::Refused(why)),
    };
    Ok(Outcome::of(output::show(
        &measured,
        &merge.report,
        started,
        client_flag,
    )?))
}

fn bench(target: &Target, bench: BenchRequest) -> anyhow::Result<Outcome> {
    let stop = StopFlag::on_signals()?;
    let started = SystemTime::now();
    let measured = with_progress(|tick| bench.workload.run(target, &stop, tick))?;
    let judgement = output::show(&measured, &bench.report, started, client_flag)?;
    match (stop.signal(), bench.workload.duration()) {
        (Some(signal), Some(asked)) => {
            // Stopped before its time: the report is of the part that ran, and says so by the
            // exit code a script expects of an interrupted command.
            eprintln!(
                "soc_client: interrupted after {:.1} of {} s measured; the report covers that time",
                measured.report.measured_seconds(),
                asked.as_secs_f64()
            );
            Ok(Outcome::Interrupted(signal))
        }
        _ => Ok(Outcome::of(judgement)),
    }
}
