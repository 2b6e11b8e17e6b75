//! `soc_client bench`: a load generator you can trust, built on the same library as the client.
//!
//! Two workloads:
//! - [`ping_pong`]: closed-loop round trips on many connections. Each connection writes a
//!   message, reads until the whole message is back (however the bytes are split), verifies it
//!   and repeats. Connections are driven by a few event-loop threads (mio, edge-triggered), not a
//!   thread each, so that the generator's own cost per round trip stays well below the server's
//!   and the numbers measure the server.
//! - [`stream`]: one connection streams pseudo-random bytes while the echo is read and verified
//!   at the same time; reports MB/s.
//!
//! Nothing is trusted that is not checked: every echoed byte is compared with what was sent.

mod pingpong;
mod stream;

use std::time::Duration;

use serde::Serialize;

use crate::limits::Limit;

pub use pingpong::ping_pong;
pub use stream::stream;

/// What a ping-pong run does.
#[derive(Debug, Clone)]
pub struct PingPongOptions {
    /// Connections, each with one message in flight at a time.
    pub connections: usize,
    /// Bytes per message.
    pub size: usize,
    /// How long to measure, after the warm-up.
    pub duration: Duration,
    /// How long to run before measuring (connections set up, caches warm).
    pub warmup: Duration,
    /// A round trip that makes no progress for this long is a timeout.
    pub timeout: Limit,
    /// How long each connect may take.
    pub connect_timeout: Limit,
}

impl Default for PingPongOptions {
    fn default() -> Self {
        Self {
            connections: 50,
            size: 64,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            timeout: Limit::After(Duration::from_secs(10)),
            connect_timeout: Limit::After(Duration::from_secs(5)),
        }
    }
}

/// Everything that went wrong in a run, by kind.
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
    /// away at once, as soc_server does beyond `--max-clients`).
    pub closed_at_once: u64,
}

impl ErrorCounts {
    /// All errors together.
    pub fn total(&self) -> u64 {
        self.connect_failures + self.resets + self.timeouts + self.corrupted + self.self_connections
    }

    fn add(&mut self, other: &ErrorCounts) {
        self.connect_failures += other.connect_failures;
        self.resets += other.resets;
        self.timeouts += other.timeouts;
        self.corrupted += other.corrupted;
        self.self_connections += other.self_connections;
        self.after_warmup += other.after_warmup;
        self.closed_at_once += other.closed_at_once;
    }
}

/// How evenly the server served the connections: round trips in the measured time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fairness {
    /// Fewest round trips of any connection.
    pub fewest: u64,
    /// Most round trips of any connection.
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

impl Fairness {
    fn count(&mut self, round_trips: u64) {
        self.fewest = self.fewest.min(round_trips);
        self.most = self.most.max(round_trips);
        self.silent += usize::from(round_trips == 0);
    }

    fn add(&mut self, other: &Fairness) {
        self.fewest = self.fewest.min(other.fewest);
        self.most = self.most.max(other.most);
        self.silent += other.silent;
    }
}

/// Round-trip latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
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
    /// Bytes per message.
    pub message_bytes: usize,
    /// Length of the measured window.
    pub seconds: f64,
    /// Round trips completed and verified in the window.
    pub round_trips: u64,
    /// `round_trips / seconds`.
    pub round_trips_per_sec: f64,
    /// Payload megabytes (10^6 bytes) per second in each direction.
    pub mb_per_sec_each_way: f64,
    /// Latency of the round trips in the window.
    pub latency_ms: LatencyMs,
    /// Round trips per connection: fewest, most, and connections with none.
    pub fairness: Fairness,
    /// What went wrong.
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
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes that came back.
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

/// Either report, tagged by mode for `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum BenchReport {
    /// `soc_client bench`.
    PingPong(PingPongReport),
    /// `soc_client bench --stream BYTES`.
    Stream(StreamReport),
}

impl BenchReport {
    /// The verdict: `Err` with the reason, on one line, when the run cannot be trusted as a
    /// measurement of a working server. A measuring tool fails loudly.
    pub fn verdict(&self) -> Result<(), String> {
        match self {
            BenchReport::PingPong(r) => {
                let e = &r.errors;
                if e.corrupted > 0 {
                    return Err(format!("{} echoes came back corrupted", e.corrupted));
                }
                if r.connected == 0 {
                    return Err("no connection could be made".into());
                }
                if let Some(after) = r.server_gone_after {
                    return Err(format!(
                        "the server went away {after:.1} s into the measured time (connections \
                         refused); the rates above are partial, over that time only"
                    ));
                }
                if e.closed_at_once > 0 && (r.fairness.silent > 0 || e.after_warmup > 0) {
                    return Err(format!(
                        "the server closed {} connections at once, before any echo, and {} of {} \
                         connections completed no round trip: is its client limit (soc_server \
                         --max-clients) below -c?",
                        e.closed_at_once, r.fairness.silent, r.connections
                    ));
                }
                if r.fairness.silent > 0 {
                    return Err(format!(
                        "{} of {} connections completed no round trip in the measured time \
                         (a server that serves some clients and not others)",
                        r.fairness.silent, r.connections
                    ));
                }
                if e.after_warmup > 0 {
                    return Err(format!(
                        "the server refused or dropped {} connections after the warm-up",
                        e.after_warmup
                    ));
                }
                if r.round_trips == 0 {
                    return Err("no round trip completed".into());
                }
                Ok(())
            }
            BenchReport::Stream(r) if !r.intact() => Err(format!(
                "{} of {} bytes came back, {} corrupted",
                r.bytes_echoed, r.bytes_sent, r.corrupted_bytes
            )),
            BenchReport::Stream(_) => Ok(()),
        }
    }
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchReport::PingPong(r) => {
                writeln!(
                    f,
                    "ping-pong: {} connections ({} up) x {} B to {}, {:.1} s measured{}",
                    r.connections,
                    r.connected,
                    r.message_bytes,
                    r.server,
                    r.seconds,
                    match r.server_gone_after {
                        Some(_) => " (PARTIAL: the server went away)",
                        None => "",
                    }
                )?;
                writeln!(
                    f,
                    "round trips   {} ({:.0}/s)",
                    r.round_trips, r.round_trips_per_sec
                )?;
                writeln!(
                    f,
                    "throughput    {:.2} MB/s each way",
                    r.mb_per_sec_each_way
                )?;
                let l = &r.latency_ms;
                writeln!(
                    f,
                    "latency (ms)  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
                    l.p50, l.p90, l.p99, l.p999, l.max
                )?;
                let fair = &r.fairness;
                writeln!(
                    f,
                    "per connection  fewest {}  most {} round trips  ({} with none)",
                    if fair.fewest == u64::MAX {
                        0
                    } else {
                        fair.fewest
                    },
                    fair.most,
                    fair.silent
                )?;
                let e = &r.errors;
                write!(
                    f,
                    "errors        {} connect failures, {} resets, {} timeouts, {} corrupted, \
                     {} self-connections refused",
                    e.connect_failures, e.resets, e.timeouts, e.corrupted, e.self_connections
                )
            }
            BenchReport::Stream(r) => {
                writeln!(
                    f,
                    "stream: {} bytes sent to {}, {} echoed in {:.3} s",
                    r.bytes_sent, r.server, r.bytes_echoed, r.seconds
                )?;
                writeln!(f, "throughput    {:.1} MB/s echoed", r.mb_per_sec)?;
                match r.first_corrupted_offset {
                    None => write!(f, "verified      every byte intact"),
                    Some(offset) => write!(
                        f,
                        "verified      {} bytes CORRUPTED, the first at offset {offset}",
                        r.corrupted_bytes
                    ),
                }
            }
        }
    }
}
