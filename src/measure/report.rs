//! What a measuring run found: the result types of `ping` and `bench`, which the output and
//! export modules turn into text and JSON, and `verdict.rs` judges.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

/// Round-trip times over the probes that came back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RttStats {
    pub min: Duration,
    pub avg: Duration,
    pub max: Duration,
    /// Mean deviation as ping(8) reports it: the standard deviation of the round trips.
    pub mdev: Duration,
}

impl RttStats {
    /// The statistics of `rtts`, or `None` when there are none.
    pub(crate) fn of(rtts: &[Duration]) -> Option<RttStats> {
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
}

/// The result of a ping run.
#[derive(Debug, Clone, PartialEq)]
pub struct PingReport {
    /// Where the probes went.
    pub peer: SocketAddr,
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

impl PingReport {
    /// True if probes were sent and every one came back intact: the run's exit status.
    pub fn all_intact(&self) -> bool {
        self.sent > 0 && self.echoed == self.sent
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
    pub max: f64,
    pub mean: f64,
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
    pub latency_ms: LatencyMs,
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

/// Either bench report, tagged by mode for JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum BenchReport {
    /// `soc_client bench`.
    PingPong(PingPongReport),
    /// `soc_client bench --stream BYTES`.
    Stream(StreamReport),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_statistics_match_a_hand_computation() {
        let ms = Duration::from_millis;
        let stats = RttStats::of(&[ms(1), ms(2), ms(3), ms(6)]).unwrap();
        assert_eq!(stats.min, ms(1));
        assert_eq!(stats.max, ms(6));
        assert_eq!(stats.avg, ms(3));
        // Deviations -2, -1, 0, 3: variance 14/4 = 3.5 ms², deviation 1.8708 ms.
        let mdev_ms = stats.mdev.as_secs_f64() * 1000.0;
        assert!((mdev_ms - 1.8708).abs() < 1e-3, "{:?}", stats.mdev);
        assert_eq!(RttStats::of(&[]), None);
    }
}
