//! soc_client: the echo client. Interactive on a terminal, a byte-exact pipe otherwise, a
//! one-line check with `-m`, and two measuring tools: `ping` and `bench`.
//!
//! This file only reads the command line, sets up logging and signals, calls the library and
//! shows what it returns.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::OnceLock;

use anyhow::{bail, Context};
use soc::cli::client::{ClientMode, ClientRequest, Probes, Shown, Transport, Workload};
use soc::cli::client_flag;
use soc::client::udp::{self, DatagramPipeOptions};
use soc::client::{self, PipeOptions, SessionOptions};
use soc::logging::Output;
use soc::measure::export::{json, ExportFiles};
use soc::measure::output::progress::ProgressLine;
use soc::measure::output::text;
use soc::measure::report::BenchReport;
use soc::signals::StopFlag;
use soc::Target;

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
    let stdin = io::stdin();
    match (request.mode, request.transport) {
        (ClientMode::Message(options), Transport::Tcp) => {
            client::message(&target, &options, &mut stdout.lock())?
        }
        (ClientMode::Message(options), Transport::Udp { .. }) => {
            udp::message(&target, &options, &mut stdout.lock())?
        }
        (ClientMode::Session { timeout }, transport) if stdin.is_terminal() => {
            let options = SessionOptions { timeout };
            let keyboard = io::BufReader::new(stdin);
            let (mut stdout, mut stderr) = (stdout.lock(), io::stderr());
            match transport {
                Transport::Tcp => {
                    client::interactive(&target, &options, keyboard, &mut stdout, &mut stderr)
                        .inspect_err(|_| {
                            // A line half typed when the server went away must not reach the
                            // shell.
                            soc::sys::discard_pending_input()
                        })?
                }
                Transport::Udp { .. } => {
                    udp::interactive(&target, &options, keyboard, &mut stdout, &mut stderr)?
                }
            }
        }
        (ClientMode::Session { timeout }, Transport::Tcp) => {
            client::pipe(&target, &PipeOptions { timeout }, stdin, &mut stdout.lock())?;
        }
        (ClientMode::Session { timeout }, Transport::Udp { datagram_size }) => {
            let options = DatagramPipeOptions {
                timeout,
                size: datagram_size,
            };
            udp::pipe(&target, &options, stdin, &mut stdout.lock())?;
        }
        (
            ClientMode::Ping {
                probes,
                shown,
                exports,
            },
            _,
        ) => return ping(&target, &probes, shown, &exports),
        (
            ClientMode::Bench {
                workload,
                json,
                exports,
            },
            _,
        ) => return bench(&target, &workload, json, &exports),
    }
    Ok(ExitCode::SUCCESS)
}

/// Like the server, bench raises its soft open-file limit to what its connections need.
fn raise_open_file_limit(connections: usize) {
    if let Err(err) = soc::sys::raise_open_file_limit(connections) {
        log::warn!("could not read or raise the open-file limit: {err}");
    }
}

/// The exit code of the stop request that ended a run early (130 for Ctrl-C on Unix).
static STOPPED_BY: OnceLock<i32> = OnceLock::new();

/// A stop flag raised by the first Ctrl-C or SIGTERM, so that a run ends with its report.
fn stop_on_signals() -> anyhow::Result<StopFlag> {
    let stop = StopFlag::new();
    let flag = stop.clone();
    soc::signals::on_termination(move |signal| {
        let _ = STOPPED_BY.set(signal.exit_code());
        flag.request()
    })
    .context("could not install the signal handlers")?;
    Ok(stop)
}

fn ping(
    target: &Target,
    probes: &Probes,
    shown: Shown,
    exports: &ExportFiles,
) -> anyhow::Result<ExitCode> {
    let stop = stop_on_signals()?;
    let mut stdout = io::stdout().lock();
    let mut show = |line: String| {
        if shown != Shown::Everything {
            return;
        }
        if writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            // Nobody reads our output any more (`ping | head -3`): end the run quietly, as
            // ping(8) does on SIGPIPE. Rust ignores SIGPIPE, so the failed write is the signal.
            stop.request();
        }
    };
    let (summary, json, title, histograms, success) = match probes {
        Probes::Echo(options) => {
            let measured = soc::measure::ping::run(target, options, &stop, |event| {
                show(text::ping_line(event, client_flag))
            })?;
            let report = measured.report;
            (
                report.to_string(),
                json::to_line_as("ping", &report)?,
                text::ping_title(&report),
                measured.histograms,
                report.all_intact(),
            )
        }
        Probes::Udp(options) => {
            let measured = soc::measure::udp_ping::run(target, options, &stop, |event| {
                show(text::udp_ping_line(event, client_flag))
            })?;
            let report = measured.report;
            (
                report.to_string(),
                json::to_line_as("udp-ping", &report)?,
                text::udp_ping_title(&report),
                measured.histograms,
                report.all_intact(),
            )
        }
        Probes::Connect(options) => {
            let measured = soc::measure::connect::run(target, options, &stop, |probe| {
                show(text::connect_line(probe, client_flag))
            })?;
            let report = measured.report;
            (
                report.to_string(),
                json::to_line_as("connect", &report)?,
                text::connect_title(&report),
                measured.histograms,
                report.all_connected(),
            )
        }
    };
    let _ = match shown {
        Shown::Everything => writeln!(stdout, "\n{summary}"),
        Shown::Summary => writeln!(stdout, "{summary}"),
        Shown::Json => writeln!(stdout, "{json}"),
    };
    exports.write(&histograms, &title)?;
    Ok(match success {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

fn bench(
    target: &Target,
    workload: &Workload,
    json: bool,
    exports: &ExportFiles,
) -> anyhow::Result<ExitCode> {
    let stop = stop_on_signals()?;
    let (report, histograms) = match workload {
        Workload::Stream(options) => (
            BenchReport::Stream(soc::measure::stream::stream(target, options)?),
            None,
        ),
        Workload::PingPong(options) => {
            raise_open_file_limit(options.connections);
            let mut progress = ProgressLine::on_stderr();
            let measured = soc::measure::pingpong::ping_pong(target, options, &stop, |tick| {
                progress.show(tick)
            });
            progress.finish();
            let measured = measured?;
            (
                BenchReport::PingPong(measured.report),
                Some(measured.histograms),
            )
        }
        Workload::Rate(options) => {
            raise_open_file_limit(options.connections);
            let mut progress = ProgressLine::on_stderr();
            let measured =
                soc::measure::rate::rate(target, options, &stop, |tick| progress.show(tick));
            progress.finish();
            let measured = measured?;
            (
                BenchReport::Rate(measured.report),
                Some(measured.histograms),
            )
        }
        Workload::UdpRate(options) => {
            raise_open_file_limit(options.sockets);
            let mut progress = ProgressLine::on_stderr();
            let measured = soc::measure::udp_rate::udp_rate(target, options, &stop, |tick| {
                progress.show(tick)
            });
            progress.finish();
            let measured = measured?;
            (
                BenchReport::UdpRate(measured.report),
                Some(measured.histograms),
            )
        }
    };
    let mut stdout = io::stdout().lock();
    let shown = match json {
        true => json::to_line(&report)?,
        false => report.to_string(),
    };
    writeln!(stdout, "{shown}").context("could not write the report")?;
    if let Some(histograms) = histograms {
        exports.write(&histograms, &text::bench_title(&report))?;
    }
    if let (Some(code), Some(asked)) = (STOPPED_BY.get(), workload.duration()) {
        // Stopped before its time: the report is of the part that ran, and says so by the exit
        // code a script expects of an interrupted command.
        let _ = stdout.flush();
        eprintln!(
            "soc_client: interrupted after {:.1} of {} s measured; the report covers that time",
            report.measured_seconds(),
            asked.as_secs_f64()
        );
        std::process::exit(*code);
    }
    if let Err(reason) = report.verdict() {
        bail!("the run failed: {}", reason.render(client_flag));
    }
    Ok(ExitCode::SUCCESS)
}
