//! What a measuring run found: the result types of `ping` and `bench`, which the output and
//! export modules turn into text and JSON, and `verdict.rs` judges.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use serde::Serialize;

/// A run's result and its latency histograms: the report is what is shown and serialised, the
/// histograms what the exporters (`--hgrm`, `--hlog`, `--plot`) need.
#[derive(Debug)]
pub struct Measured<R> {
    pub report: R,
    pub histograms: Histograms,
}

/// A run's latencies as histograms, in nanoseconds.
#[derive(Debug, Clone)]
pub struct Histograms {
    /// Every measured round trip (open loop: from its scheduled time).
    pub latency: Histogram<u64>,
    /// Open loop: from the first byte written, the figure a closed-loop tool would report.
    pub uncorrected: Option<Histogram<u64>>,
    /// The same round trips, one histogram per second of the measured time, by the time each
    /// was sent (or scheduled); empty unless the run was asked to keep them.
    pub intervals: Vec<Histogram<u64>>,
    /// How long each interval is.
    pub interval: Duration,
    /// When the measured time began.
    pub start: SystemTime,
}

/// Round-trip times over the probes that came back, in milliseconds, as ping(8) gives them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RttMs {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
    /// ping(8)'s "mdev": the standard deviation of the round trips.
    pub mdev: f64,
}

impl RttMs {
    /// The statistics of `rtts`, or `None` when there are none.
    pub(crate) fn of(rtts: &[Duration]) -> Option<RttMs> {
        let ms: Vec<f64> = rtts.iter().map(|rtt| rtt.as_secs_f64() * 1000.0).collect();
        let min = ms.iter().copied().reduce(f64::min)?;
        let max = ms.iter().copied().fold(min, f64::max);
        let n = ms.len() as f64;
        let avg = ms.iter().sum::<f64>() / n;
        let variance = ms.iter().map(|x| (x - avg).powi(2)).sum::<f64>() / n;
        Some(RttMs {
            min,
            avg,
            max,
            mdev: variance.sqrt(),
        })
    }
}

/// The result of a ping run (`soc_client ping`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PingReport {
    /// Where the probes went.
    pub server: SocketAddr,
    pub probe_bytes: usize,
    pub sent: u64,
    /// Probes that came back intact.
    pub echoed: u64,
    /// Probes whose echo did not arrive within the timeout (or before the connection failed).
    pub lost: u64,
    /// Probes that came back altered.
    pub corrupted: u64,
    /// From the first probe to the end of the run.
    pub seconds: f64,
    /// Round-trip statistics, if any probe came back intact.
    pub rtt_ms: Option<RttMs>,
    /// Their percentiles.
    pub latency_ms: Option<LatencyMs>,
}

impl PingReport {
    /// True if probes were sent and every one came back intact: the run's exit status.
    pub fn all_intact(&self) -> bool {
        self.sent > 0 && self.echoed == self.sent
    }
}

/// The result of a connect-time run (`soc_client ping --connect`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectReport {
    /// Where the connections went.
    pub server: SocketAddr,
    /// Connections tried.
    pub sent: u64,
    pub connected: u64,
    /// Refused, timed out or failed otherwise.
    pub failed: u64,
    /// From the first attempt to the end of the run.
    pub seconds: f64,
    /// Handshake times of the connections made.
    pub rtt_ms: Option<RttMs>,
    pub latency_ms: Option<LatencyMs>,
}

impl ConnectReport {
    /// True if connections were tried and every one was made: the run's exit status.
    pub fn all_connected(&self) -> bool {
        self.sent > 0 && self.connected == self.sent
    }
}

/// Everything that went wrong in a bench run, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ErrorCounts {
    /// Connection attempts that failed (refused, timed out, no resources).
    pub connect_failures: u64,
    /// Connections reset or closed by the server in the middle of a run.
    pub resets: u64,
    /// Round trips that made no progress for the timeout.
    pub timeouts: u64,
    /// Echoes that came back with bytes different from those sent.
    pub corrupted: u64,
    /// Connections that turned out to be connected to themselves, refused (never measured).
    pub self_connections: u64,
    /// Connect failures and resets after the warm-up: the server refusing or dropping clients
    /// while it was measured.
    pub after_warmup: u64,
    /// Connections the server closed before their first echo (a full server turning clients
    /// away at once, as soc_server does beyond its client limit).
    pub closed_at_once: u64,
}

impl ErrorCounts {
    /// All errors together.
    pub fn total(&self) -> u64 {
        self.connect_failures + self.resets + self.timeouts + self.corrupted + self.self_connections
    }
}

/// How evenly the server served the connections: round trips in the measured time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fairness {
    /// Fewest round trips of any connection (`u64::MAX` before any connection is counted).
    pub fewest: u64,
    pub most: u64,
    /// Connections that completed no round trip at all.
    pub silent: usize,
}

impl Default for Fairness {
    fn default() -> Self {
        Self {
            fewest: u64::MAX,
            most: 0,
            silent: 0,
        }
    }
}

/// Round-trip latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencyMs {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    /// Open loop only: a rate run has the samples for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p9999: Option<f64>,
    pub max: f64,
    pub mean: f64,
}

impl LatencyMs {
    /// The percentiles of `histogram` (nanoseconds), up to p99.9.
    pub(crate) fn of(histogram: &Histogram<u64>) -> LatencyMs {
        let ms = |nanos: u64| nanos as f64 / 1e6;
        LatencyMs {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            p9999: None,
            max: ms(histogram.max()),
            mean: histogram.mean() / 1e6,
        }
    }

    /// The percentiles of `histogram`, up to p99.99.
    pub(crate) fn with_p9999(histogram: &Histogram<u64>) -> LatencyMs {
        LatencyMs {
            p9999: Some(histogram.value_at_quantile(0.9999) as f64 / 1e6),
            ..LatencyMs::of(histogram)
        }
    }
}

/// What an open-loop schedule asked for and what became of it, over the measured time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ScheduleCounts {
    /// Messages whose scheduled time fell in the measured time.
    pub due: u64,
    /// Of those, messages written whole.
    pub sent: u64,
    /// Echoes that arrived in the measured time (of any message): the rate the server echoed.
    pub echoed_in_window: u64,
    /// Messages that found their socket full when they were due (the server's back-pressure),
    /// or had no socket: their wait counts in their latency, not in the generator's lateness.
    pub socket_waits: u64,
}

/// How late the generator itself wrote the messages its sockets could take, in milliseconds,
/// and the most its p99 may be for the run to describe the server: 1 ms, or a tenth of the p99
/// latency measured, whichever is more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatenessMs {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// The run fails when `p99` is above this.
    pub limit: f64,
}

/// The generator's p99 lateness may always be this much: below it, the run describes the server.
const MOST_LATENESS_MS: f64 = 1.0;

/// Above [`MOST_LATENESS_MS`], the generator's p99 lateness may still be this share of the p99
/// latency it measured (a 2 ms hiccup is nothing beside a 300 ms queue; beside 0.3 ms it is the
/// measurement).
const LATENESS_SHARE: f64 = 0.1;

impl LatenessMs {
    /// The figures of `lateness` (nanoseconds), with the limit for a run whose p99 latency was
    /// `measured_p99_ms`.
    pub(crate) fn of(lateness: &Histogram<u64>, measured_p99_ms: f64) -> LatenessMs {
        let ms = |nanos: u64| nanos as f64 / 1e6;
        LatenessMs {
            p50: ms(lateness.value_at_quantile(0.50)),
            p99: ms(lateness.value_at_quantile(0.99)),
            max: ms(lateness.max()),
            limit: MOST_LATENESS_MS.max(measured_p99_ms * LATENESS_SHARE),
        }
    }

    /// Whether the generator was late enough for the run to describe it rather than the server.
    pub fn too_late(&self) -> bool {
        self.p99 > self.limit
    }
}

/// The result of an open-loop run (`bench --rate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateReport {
    /// The server's address.
    pub server: String,
    /// Connections asked for.
    pub connections: usize,
    /// Connections that were up when measuring started.
    pub connected: usize,
    pub message_bytes: usize,
    /// Length of the measured window.
    pub seconds: f64,
    /// Messages per second asked for, over all connections.
    pub asked_rate: f64,
    /// Messages per second written whole, of those due in the measured time.
    pub sent_rate: f64,
    /// Echoes per second that arrived in the measured time.
    pub echoed_rate: f64,
    /// Messages due in the measured time.
    pub due: u64,
    /// Of those, written whole.
    pub sent: u64,
    /// Due but never written whole (the server's back-pressure held them, or the run ended).
    pub unsent: u64,
    /// Written but never echoed (lost to a reset, a timeout, or the end of the run).
    pub unechoed: u64,
    /// Messages that waited for their socket (see [`ScheduleCounts::socket_waits`]).
    pub socket_waits: u64,
    /// Round trips measured: messages due in the measured time and echoed, verified.
    pub round_trips: u64,
    /// Latency from each message's scheduled time to its echo's last byte (coordinated
    /// omission corrected, as wrk2 reports it); `None` when no round trip completed.
    pub latency_ms: Option<LatencyMs>,
    /// Latency from each message's first byte written to its echo's last byte.
    pub uncorrected_latency_ms: Option<LatencyMs>,
    /// The generator's own lateness.
    pub generator_lateness_ms: LatenessMs,
    /// Round trips per connection: fewest, most, and connections with none.
    pub fairness: Fairness,
    pub errors: ErrorCounts,
    /// The server went away this many seconds into the measured time.
    pub server_gone_after: Option<f64>,
}

/// Below this share of the asked rate echoed, the report says the server did not keep up.
pub const KEPT_UP: f64 = 0.99;

impl RateReport {
    /// Whether the server echoed at least [`KEPT_UP`] of the rate asked.
    pub fn kept_up(&self) -> bool {
        self.echoed_rate >= KEPT_UP * self.asked_rate
    }
}

/// The result of a ping-pong run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PingPongReport {
    /// The server's address.
    pub server: String,
    /// Connections asked for.
    pub connections: usize,
    /// Connections that were up when measuring started.
    pub connected: usize,
    pub message_bytes: usize,
    /// Length of the measured window.
    pub seconds: f64,
    /// Round trips completed and verified in the window.
    pub round_trips: u64,
    pub round_trips_per_sec: f64,
    /// Payload megabytes (10^6 bytes) per second in each direction.
    pub mb_per_sec_each_way: f64,
    /// Latency of the round trips in the window.
    /// `None` when no round trip completed.
    pub latency_ms: Option<LatencyMs>,
    /// Round trips per connection: fewest, most, and connections with none.
    pub fairness: Fairness,
    pub errors: ErrorCounts,
    /// The server went away (refused connections) this many seconds into the measured time: the
    /// run stopped there, and its rates are over that time only.
    pub server_gone_after: Option<f64>,
}

/// The result of a stream run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamReport {
    /// The server's address.
    pub server: String,
    pub bytes_sent: u64,
    pub bytes_echoed: u64,
    /// From the first byte sent to the last byte back.
    pub seconds: f64,
    /// Echoed megabytes (10^6 bytes) per second.
    pub mb_per_sec: f64,
    /// Bytes that came back different from those sent.
    pub corrupted_bytes: u64,
    /// Offset of the first corrupted byte, if any.
    pub first_corrupted_offset: Option<u64>,
}

impl StreamReport {
    /// True if exactly the bytes sent came back.
    pub fn intact(&self) -> bool {
        self.bytes_echoed == self.bytes_sent && self.corrupted_bytes == 0
    }
}

/// What became of the datagrams, beyond the schedule's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DatagramCounts {
    /// Datagrams with no echo within the timeout (by the end of the wait).
    pub lost: u64,
    /// Echoes that came after the timeout (their datagram counted late, not lost).
    pub late: u64,
    /// Second (and later) echoes of one datagram.
    pub duplicated: u64,
    /// Echoes that came after a later datagram's echo (still counted as echoed).
    pub out_of_order: u64,
    /// Echoes whose bytes differ from the datagram's.
    pub corrupted: u64,
}

/// `part` as a share of `whole`, in percent (0 of nothing).
pub(crate) fn percent(part: u64, whole: u64) -> f64 {
    match whole {
        0 => 0.0,
        whole => part as f64 / whole as f64 * 100.0,
    }
}

/// The result of an open-loop UDP run (`bench -u --rate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UdpRateReport {
    /// The server's address.
    pub server: String,
    pub sockets: usize,
    pub datagram_bytes: usize,
    /// Length of the measured window.
    pub seconds: f64,
    pub asked_rate: f64,
    /// Datagrams per second sent, of those due in the measured time.
    pub sent_rate: f64,
    /// Echoes per second that arrived in the measured time.
    pub echoed_rate: f64,
    /// Datagrams due in the measured time.
    pub due: u64,
    /// Of those, sent.
    pub sent: u64,
    /// Of those, echoed intact and on time: the round trips measured.
    pub echoed: u64,
    #[serde(flatten)]
    pub counts: DatagramCounts,
    /// `lost` as a share of `sent`, in percent.
    pub loss_percent: f64,
    /// Datagrams that found their socket full when they were due.
    pub socket_waits: u64,
    /// From each datagram's scheduled time to its echo.
    pub latency_ms: Option<LatencyMs>,
    /// From the moment each was sent to its echo.
    pub uncorrected_latency_ms: Option<LatencyMs>,
    pub generator_lateness_ms: LatenessMs,
    /// Echoes per socket: fewest, most, sockets with none.
    pub fairness: Fairness,
    /// The server went away (nothing listens any more) this many seconds into the measured
    /// time.
    pub server_gone_after: Option<f64>,
}

/// The result of a UDP ping run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UdpPingReport {
    /// Where the probes went.
    pub server: SocketAddr,
    pub probe_bytes: usize,
    pub sent: u64,
    /// Probes back intact and on time.
    pub echoed: u64,
    /// Probes with no echo at all (by the end of the wait for stragglers).
    pub lost: u64,
    /// Probes whose echo came after the timeout.
    pub late: u64,
    /// Second (and later) echoes of one probe.
    pub duplicates: u64,
    /// Echoes that came after a later probe's echo.
    pub out_of_order: u64,
    /// Echoes that came back altered (and datagrams that matched no probe).
    pub corrupted: u64,
    /// `lost` as a share of `sent`, in percent.
    pub loss_percent: f64,
    /// From the first probe to the end of the run.
    pub seconds: f64,
    /// Round trips of the echoed probes.
    pub rtt_ms: Option<RttMs>,
    pub latency_ms: Option<LatencyMs>,
    /// RFC 3550's interarrival jitter over the echoed probes, in milliseconds.
    pub jitter_ms: Option<f64>,
}

impl UdpPingReport {
    /// True if probes were sent and every one came back intact and on time: the exit status.
    pub fn all_intact(&self) -> bool {
        self.sent > 0 && self.echoed == self.sent && self.lost + self.late + self.corrupted == 0
    }
}

impl BenchReport {
    /// The seconds the run measured (a stream: the seconds it took).
    pub fn measured_seconds(&self) -> f64 {
        match self {
            BenchReport::PingPong(r) => r.seconds,
            BenchReport::Rate(r) => r.seconds,
            BenchReport::UdpRate(r) => r.seconds,
            BenchReport::Stream(r) => r.seconds,
        }
    }
}

/// Either bench report, tagged by mode for JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum BenchReport {
    /// `soc_client bench`.
    PingPong(PingPongReport),
    /// `soc_client bench --stream BYTES`.
    Stream(StreamReport),
    /// `soc_client bench --rate RATE`.
    Rate(RateReport),
    /// `soc_client bench -u --rate RATE`.
    UdpRate(UdpRateReport),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_statistics_match_a_hand_computation() {
        let ms = Duration::from_millis;
        let stats = RttMs::of(&[ms(1), ms(2), ms(3), ms(6)]).unwrap();
        assert_eq!((stats.min, stats.avg, stats.max), (1.0, 3.0, 6.0));
        // Deviations -2, -1, 0, 3: variance 14/4 = 3.5 ms², deviation 1.8708 ms.
        assert!((stats.mdev - 1.8708).abs() < 1e-3, "{stats:?}");
        assert_eq!(RttMs::of(&[]), None);
    }
}
