//! soc_server: an echo server (RFC 862); every byte a client sends comes back to it.
//!
//! This file only reads the command line, sets up logging and signals, and calls the library.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use soc::cli::server::ServerRequest;
use soc::logging::Output;
use soc::metrics::{Endpoint, ServerMetrics};
use soc::server::Server;

/// How long the server waits at exit for its last log lines to be written.
const LOG_FLUSH_LIMIT: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    let request = ServerRequest::from_command_line();
    if let Err(err) = soc::logging::init(request.verbosity.level(), Output::Queued) {
        eprintln!("soc_server: error: could not start the log writer: {err}");
        return ExitCode::FAILURE;
    }
    let result = run(request);
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

fn run(request: ServerRequest) -> anyhow::Result<()> {
    let server = Server::bind(&request.hosts, request.port, request.config)?;
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
