//! soc_client: the echo client. Interactive on a terminal, a byte-exact pipe otherwise, a
//! one-line check with `-m`, and two measuring tools: `ping` and `bench`.
//!
//! This file only parses arguments, sets up logging and signals, and calls the library.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, Parser, Subcommand};
use soc::bench::{BenchReport, PingPongOptions};
use soc::cli::{
    parse_limit, parse_positive_bytes, parse_positive_secs, parse_secs, Endpoint, Verbosity,
};
use soc::client;
use soc::limits::Limit;
use soc::logging::Output;
use soc::ping::PingOptions;
use soc::signals::StopFlag;

/// TCP echo client: sends lines or bytes to an echo server and prints what comes back.
///
/// On a terminal it is an interactive session (`exit`, `quit` or Ctrl-D to leave). With standard
/// input from a pipe or file it streams it through the server to standard output, byte for byte,
/// and exits 0 only if exactly the bytes sent came back.
///
/// Exit codes: 0 success, 1 failure (connection, timeout, echo differs or lost), 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "soc_client", version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Give up connecting after this long (0: the system's own limit)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_limit, global = true,
          help_heading = "Connection")]
    connect_timeout: Limit,

    /// Give up when an echo makes no progress for this long (0: wait forever)
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_limit, global = true,
          help_heading = "Connection")]
    timeout: Limit,

    /// Send TEXT as one line, print the echo, exit 0 if it came back unchanged (standard input
    /// is not read)
    #[arg(short, long, value_name = "TEXT")]
    message: Option<String>,

    #[command(flatten)]
    verbosity: Verbosity,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure round-trip time over one connection, like ping(8); Ctrl-C prints the summary,
    /// -q prints only the summary
    Ping(PingArgs),
    /// Load the server with closed-loop round trips (or one verified stream) and report
    Bench(BenchArgs),
}

#[derive(Debug, ClapArgs)]
struct PingArgs {
    /// Stop after COUNT probes (default: until Ctrl-C)
    #[arg(short, long, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,

    /// Seconds from one probe to the next
    #[arg(short, long, value_name = "SECS", default_value = "1", value_parser = parse_secs)]
    interval: Duration,

    /// Payload bytes per probe
    #[arg(short, long, value_name = "SIZE", default_value_t = 56,
          value_parser = clap::value_parser!(u32).range(1..=16 * 1024 * 1024))]
    size: u32,
}

#[derive(Debug, ClapArgs)]
struct BenchArgs {
    /// Connections, each with one message in flight
    #[arg(short, long, value_name = "CONNECTIONS", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    connections: u32,

    /// Bytes per message
    #[arg(short, long, value_name = "SIZE", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=16 * 1024 * 1024))]
    size: u32,

    /// Seconds to measure (more than 0)
    #[arg(short, long, value_name = "SECONDS", default_value = "10", value_parser = parse_positive_secs)]
    duration: Duration,

    /// Seconds to run before measuring
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_secs)]
    warmup: Duration,

    /// Instead of ping-pong: stream BYTES (e.g. 256M) on one connection, verify, report MB/s
    #[arg(long, value_name = "BYTES", value_parser = parse_positive_bytes)]
    stream: Option<u64>,

    /// Event-loop threads driving the connections (1 leaves the other cores to a local server)
    #[arg(short, long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: u32,

    /// Print the report as one JSON object on standard output
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    use clap::CommandFactory;
    let args = Args::parse();
    if args.message.is_some() && args.command.is_some() {
        Args::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "-m/--message cannot be used with a subcommand",
            )
            .exit();
    }
    let server = match args.endpoint.resolve() {
        Ok(server) => server,
        Err(reason) => Args::command()
            .error(clap::error::ErrorKind::ArgumentConflict, reason)
            .exit(),
    };
    if let Err(err) = soc::logging::init(args.verbosity.level(), Output::Direct) {
        eprintln!("soc_client: error: could not start logging: {err}");
        return ExitCode::FAILURE;
    }
    match run(args, server) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("soc_client: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The server's host and port, as the command line gives them.
type Server = (String, u16);

fn run(args: Args, server: Server) -> anyhow::Result<ExitCode> {
    match &args.command {
        Some(Command::Ping(ping)) => return run_ping(&args, &server, ping),
        Some(Command::Bench(bench)) => return run_bench(&args, &server, bench),
        None => {}
    }
    let stream = client::connect(&server.0, server.1, args.connect_timeout.as_option())?;
    client::set_timeouts(&stream, args.timeout).context("could not set the socket timeouts")?;
    let stdout = io::stdout();
    if let Some(text) = &args.message {
        client::message(&stream, text, &mut stdout.lock(), args.timeout)?;
        return Ok(ExitCode::SUCCESS);
    }
    let stdin = io::stdin();
    if stdin.is_terminal() {
        client::interactive(
            &stream,
            io::BufReader::new(stdin),
            &mut stdout.lock(),
            &mut io::stderr(),
            args.timeout,
        )?;
    } else {
        client::pipe(stream, stdin, &mut stdout.lock(), args.timeout)?;
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

fn run_ping(args: &Args, server: &Server, ping: &PingArgs) -> anyhow::Result<ExitCode> {
    let stop = stop_on_signals()?;
    let options = PingOptions {
        count: ping.count,
        interval: ping.interval,
        size: ping.size as usize,
        timeout: args.timeout,
    };
    let mut stdout = io::stdout().lock();
    // `ping -q`, as ping(8)'s: the summary only (and, as everywhere, quiet logging).
    let summary_only = args.verbosity.quiet;
    let mut sink = io::sink();
    let mut probes: &mut dyn Write = if summary_only { &mut sink } else { &mut stdout };
    let summary = soc::ping::run(
        &server.0,
        server.1,
        args.connect_timeout,
        &options,
        &stop,
        &mut probes,
    )?;
    let _ = match summary_only {
        true => writeln!(stdout, "{summary}"),
        false => writeln!(stdout, "\n{summary}"),
    };
    Ok(if summary.all_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run_bench(args: &Args, server: &Server, bench: &BenchArgs) -> anyhow::Result<ExitCode> {
    let addrs = soc::net::resolve(&server.0, server.1)?;
    let stop = stop_on_signals()?;
    let report = match bench.stream {
        Some(bytes) => BenchReport::Stream(soc::bench::stream(
            &addrs,
            bytes,
            args.timeout,
            args.connect_timeout,
        )?),
        None => {
            if let Err(err) = soc::sys::raise_open_file_limit(bench.connections as usize) {
                log::warn!("could not read or raise the open-file limit: {err}");
            }
            let options = PingPongOptions {
                connections: bench.connections as usize,
                size: bench.size as usize,
                duration: bench.duration,
                warmup: bench.warmup,
                timeout: args.timeout,
                connect_timeout: args.connect_timeout,
            };
            BenchReport::PingPong(soc::bench::ping_pong(
                &addrs,
                &options,
                bench.threads as usize,
                &stop,
            )?)
        }
    };
    let mut stdout = io::stdout().lock();
    if bench.json {
        let json = serde_json::to_string(&report).context("could not encode the report")?;
        writeln!(stdout, "{json}").context("could not write the report")?;
    } else {
        writeln!(stdout, "{report}").context("could not write the report")?;
    }
    if let Err(reason) = report.verdict() {
        bail!("the run failed: {reason}");
    }
    Ok(ExitCode::SUCCESS)
}
