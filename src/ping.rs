//! `soc_client ping`: round-trip latency over one TCP connection, like ping(8).
//!
//! Each probe is a payload of the chosen size, stamped with its sequence number, that must come
//! back intact. Over TCP nothing is lost for good: a probe whose echo does not arrive within the
//! timeout is counted as lost, and its late bytes are skipped when they do arrive, so later probes
//! are still measured.

use std::fmt;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::client::{read_full, set_timeouts, ShortReadCause};
use crate::dump::{trace_chunk, Direction};
use crate::limits::Limit;
use crate::pattern::Pattern;
use crate::signals::StopFlag;

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
}

impl Default for PingOptions {
    fn default() -> Self {
        Self {
            count: None,
            interval: Duration::from_secs(1),
            size: 56,
            timeout: Limit::After(Duration::from_secs(10)),
        }
    }
}

/// Round-trip times over the probes that came back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RttStats {
    /// Fastest round trip.
    pub min: Duration,
    /// Mean round trip.
    pub avg: Duration,
    /// Slowest round trip.
    pub max: Duration,
    /// Mean deviation as ping(8) reports it: the standard deviation of the round trips.
    pub mdev: Duration,
}

/// The result of a ping run.
#[derive(Debug, Clone, PartialEq)]
pub struct PingSummary {
    /// Where the probes went.
    pub peer: std::net::SocketAddr,
    /// Probes sent.
    pub sent: u64,
    /// Probes that came back intact.
    pub echoed: u64,
    /// Probes whose echo did not arrive within the timeout (or before the connection failed).
    pub lost: u64,
    /// Probes that came back altered.
    pub corrupted: u64,
    /// From the first probe to the end of the run.
    pub elapsed: Duration,
    /// Round-trip statistics, if any probe came back intact.
    pub rtt: Option<RttStats>,
}

impl PingSummary {
    /// True if probes were sent and every one came back intact: the run's exit status.
    pub fn all_intact(&self) -> bool {
        self.sent > 0 && self.echoed == self.sent
    }
}

impl fmt::Display for PingSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- {} ping statistics ---", self.peer)?;
        write!(
            f,
            "{} probes sent, {} echoed, {} lost, {} corrupted, time {:.0} ms",
            self.sent,
            self.echoed,
            self.lost,
            self.corrupted,
            millis(self.elapsed)
        )?;
        if let Some(rtt) = self.rtt {
            write!(
                f,
                "\nrtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms",
                millis(rtt.min),
                millis(rtt.avg),
                millis(rtt.max),
                millis(rtt.mdev)
            )?;
        }
        Ok(())
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// What became of one probe.
enum ProbeResult {
    Echoed(Duration),
    Corrupted(Duration, usize),
    Lost,
    /// The connection is gone; no further probe can be sent.
    Broken(anyhow::Error),
}

/// Connects to `host:port`, prints the time that took, then sends probes and prints a line for
/// each on `out` until `options.count` probes are done or `stop` is raised; returns the summary
/// (which the caller prints).
pub fn run(
    host: &str,
    port: u16,
    connect_timeout: Limit,
    options: &PingOptions,
    stop: &StopFlag,
    out: &mut impl Write,
) -> anyhow::Result<PingSummary> {
    let started = Instant::now();
    let stream = crate::net::connect(host, port, connect_timeout.as_option())?;
    let connect_time = started.elapsed();
    let peer = stream
        .peer_addr()
        .context("could not read the server's address")?;
    set_timeouts(&stream, options.timeout).context("could not set the socket timeouts")?;
    writeln!(
        out,
        "PING {peer}: connected in {:.3} ms, {} bytes per probe",
        millis(connect_time),
        options.size
    )
    .context("could not write to standard output")?;
    Ok(probe_loop(&stream, peer, options, stop, out))
}

fn probe_loop(
    stream: &TcpStream,
    peer: std::net::SocketAddr,
    options: &PingOptions,
    stop: &StopFlag,
    out: &mut impl Write,
) -> PingSummary {
    let mut summary = PingSummary {
        peer,
        sent: 0,
        echoed: 0,
        lost: 0,
        corrupted: 0,
        elapsed: Duration::ZERO,
        rtt: None,
    };
    let mut rtts = Vec::new();
    // Bytes of earlier, lost probes that may still arrive: skipped before the next echo.
    let mut owed = 0usize;
    let started = Instant::now();
    let mut seq: u64 = 0;
    while options.count.is_none_or(|count| seq < count) && !stop.is_requested() {
        seq += 1;
        let probe_started = Instant::now();
        let payload = probe_payload(seq, options.size);
        summary.sent += 1;
        let result = send_probe(stream, peer, &payload, &mut owed);
        let written = match &result {
            ProbeResult::Echoed(rtt) => writeln!(
                out,
                "{} bytes from {peer}: seq={seq} time={:.3} ms",
                options.size,
                millis(*rtt)
            ),
            ProbeResult::Corrupted(rtt, differing) => writeln!(
                out,
                "{} bytes from {peer}: seq={seq} time={:.3} ms CORRUPTED ({differing} bytes differ)",
                options.size,
                millis(*rtt)
            ),
            ProbeResult::Lost => writeln!(
                out,
                "seq={seq} lost: no echo within {} (--timeout)",
                options.timeout
            ),
            ProbeResult::Broken(err) => writeln!(out, "seq={seq} lost: {err:#}"),
        }
        .and_then(|()| out.flush());
        if written.is_err() {
            // Nobody reads our output any more (`ping | head -3`): end the run quietly, as
            // ping(8) does on SIGPIPE. Rust ignores SIGPIPE, so the failed write is the signal.
            stop.request();
        }
        match result {
            ProbeResult::Echoed(rtt) => {
                summary.echoed += 1;
                rtts.push(rtt);
            }
            ProbeResult::Corrupted(..) => summary.corrupted += 1,
            ProbeResult::Lost => summary.lost += 1,
            ProbeResult::Broken(_) => {
                summary.lost += 1;
                break;
            }
        }
        if options.count.is_some_and(|count| seq >= count) {
            break;
        }
        let next = probe_started + options.interval;
        if stop.sleep(next.saturating_duration_since(Instant::now())) {
            break;
        }
    }
    summary.elapsed = started.elapsed();
    summary.rtt = rtt_stats(&rtts);
    summary
}

/// The payload of probe `seq`: its sequence number, then bytes that differ per probe, so that a
/// late echo of an earlier probe can never pass for this one.
fn probe_payload(seq: u64, size: usize) -> Vec<u8> {
    let mut payload = Pattern::new(seq).take(size);
    let stamp = seq.to_be_bytes();
    let len = stamp.len().min(size);
    payload[..len].copy_from_slice(&stamp[..len]);
    payload
}

fn send_probe(
    stream: &TcpStream,
    peer: std::net::SocketAddr,
    payload: &[u8],
    owed: &mut usize,
) -> ProbeResult {
    let started = Instant::now();
    if let Err(err) = (&*stream).write_all(payload) {
        return ProbeResult::Broken(anyhow::Error::new(err).context("could not send the probe"));
    }
    let mut incoming = vec![0u8; *owed + payload.len()];
    match read_full(stream, &mut incoming) {
        Ok(()) => {
            let rtt = started.elapsed();
            // Dumped after the clock stopped, so that `-vv` does not inflate the times.
            trace_chunk(peer, Direction::Sent, payload);
            trace_chunk(peer, Direction::Received, &incoming);
            *owed = 0;
            let echo = &incoming[incoming.len() - payload.len()..];
            let differing = echo.iter().zip(payload).filter(|(a, b)| a != b).count();
            if differing == 0 {
                ProbeResult::Echoed(rtt)
            } else {
                ProbeResult::Corrupted(rtt, differing)
            }
        }
        Err(short) => match short.cause {
            ShortReadCause::TimedOut => {
                *owed = incoming.len() - short.received;
                ProbeResult::Lost
            }
            ShortReadCause::Closed => {
                ProbeResult::Broken(anyhow::anyhow!("the server closed the connection"))
            }
            ShortReadCause::Failed(err) => {
                ProbeResult::Broken(anyhow::Error::new(err).context("the connection failed"))
            }
        },
    }
}

fn rtt_stats(rtts: &[Duration]) -> Option<RttStats> {
    let min = *rtts.iter().min()?;
    let max = *rtts.iter().max()?;
    let n = rtts.len() as f64;
    let secs: Vec<f64> = rtts.iter().map(Duration::as_secs_f64).collect();
    let mean = secs.iter().sum::<f64>() / n;
    let variance = secs.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n;
    Some(RttStats {
        min,
        avg: Duration::from_secs_f64(mean),
        max,
        mdev: Duration::from_secs_f64(variance.sqrt()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_statistics_match_a_hand_computation() {
        let ms = Duration::from_millis;
        let stats = rtt_stats(&[ms(1), ms(2), ms(3), ms(6)]).unwrap();
        assert_eq!(stats.min, ms(1));
        assert_eq!(stats.max, ms(6));
        assert_eq!(stats.avg, ms(3));
        // Deviations -2, -1, 0, 3: variance 14/4 = 3.5 ms², deviation 1.8708 ms.
        assert!(
            (millis(stats.mdev) - 1.8708).abs() < 1e-3,
            "{:?}",
            stats.mdev
        );
        assert_eq!(rtt_stats(&[]), None);
    }

    #[test]
    fn probes_differ_and_carry_their_number() {
        assert_ne!(probe_payload(1, 56), probe_payload(2, 56));
        assert_eq!(&probe_payload(258, 56)[..8], &258u64.to_be_bytes());
        assert_eq!(probe_payload(3, 3).len(), 3);
    }
}
