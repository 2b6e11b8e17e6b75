//! soc_server: an echo server (RFC 862); every byte a client sends comes back to it.
//!
//! This file only reads the command line, sets up logging and signals, and calls the library.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use soc::cli::server::{ServerCommand, ServerRequest};
use soc::logging::Output;
use soc::metrics::{Endpoint, ServerMetrics};
use soc::server::Server;

/// How long the server waits at exit for its last log lines to be written.
const LOG_FLUSH_LIMIT: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    let (request, under_inetd) = match ServerCommand::from_command_line() {
        ServerCommand::Generate(kind) => return generate(kind),
        ServerCommand::Serve(request) => (request, false),
        ServerCommand::Inetd(request) => (request, true),
    };
    // Under inetd the connection may be standard error too: a log line would reach the client.
    let level = match under_inetd && soc::server::stderr_is_the_connection() {
        true => log::LevelFilter::Off,
        false => request.verbosity.level(),
    };
    if let Err(err) = soc::logging::init(level, Output::Queued) {
        eprintln!("soc_server: error: could not start the log writer: {err}");
        return ExitCode::FAILURE;
    }
    let result = match under_inetd {
        true => inetd(request),
        false => listen(request),
    };
    // What is still queued goes out, unless standard error has stopped draining.
    soc::logging::flush(LOG_FLUSH_LIMIT);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!(
                "soc_server: error: {}",
                soc::limits::describe(&err, soc::cli::server_flag)
            );
            ExitCode::FAILURE
        }
    }
}

/// Writes what `--generate` asks to standard output.
fn generate(kind: soc::cli::Generate) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match soc::cli::generate(kind, soc::cli::server::command(), &mut stdout)
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("soc_server: error: could not write to standard output: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `--inetd`: the one connection on standard input and output.
fn inetd(request: ServerRequest) -> anyhow::Result<()> {
    soc::server::inetd(&request.config).map(drop)
}

/// Listens on the sockets a service manager handed over, or binds its own, and serves until
/// stopped.
fn listen(request: ServerRequest) -> anyhow::Result<()> {
    let server = match Server::handed_over(request.config.clone())? {
        Some(server) => server,
        None => Server::bind(&request.hosts, request.port, request.config)?,
    };
    let metrics = request
        .metrics
        .map(|addr| Endpoint::start(addr, ServerMetrics::of(server.probe())))
        .transpose()?;
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
        .and_then(|()| {
            server
                .udp_addrs()
                .iter()
                .try_for_each(|addr| writeln!(stdout, "listening on udp {addr}"))
        })
        .and_then(|()| match &metrics {
            Some(endpoint) => writeln!(stdout, "{}", endpoint.announcement()),
            None => Ok(()),
        })
        .and_then(|()| stdout.flush());
    if let Err(err) = announced {
        log::warn!("could not write to standard output: {err}");
    }
    drop(stdout);

    server.run();
    Ok(())
}
