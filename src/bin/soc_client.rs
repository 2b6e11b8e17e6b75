//! soc_client: the echo client. Interactive on a terminal, a byte-exact pipe otherwise, a
//! one-line check with `-m`, and two measuring tools: `ping` and `bench`.
//!
//! This file only reads the command line, sets up logging and signals, calls the library for the
//! mode asked, and shows what it returns; `soc::cli::conclude` picks the exit code.

use std::io::{self, Write};
use std::time::SystemTime;

use soc::cli::client::{ClientMode, ClientRequest, Probes, Workload};
use soc::cli::{client_flag, conclude, Outcome};
use soc::logging::Output;
use soc::measure::export::ExportFiles;
use soc::measure::output::progress::with_progress;
use soc::measure::output::{self, text, Lines, Shown};
use soc::measure::report::{Measured, Report};
use soc::measure::{connect, open_loop, ping, pingpong, stream, udp_ping};
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
    let target = Target::resolve(&request.host, request.port, request.connect_timeout)?;
    match request.mode {
        ClientMode::Message(options) => soc::client::message_over(
            &target,
            request.transport,
            &options,
            &mut io::stdout().lock(),
        )?,
        ClientMode::Session { timeout } => {
            soc::client::session(&target, request.transport, timeout)?
        }
        ClientMode::Ping {
            probes,
            shown,
            exports,
        } => return ping(&target, probes, shown, &exports),
        ClientMode::Bench {
            workload,
            json,
            exports,
        } => return bench(&target, workload, json, &exports),
    }
    Ok(Outcome::Success)
}

fn ping(
    target: &Target,
    probes: Probes,
    shown: Shown,
    exports: &ExportFiles,
) -> anyhow::Result<Outcome> {
    let stop = StopFlag::on_signals()?;
    let started = SystemTime::now();
    let mut lines = Lines::on_stdout(&stop, shown == Shown::Everything);
    let measured = match probes {
        Probes::Echo(options) => ping::run(target, &options, &stop, |event| {
            lines.say(text::ping_line(event, client_flag))
        })?
        .map(Report::Ping),
        Probes::Udp(options) => udp_ping::run(target, &options, &stop, |event| {
            lines.say(text::udp_ping_line(event, client_flag))
        })?
        .map(Report::UdpPing),
        Probes::Connect(options) => connect::run(target, &options, &stop, |probe| {
            lines.say(text::connect_line(probe, client_flag))
        })?
        .map(Report::Connect),
    };
    // Like ping(8), a ping stopped by Ctrl-C ends with its summary, and its code says whether
    // every probe came back.
    concluded(output::show(
        &measured,
        shown,
        exports,
        started,
        client_flag,
    )?)
}

fn bench(
    target: &Target,
    workload: Workload,
    json: bool,
    exports: &ExportFiles,
) -> anyhow::Result<Outcome> {
    let stop = StopFlag::on_signals()?;
    let started = SystemTime::now();
    let asked = workload.duration();
    let measured = match workload {
        Workload::Stream(options) => {
            Measured::without_histograms(Report::Stream(stream::stream(target, &options)?))
        }
        Workload::PingPong(options) => {
            with_progress(|tick| pingpong::ping_pong(target, &options, &stop, tick))?
                .map(Report::PingPong)
        }
        Workload::Rate { options, udp } => match udp {
            false => with_progress(|tick| open_loop::rate(target, &options, &stop, tick))?
                .map(Report::Rate),
            true => with_progress(|tick| open_loop::udp_rate(target, &options, &stop, tick))?
                .map(Report::UdpRate),
        },
    };
    let shown = if json { Shown::Json } else { Shown::Summary };
    let verdict = output::show(&measured, shown, exports, started, client_flag)?;
    match (stop.signal(), asked) {
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
        _ => concluded(verdict),
    }
}

/// A run that passed, or the reason it failed.
fn concluded(verdict: Result<(), String>) -> anyhow::Result<Outcome> {
    Ok(verdict.map_or_else(Outcome::Failed, |()| Outcome::Success))
}
