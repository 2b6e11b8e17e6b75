//! soc_server: a TCP echo server (RFC 862); every byte a client sends comes back to it.
//!
//! This file only parses arguments, sets up logging and signals, and calls the library.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use soc::cli::{parse_limit, Verbosity};
use soc::limits::Limit;
use soc::logging::Output;
use soc::server::{Server, ServerConfig};
use soc::sys::OpenFileLimit;

/// TCP echo server: every byte a client sends comes back, unchanged and in order.
///
/// Prints `listening on ADDR` on standard output, one line per address, once it accepts
/// connections; logs go to standard error. Stops cleanly on Ctrl-C (or SIGTERM, or Ctrl-Break on
/// Windows); a second one stops it at once.
#[derive(Debug, Parser)]
#[command(name = "soc_server", version)]
struct Args {
    /// Address or host name to listen on; a name is listened on at every address it resolves
    /// to, the option may be repeated, and `::` takes IPv4 clients too
    #[arg(
        long = "host",
        value_name = "HOST",
        env = "SOC_HOST",
        default_value = "127.0.0.1"
    )]
    hosts: Vec<String>,

    /// TCP port (0 lets the operating system choose one)
    #[arg(short, long, env = "SOC_PORT", default_value_t = 8888)]
    port: u16,

    /// Most clients served at once; more connections are accepted and closed at once
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_clients: u32,

    /// Disconnect a client that sends nothing, or does not read its echo, for this long (0: never)
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = parse_limit)]
    idle_timeout: Limit,

    #[command(flatten)]
    verbosity: Verbosity,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(err) = soc::logging::init(args.verbosity.level(), Output::Queued) {
        eprintln!("soc_server: error: could not start the log writer: {err}");
        return ExitCode::FAILURE;
    }
    let result = run(args);
    // What is still queued goes out, unless standard error has stopped draining.
    soc::logging::flush(LOG_FLUSH_LIMIT);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("soc_server: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// How long the server waits at exit for its last log lines to be written.
const LOG_FLUSH_LIMIT: Duration = Duration::from_millis(500);

fn run(args: Args) -> anyhow::Result<()> {
    match soc::sys::raise_open_file_limit(args.max_clients as usize) {
        Ok(OpenFileLimit::Limited(limit)) if limit < u64::from(args.max_clients) => log::warn!(
            "the open-file limit is {limit}, below --max-clients {}: clients beyond it will \
             wait in the listen queue",
            args.max_clients
        ),
        Ok(_) => {}
        Err(err) => log::warn!("could not read or raise the open-file limit: {err}"),
    }
    let config = ServerConfig {
        max_clients: args.max_clients as usize,
        idle_timeout: args.idle_timeout,
        names: soc::cli::server_flag,
        ..ServerConfig::default()
    };
    let server = Server::bind(&args.hosts, args.port, config)?;
    let handle = server.shutdown_handle();
    soc::signals::on_termination(move |signal| {
        // Logged first, so that it comes before the summary; logging never waits on standard
        // error (soc::logging), so the stop cannot be held up by it.
        log::info!("{} received: shutting down", signal.name());
        handle.shutdown();
    })
    .context("could not install the signal handlers")?;

    // Scripts and tests read the real port from this line, so it must be out before the first
    // client can be accepted, and flushed even when standard output is a pipe.
    let mut stdout = std::io::stdout().lock();
    let announced = server
        .local_addrs()
        .iter()
        .try_for_each(|addr| writeln!(stdout, "listening on {addr}"))
        .and_then(|()| stdout.flush());
    if let Err(err) = announced {
        log::warn!("could not write to standard output: {err}");
    }
    drop(stdout);

    server.run();
    Ok(())
}
