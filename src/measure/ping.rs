//! `soc_client ping`: round-trip latency over one TCP connection, like ping(8).
//!
//! Each probe is a payload of the chosen size, stamped with its sequence number, that must come
//! back intact. Over TCP nothing is lost for good: a probe whose echo does not arrive within the
//! timeout is counted as lost, and its late bytes are skipped when they do arrive, so later probes
//! are still measured. The run reports each step as a [`PingEvent`]; showing them is the
//! caller's ([`super::output::text`]).

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime};

use super::latency::Exact;
use super::report::{Histograms, LatencyMs, Measured, PingReport};
use super::tally::{Tally, INTERVAL};
use crate::dump::{trace_chunk, Direction};
use crate::limits::Limit;
use crate::net::{self, read_full, Answered, ShortReadCause, Target};
use crate::signals::StopFlag;
use crate::wire::{self, Layout, Message};

/// What a ping run does.
#[derive(Debug, Clone)]
pub struct PingOptions {
    /// Probes to send; `None` runs until stopped.
    pub count: Option<u64>,
    /// Time from one probe's start to the next one's.
    pub interval: Duration,
    /// Payload bytes per probe.
    pub size: usize,
    /// How long to wait for a probe's echo before it counts as lost.
    pub timeout: Limit,
    /// Keep one histogram per second (for a plot).
    pub intervals: bool,
}

/// What a ping run reports as it goes.
#[derive(Debug)]
pub enum PingEvent {
    /// The connection is up.
    Connected {
        peer: SocketAddr,
        took: Duration,
        size: usize,
    },
    /// A new connection is up, after the server closed or reset the last one.
    Reconnected { peer: SocketAddr, took: Duration },
    /// A probe is done with.
    Probe(Probe),
}

/// One probe and what became of it.
#[derive(Debug)]
pub struct Probe {
    pub seq: u64,
    pub size: usize,
    pub peer: SocketAddr,
    pub outcome: ProbeOutcome,
}

/// What became of one probe.
#[derive(Debug)]
pub enum ProbeOutcome {
    /// Back intact after this long.
    Echoed(Duration),
    /// Back after this long, with this many bytes altered.
    Corrupted(Duration, usize),
    /// No echo within the timeout.
    Lost(Limit),
    /// The connection broke (the server closed or reset it): the probe is lost, and the next one
    /// goes on a new connection.
    Broken(anyhow::Error),
    /// No connection could be made for it (the server is away): lost; the next probe tries again.
    Unconnected(anyhow::Error),
}

/// Connects to `target`, then sends probes until `options.count` are done or `stop` is raised,
/// reporting each step to `on_event`; returns the summary.
///
/// A server that closes or resets the connection does not end the run: the probe in flight is
/// lost, and the next one goes on a new connection (tried on each probe's schedule while the
/// server is away), as a ping(8) goes on through a network outage. Only the first connection
/// must succeed: a server never reached is an error, not a run.
pub fn run(
    target: &Target,
    options: &PingOptions,
    stop: &StopFlag,
    mut on_event: impl FnMut(&PingEvent),
) -> anyhow::Result<Measured<PingReport>> {
    let started = Instant::now();
    let (stream, peer) = net::connect_with_timeouts(target, options.timeout)?;
    on_event(&PingEvent::Connected {
        peer,
        took: started.elapsed(),
        size: options.size,
    });
    let mut pinging = Pinging {
        target,
        options,
        connection: Some(Connection::new(stream)),
        peer,
        report: PingReport {
            server: peer,
            probe_bytes: options.size,
            sent: 0,
            echoed: 0,
            lost: 0,
            corrupted: 0,
            reconnections: 0,
            seconds: 0.0,
            latency_ms: None,
        },
        rtts: RoundTrips::new(options.intervals),
    };
    let probing = Instant::now();
    every_interval(options.count, options.interval, stop, |seq| {
        let outcome = pinging.probe(seq, &mut on_event);
        pinging.count(&outcome);
        on_event(&PingEvent::Probe(Probe {
            seq,
            size: options.size,
            peer: pinging.peer,
            outcome,
        }));
        true
    });
    let (latency_ms, histograms) = pinging.rtts.finish();
    let mut report = pinging.report;
    report.seconds = probing.elapsed().as_secs_f64();
    report.latency_ms = latency_ms;
    Ok(Measured {
        report,
        histograms: Some(histograms),
    })
}

/// One connection of a ping run.
struct Connection {
    stream: TcpStream,
    /// Whether the server echoed anything on it yet.
    answered: Answered,
    /// Bytes of earlier, lost probes that may still arrive: skipped before the next echo.
    owed: usize,
}

impl Connection {
    fn new(stream: TcpStream) -> Self {
        Connection {
            stream,
            answered: Answered::Never,
            owed: 0,
        }
    }
}

/// A ping run in progress.
struct Pinging<'a> {
    target: &'a Target,
    options: &'a PingOptions,
    /// None after the server closed or reset the last one, until the next probe connects.
    connection: Option<Connection>,
    peer: SocketAddr,
    report: PingReport,
    rtts: RoundTrips,
}

impl Pinging<'_> {
    /// Sends probe `seq` (on a new connection when the last one broke) and waits for its echo.
    fn probe(&mut self, seq: u64, on_event: &mut impl FnMut(&PingEvent)) -> ProbeOutcome {
        let options = self.options;
        if self.connection.is_none() {
            let attempt = Instant::now();
            match net::connect_with_timeouts(self.target, options.timeout) {
                Ok((stream, peer)) => {
                    self.connection = Some(Connection::new(stream));
                    self.peer = peer;
                    self.report.reconnections += 1;
                    let took = attempt.elapsed();
                    on_event(&PingEvent::Reconnected { peer, took });
                }
                Err(err) => return ProbeOutcome::Unconnected(err),
            }
        }
        let Some(connection) = self.connection.as_mut() else {
            unreachable!("connected above");
        };
        let payload = probe_payload(seq, options.size);
        let outcome = send_probe(connection, self.peer, &payload, options.timeout);
        match &outcome {
            ProbeOutcome::Broken(_) => self.connection = None,
            ProbeOutcome::Echoed(_) | ProbeOutcome::Corrupted(..) => {
                connection.answered = Answered::Before
            }
            ProbeOutcome::Lost(_) | ProbeOutcome::Unconnected(_) => {}
        }
        outcome
    }

    fn count(&mut self, outcome: &ProbeOutcome) {
        self.report.sent += 1;
        match outcome {
            ProbeOutcome::Echoed(rtt) => {
                self.report.echoed += 1;
                self.rtts.record(*rtt);
            }
            ProbeOutcome::Corrupted(..) => self.report.corrupted += 1,
            ProbeOutcome::Lost(_) | ProbeOutcome::Broken(_) | ProbeOutcome::Unconnected(_) => {
                self.report.lost += 1
            }
        }
    }
}

/// Calls `probe` with sequence numbers 1, 2, … one `interval` apart (from one probe's start to
/// the next one's) until `count` are done, `stop` is raised, or `probe` says not to go on.
pub(crate) fn every_interval(
    count: Option<u64>,
    interval: Duration,
    stop: &StopFlag,
    mut probe: impl FnMut(u64) -> bool,
) {
    let mut seq: u64 = 0;
    while count.is_none_or(|count| seq < count) && !stop.is_requested() {
        seq += 1;
        let started = Instant::now();
        if !probe(seq) || count.is_some_and(|count| seq >= count) {
            break;
        }
        if stop.sleep((started + interval).saturating_duration_since(Instant::now())) {
            break;
        }
    }
}

/// The round trips of a probing run: exactly, for ping(8)'s figures, and in a histogram (with one
/// per second, when asked) for the percentiles and the exporters; in bounded memory however long
/// the run.
pub(crate) struct RoundTrips {
    exact: Exact,
    tally: Tally,
    started: Instant,
    start: SystemTime,
}

impl RoundTrips {
    pub(crate) fn new(intervals: bool) -> Self {
        RoundTrips {
            exact: Exact::default(),
            tally: Tally::with_intervals(intervals),
            started: Instant::now(),
            start: SystemTime::now(),
        }
    }

    /// Round trips of one of many targets at once (`monitor`): the figures exact, the
    /// percentiles within 1 %, in a tenth of the memory.
    pub(crate) fn compact() -> Self {
        RoundTrips {
            tally: Tally::compact(),
            ..RoundTrips::new(false)
        }
    }

    pub(crate) fn record(&mut self, rtt: Duration) {
        self.exact.add(rtt);
        self.tally.record(
            super::tally::nanos(rtt),
            self.started.elapsed().saturating_sub(rtt),
        );
    }

    /// The figures (`None` without a round trip), and the histograms.
    pub(crate) fn finish(self) -> (Option<LatencyMs>, Histograms) {
        let latency_ms = LatencyMs::of_exact(&self.tally.latency, &self.exact);
        let histograms = Histograms {
            latency: self.tally.latency,
            uncorrected: None,
            intervals: self.tally.intervals.unwrap_or_default(),
            interval: INTERVAL,
            start: self.start,
        };
        (latency_ms, histograms)
    }
}

/// The payload of probe `seq`: the sequence number makes each probe its own, so that a late echo
/// of an earlier probe can never pass for this one.
fn probe_payload(seq: u64, size: usize) -> Vec<u8> {
    Message::new(Layout::Stream, 0, size)
        .stamped(seq, 0)
        .to_vec()
}

/// Sends `payload` on `connection` and reads its echo, skipping what earlier lost probes still
/// owe.
fn send_probe(
    connection: &mut Connection,
    peer: SocketAddr,
    payload: &[u8],
    timeout: Limit,
) -> ProbeOutcome {
    let started = Instant::now();
    let fresh = connection.answered == Answered::Never;
    let stream = &connection.stream;
    if let Err(err) = (&*stream).write_all(payload) {
        if fresh && net::is_hang_up(&err) {
            return ProbeOutcome::Broken(net::turned_away(peer, Some(err)));
        }
        return ProbeOutcome::Broken(anyhow::Error::new(err).context("could not send the probe"));
    }
    let mut incoming = vec![0u8; connection.owed + payload.len()];
    match read_full(stream, &mut incoming) {
        Ok(()) => {
            let rtt = started.elapsed();
            // Dumped after the clock stopped, so that `-vv` does not inflate the times.
            trace_chunk(peer, Direction::Sent, payload);
            trace_chunk(peer, Direction::Received, &incoming);
            connection.owed = 0;
            let echo = &incoming[incoming.len() - payload.len()..];
            match wire::differing(echo, payload) {
                0 => ProbeOutcome::Echoed(rtt),
                differing => ProbeOutcome::Corrupted(rtt, differing),
            }
        }
        Err(short) => match short.cause {
            ShortReadCause::TimedOut => {
                connection.owed = incoming.len() - short.received;
                ProbeOutcome::Lost(timeout)
            }
            ShortReadCause::Closed if short.received == 0 && fresh => {
                ProbeOutcome::Broken(net::turned_away(peer, None))
            }
            ShortReadCause::Failed(err)
                if short.received == 0 && fresh && net::is_hang_up(&err) =>
            {
                ProbeOutcome::Broken(net::turned_away(peer, Some(err)))
            }
            ShortReadCause::Closed => {
                ProbeOutcome::Broken(anyhow::anyhow!("the server closed the connection"))
            }
            ShortReadCause::Failed(err) => {
                ProbeOutcome::Broken(anyhow::Error::new(err).context("the connection failed"))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_differ_and_carry_their_number() {
        assert_ne!(probe_payload(1, 56), probe_payload(2, 56));
        assert_eq!(&probe_payload(258, 56)[..8], &258u64.to_be_bytes());
        assert_eq!(probe_payload(3, 3).len(), 3);
    }
}
