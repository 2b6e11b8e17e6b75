//! soc_client: the echo client. Interactive on a terminal, a byte-exact pipe otherwise, a
//! one-line check with `-m`, and two measuring tools: `ping` and `bench`.
//!
//! This file only reads the command line, sets up logging and signals, calls the library and
//! shows what it returns.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};
use soc::cli::client::{ClientMode, ClientRequest, Workload};
use soc::cli::client_flag;
use soc::client::{self, PipeOptions, SessionOptions, Target};
use soc::logging::Output;
use soc::measure::output::progress::ProgressLine;
use soc::measure::output::text;
use soc::measure::ping::PingOptions;
use soc::measure::report::BenchReport;
use soc::signals::StopFlag;

fn main() -> ExitCode {
    let request = ClientRequest::from_command_line();
    if let Err(err) = soc::logging::init(request.verbosity.level(), Output::Direct) {
        eprintln!("soc_client: error: could not start logging: {err}");
        return ExitCode::FAILURE;
    }
    match run(request) {
        Ok(code) => code,
        Err(err) => {
            eprintln!(
                "soc_client: error: {}",
                soc::limits::describe(&err, client_flag)
            );
            ExitCode::FAILURE
        }
    }
}

fn run(request: ClientRequest) -> anyhow::Result<ExitCode> {
    let target = Target::resolve(&request.host, request.port, request.connect_timeout)?;
    let stdout = io::stdout();
    match request.mode {
        ClientMode::Message(options) => client::message(&target, &options, &mut stdout.lock())?,
        ClientMode::Session { timeout } => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                client::interactive(
                    &target,
                    &SessionOptions { timeout },
                    io::BufReader::new(stdin),
                    &mut stdout.lock(),
                    &mut io::stderr(),
                )?;
            } else {
                client::pipe(&target, &PipeOptions { timeout }, stdin, &mut stdout.lock())?;
            }
        }
        ClientMode::Ping {
            options,
            summary_only,
        } => return ping(&target, &options, summary_only),
        ClientMode::Bench { workload, json } => return bench(&target, &workload, json),
    }
    Ok(ExitCode::SUCCESS)
}

/// A stop flag raised by the first Ctrl-C or SIGTERM, so that a run ends with its report.
fn stop_on_signals() -> anyhow::Result<StopFlag> {
    let stop = StopFlag::new();
    let flag = stop.clone();
    soc::signals::on_termination(move |_| flag.request())
        .context("could not install the signal handlers")?;
    Ok(stop)
}

fn ping(target: &Target, options: &PingOptions, summary_only: bool) -> anyhow::Result<ExitCode> {
    let stop = stop_on_signals()?;
    let mut stdout = io::stdout().lock();
    let report = soc::measure::ping::run(target, options, &stop, |event| {
        if summary_only {
            return;
        }
        let line = text::ping_line(event, client_flag);
        if writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            // Nobody reads our output any more (`ping | head -3`): end the run quietly, as
            // ping(8) does on SIGPIPE. Rust ignores SIGPIPE, so the failed write is the signal.
            stop.request();
        }
    })?;
    let _ = match summary_only {
        true => writeln!(stdout, "{report}"),
        false => writeln!(stdout, "\n{report}"),
    };
    Ok(if report.all_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn bench(target: &Target, workload: &Workload, json: bool) -> anyhow::Result<ExitCode> {
    let stop = stop_on_signals()?;
    let report = match workload {
        Workload::Stream(options) => {
            BenchReport::Stream(soc::measure::stream::stream(target, options)?)
        }
        Workload::PingPong(options) => {
            if let Err(err) = soc::sys::raise_open_file_limit(options.connections) {
                log::warn!("could not read or raise the open-file limit: {err}");
            }
            let mut progress = ProgressLine::on_stderr();
            let report = soc::measure::pingpong::ping_pong(target, options, &stop, |tick| {
                progress.show(tick)
            });
            progress.finish();
            BenchReport::PingPong(report?)
        }
    };
    let mut stdout = io::stdout().lock();
    let shown = match json {
        true => soc::measure::export::json::to_line(&report)?,
        false => report.to_string(),
    };
    writeln!(stdout, "{shown}").context("could not write the report")?;
    if let Err(reason) = report.verdict() {
        bail!("the run failed: {}", reason.render(client_flag));
    }
    Ok(ExitCode::SUCCESS)
}
