//! What a measuring run found: the result types of `ping` and `bench`, which the output and
//! export modules turn into text and JSON (no result type knows a JSON key: those are
//! `export/json.rs`'s), and `verdict.rs` judges.

use super::path::PathReport;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

pub use super::latency::{LatencyMs, LatenessMs, Machine};

/// A struct of `u64` counters that add up as a whole (`+=`), so that a counter added to it is
/// merged too without anyone remembering to.
macro_rules! counts {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$field_meta:meta])* $field:ident,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: u64,)*
        }

        impl std::ops::AddAssign for $name {
            fn add_assign(&mut self, other: Self) {
                $(self.$field += other.$field;)*
            }
        }
    };
}

/// A run's result and its latency histograms: the report is what is shown and serialised, the
/// histograms what the exporters (`--hgrm`, `--hlog`, `--plot`) need.
#[derive(Debug)]
pub struct Measured<R> {
    pub report: R,
    /// None for a stream, which measures no latency.
    pub histograms: Option<Histograms>,
}

impl<R> Measured<R> {
    /// A run that kept no histogram.
    pub fn without_histograms(report: R) -> Measured<R> {
        Measured {
            report,
            histograms: None,
        }
    }

    /// The same measurement with its report turned by `into` (into a [`Report`], say).
    pub fn map<S>(self, into: impl FnOnce(R) -> S) -> Measured<S> {
        Measured {
            report: into(self.report),
            histograms: self.histograms,
        }
    }
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

/// The result of a ping run (`soc_client ping`).
#[derive(Debug, Clone, PartialEq)]
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
    /// Connections made again after the server closed or reset one (each probe in flight then
    /// is lost).
    pub reconnections: u64,
    /// From the first probe to the end of the run.
    pub seconds: f64,
    /// The round trips of the probes that came back intact, if any did.
    pub latency_ms: Option<LatencyMs>,
}

/// The result of a connect-time run (`soc_client ping --connect`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectReport {
    /// Where the connections went.
    pub server: SocketAddr,
    /// Connections tried.
    pub sent: u64,
    pub connected: u64,
    /// Refused (nothing listens), timed out, or failed otherwise: `failed` is all three.
    pub refused: u64,
    pub timed_out: u64,
    pub failed: u64,
    /// From the first attempt to the end of the run.
    pub seconds: f64,
    /// Handshake times of the connections made.
    pub latency_ms: Option<LatencyMs>,
}

counts! {
    /// Everything that went wrong in a bench run, by kind.
    pub struct ErrorCounts {
        /// Connection attempts that failed (refused, timed out, no resources).
        connect_failures,
        /// Connections reset or closed by the server in the middle of a run.
        resets,
        /// Round trips that made no progress for the timeout.
        timeouts,
        /// Echoes that came back with bytes different from those sent.
        corrupted,
        /// Connections that turned out to be connected to themselves, refused (never measured).
        self_connections,
        /// Connect failures and resets after the warm-up: the server refusing or dropping
        /// clients while it was measured.
        after_warmup,
        /// Connections the server closed before their first echo (a full server turning clients
        /// away at once, as soc_server does beyond its client limit).
        closed_at_once,
    }
}

impl ErrorCounts {
    /// All errors together.
    pub fn total(&self) -> u64 {
        self.connect_failures + self.resets + self.timeouts + self.corrupted + self.self_connections
    }
}

/// How evenly the server served the connections: round trips in the measured time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fairness {
    /// Fewest round trips of any connection (`u64::MAX` before any connection is counted).
    pub fewest: u64,
    pub most: u64,
    /// Connections that completed no round trip at all.
    pub silent: usize,
}

impl std::ops::AddAssign for Fairness {
    /// The fairness of two sets of connections together.
    fn add_assign(&mut self, other: Self) {
        self.fewest = self.fewest.min(other.fewest);
        self.most = self.most.max(other.most);
        self.silent += other.silent;
    }
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

counts! {
    /// What an open-loop schedule asked for and what became of it, over the measured time.
    pub struct ScheduleCounts {
        /// Messages whose scheduled time fell in the measured time.
        due,
        /// Of those, messages written whole.
        sent,
        /// Echoes that arrived in the measured time (of any message): the rate the server
        /// echoed.
        echoed_in_window,
        /// Messages that found their socket full when they were due (the server's
        /// back-pressure), or had no socket: their wait counts in their latency, not in the
        /// generator's lateness.
        socket_waits,
    }
}

/// The result of an open-loop run (`bench --rate`).
#[derive(Debug, Clone, PartialEq)]
pub struct RateReport {
    /// The server's address.
    pub server: String,
    /// Connections asked for.
    pub connections: usize,
    /// Connections that were up when measuring started.
    pub connected: usize,
    pub message_bytes: usize,
    /// Event-loop threads that drove them.
    pub threads: usize,
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
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
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

counts! {
    /// What became of a flow's datagrams (the UDP ledger's counts): every datagram sent is
    /// echoed, lost, late or corrupted in the end; duplicates and out-of-order echoes are counted
    /// beside.
    pub struct DatagramCounts {
        /// Datagrams sent.
        sent,
        /// Echoed intact within the timeout.
        echoed,
        /// No echo within the timeout (by the end of the wait for stragglers).
        lost,
        /// An echo that came after the timeout (its datagram counted late, not lost).
        late,
        /// Second (and later) echoes of one datagram.
        duplicates,
        /// Echoes that came after a later datagram's echo (still counted as echoed).
        out_of_order,
        /// Echoes whose bytes differ from the datagram's, and datagrams that match nothing sent.
        corrupted,
    }
}

/// `part` as a share of `whole`, in percent (0 of nothing).
pub(crate) fn percent(part: u64, whole: u64) -> f64 {
    match whole {
        0 => 0.0,
        whole => part as f64 / whole as f64 * 100.0,
    }
}

/// The result of an open-loop UDP run (`bench -u --rate`).
#[derive(Debug, Clone, PartialEq)]
pub struct UdpRateReport {
    /// The server's address.
    pub server: String,
    pub sockets: usize,
    pub datagram_bytes: usize,
    /// Event-loop threads that drove them.
    pub threads: usize,
    /// Length of the measured window.
    pub seconds: f64,
    pub asked_rate: f64,
    /// Datagrams per second sent, of those due in the measured time.
    pub sent_rate: f64,
    /// Echoes per second that arrived in the measured time.
    pub echoed_rate: f64,
    /// Datagrams due in the measured time.
    pub due: u64,
    /// What became of those sent (`echoed`: intact and on time, the round trips measured).
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
    /// The marking sent, and what the echoes came back with.
    pub path: PathReport,
    /// The server went away (nothing listens any more) this many seconds into the measured
    /// time.
    pub server_gone_after: Option<f64>,
}

/// The result of a UDP ping run.
#[derive(Debug, Clone, PartialEq)]
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
    pub latency_ms: Option<LatencyMs>,
    /// RFC 3550's interarrival jitter over the echoed probes, in milliseconds.
    pub jitter_ms: Option<f64>,
    /// The marking sent, and what the echoes came back with.
    pub path: PathReport,
}

/// What any run found, by mode: what the text, the JSON and the verdict are made from.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// `soc_client ping`.
    Ping(PingReport),
    /// `soc_client ping -u`.
    UdpPing(UdpPingReport),
    /// `soc_client ping --connect`.
    Connect(ConnectReport),
    /// `soc_client bench`.
    PingPong(PingPongReport),
    /// `soc_client bench --stream BYTES`.
    Stream(StreamReport),
    /// `soc_client bench --rate RATE`.
    Rate(RateReport),
    /// `soc_client bench -u --rate RATE`.
    UdpRate(UdpRateReport),
    /// `soc_client merge` of interval logs: their round trips' latency alone.
    Intervals(IntervalsReport),
}

/// What interval logs merged hold: how many round trips, over how long, how fast.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalsReport {
    /// The logs merged.
    pub logs: usize,
    pub round_trips: u64,
    /// The longest log's span (logs of runs at once), or their spans' sum.
    pub seconds: f64,
    pub latency_ms: Option<LatencyMs>,
}

impl Report {
    /// What was measured, in a word (JSON's `mode`).
    pub fn mode(&self) -> &'static str {
        match self {
            Report::Ping(_) => "ping",
            Report::UdpPing(_) => "udp-ping",
            Report::Connect(_) => "connect",
            Report::PingPong(_) => "ping-pong",
            Report::Rate(_) => "rate",
            Report::UdpRate(_) => "udp-rate",
            Report::Stream(_) => "stream",
            Report::Intervals(_) => "hlog",
        }
    }

    /// The seconds the run measured (a stream: the seconds it took).
    pub fn measured_seconds(&self) -> f64 {
        match self {
            Report::Ping(r) => r.seconds,
            Report::UdpPing(r) => r.seconds,
            Report::Connect(r) => r.seconds,
            Report::PingPong(r) => r.seconds,
            Report::Rate(r) => r.seconds,
            Report::UdpRate(r) => r.seconds,
            Report::Stream(r) => r.seconds,
            Report::Intervals(r) => r.seconds,
        }
    }
}
