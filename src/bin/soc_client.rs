//! soc_client: the echo client. Interactive on a terminal, a byte-exact pipe otherwise, or a
//! one-line check with `-m`.
//!
//! This file only parses arguments, sets up logging and calls the library.

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use soc::cli::{parse_limit, Endpoint, Limit, Verbosity};
use soc::client;

/// TCP echo client: sends lines or bytes to an echo server and prints what comes back.
///
/// On a terminal it is an interactive session (`exit`, `quit` or Ctrl-D to leave). With standard
/// input from a pipe or file it streams it through the server to standard output, byte for byte,
/// and exits 0 only if exactly the bytes sent came back.
///
/// Exit codes: 0 success, 1 failure (connection, timeout, echo differs), 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "soc_client", version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Give up connecting after this long (0: the system's own limit)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_limit)]
    connect_timeout: Limit,

    /// Give up when an echo makes no progress for this long (0: wait forever)
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_limit)]
    timeout: Limit,

    /// Send TEXT as one line, print the echo, exit 0 if it came back unchanged
    #[arg(short, long, value_name = "TEXT")]
    message: Option<String>,

    #[command(flatten)]
    verbosity: Verbosity,
}

fn main() -> ExitCode {
    let args = Args::parse();
    args.verbosity.init_logging();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("soc_client: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let stream = client::connect(
        &args.endpoint.host,
        args.endpoint.port,
        args.connect_timeout.as_option(),
    )?;
    client::set_timeouts(&stream, args.timeout).context("could not set the socket timeouts")?;
    let stdout = io::stdout();
    if let Some(text) = &args.message {
        return client::message(&stream, text, &mut stdout.lock(), args.timeout);
    }
    let stdin = io::stdin();
    if stdin.is_terminal() {
        client::interactive(
            &stream,
            &mut stdin.lock(),
            &mut stdout.lock(),
            &mut io::stderr(),
            args.timeout,
        )
    } else {
        client::pipe(stream, stdin, &mut stdout.lock(), args.timeout).map(|_| ())
    }
}
