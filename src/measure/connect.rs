//! `soc_client ping --connect`: the time of a TCP handshake, like tcping and `nping
//! --tcp-connect`. Each probe opens a new connection to the server, times the handshake, and
//! closes it; nothing is sent, so any TCP server will do. Each probe is reported as it is done;
//! showing it is the caller's ([`super::output::text`]).

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::ping::{every_interval, RoundTrips};
use super::report::{ConnectReport, Measured};
use crate::limits::Limit;
use crate::net::Target;
use crate::signals::StopFlag;

/// What a connect-time run does.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Connections to make; `None` runs until stopped.
    pub count: Option<u64>,
    /// Time from one attempt's start to the next one's.
    pub interval: Duration,
    /// Keep one histogram per second (for a plot).
    pub intervals: bool,
}

/// One attempt and what became of it.
#[derive(Debug)]
pub struct ConnectProbe {
    pub seq: u64,
    pub server: SocketAddr,
    pub outcome: ConnectOutcome,
}

/// What became of one attempt.
#[derive(Debug)]
pub enum ConnectOutcome {
    /// The handshake took this long.
    Connected(Duration),
    /// Nothing listens there (or the connection turned out to be connected to itself).
    Refused,
    /// No answer within the connect timeout.
    TimedOut(Limit),
    /// Anything else.
    Failed(anyhow::Error),
}

/// Connects to the first of `target`'s addresses again and again, until `options.count` are done
/// or `stop` is raised, reporting each attempt to `on_probe`; returns the summary.
pub fn run(
    target: &Target,
    options: &ConnectOptions,
    stop: &StopFlag,
    mut on_probe: impl FnMut(&ConnectProbe),
) -> anyhow::Result<Measured<ConnectReport>> {
    let server = *target.addrs().first().context("no address to connect to")?;
    let only_this = target.only(server);
    let mut report = ConnectReport {
        server,
        sent: 0,
        connected: 0,
        refused: 0,
        timed_out: 0,
        failed: 0,
        seconds: 0.0,
        latency_ms: None,
    };
    let started = Instant::now();
    let mut handshakes = RoundTrips::new(options.intervals);
    every_interval(options.count, options.interval, stop, |seq| {
        report.sent += 1;
        let attempt = Instant::now();
        let outcome = match only_this.connect() {
            // Closed at once: the handshake is what was timed.
            Ok(stream) => {
                let took = attempt.elapsed();
                drop(stream);
                ConnectOutcome::Connected(took)
            }
            Err(err) => classify(err, only_this.connect_timeout()),
        };
        match outcome {
            ConnectOutcome::Connected(took) => {
                report.connected += 1;
                handshakes.record(took);
            }
            ConnectOutcome::Refused => report.refused += 1,
            ConnectOutcome::TimedOut(_) => report.timed_out += 1,
            ConnectOutcome::Failed(_) => {}
        }
        if !matches!(outcome, ConnectOutcome::Connected(_)) {
            report.failed += 1;
        }
        on_probe(&ConnectProbe {
            seq,
            server,
            outcome,
        });
        true
    });
    let (latency_ms, histograms) = handshakes.finish();
    report.seconds = started.elapsed().as_secs_f64();
    report.latency_ms = latency_ms;
    Ok(Measured {
        report,
        histograms: Some(histograms),
    })
}

/// Sorts a failed connect by its cause.
fn classify(err: anyhow::Error, timeout: Limit) -> ConnectOutcome {
    if err.downcast_ref::<crate::net::SelfConnection>().is_some() {
        return ConnectOutcome::Refused;
    }
    match err
        .root_cause()
        .downcast_ref::<io::Error>()
        .map(io::Error::kind)
    {
        Some(io::ErrorKind::ConnectionRefused) => ConnectOutcome::Refused,
        Some(io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
            ConnectOutcome::TimedOut(timeout)
        }
        _ => ConnectOutcome::Failed(err),
    }
}
