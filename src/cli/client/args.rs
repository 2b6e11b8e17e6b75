//! soc_client's flags, as clap reads them: what was typed, before any rule between them is
//! checked (that is `mod.rs`'s). Every default is here, in the attributes, and nowhere else.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args as ClapArgs, Parser, Subcommand};

use super::super::{
    parse_limit, parse_port, parse_positive_secs, parse_rate, parse_secs, parse_size,
    parse_socket_addr, size_in, whole_in, Endpoint, Generate, Verbosity,
};
use crate::limits::Limit;
use crate::measure::slo::{self, Objective};
use crate::net::{Dscp, Ecn};

/// `--slo`'s list, as one value (clap would take a `Vec` for several).
#[derive(Debug, Clone)]
pub(super) struct Objectives(pub(super) Vec<Objective>);

/// Reads `--slo`'s list (see [`slo::parse`]).
fn parse_objectives(text: &str) -> Result<Objectives, String> {
    slo::parse(text).map(Objectives)
}

/// What `-q` does in soc_client.
const QUIET: &str =
    "Only warnings and errors on standard error; ping and monitor print only their \
                     summaries, as ping(8) -q does";

/// Echo client: sends lines or bytes to an echo server (TCP, or UDP with -u) and prints what
/// comes back.
///
/// On a terminal it is an interactive session (`exit`, `quit` or Ctrl-D to leave). With standard
/// input from a pipe or file it streams it through the server to standard output, byte for byte,
/// and exits 0 only if exactly the bytes sent came back.
///
/// Exit codes: 0 success, 1 failure (connection, timeout, echo differs or lost), 2 usage error,
/// 3 an objective (--slo) missed; 130 or 143 when a signal stopped it.
#[derive(Debug, Parser)]
// Negative numbers are values of the options that take numbers (and then invalid ones), not
// unknown flags; not of HOST and PORT, so that -4 and -6 stay flags.
#[command(name = "soc_client", version, after_help = UNITS)]
// `-q` is the server's too; the client's ping and monitor give it ping(8)'s meaning as well.
#[command(mut_arg("quiet", |quiet| quiet.help(QUIET)))]
pub(super) struct Args {
    #[command(flatten)]
    pub(super) endpoint: Endpoint,

    /// Give up connecting after this long (0: the system's own limit)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_limit, global = true,
          help_heading = "Connection", allow_negative_numbers = true)]
    pub(super) connect_timeout: Limit,

    /// Give up when an echo makes no progress for this long (0: wait forever)
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_limit, global = true,
          help_heading = "Connection", allow_negative_numbers = true)]
    pub(super) timeout: Limit,

    /// Send TEXT as one line, print the echo, exit 0 if it came back unchanged (standard input
    /// is not read); with -u, the datagram is sent again, twice at most, while no echo comes
    /// within --timeout
    #[arg(short, long, value_name = "TEXT")]
    pub(super) message: Option<String>,

    /// UDP instead of TCP, as netcat's -u: each line typed, or piece of the input, is one
    /// datagram, and one that is not echoed within --timeout is reported
    #[arg(short, long)]
    pub(super) udp: bool,

    /// With -u and piped input: the most bytes in one datagram (each ends at a line end where
    /// there is one)
    #[arg(short, long, value_name = "BYTES", default_value = "1400", requires = "udp",
          value_parser = parse_size, allow_negative_numbers = true)]
    pub(super) size: u64,

    #[command(flatten)]
    pub(super) path: PathArgs,

    /// Write soc_client's manual page (man) or a shell's completions to standard output, then
    /// exit
    #[arg(long, value_name = "KIND")]
    pub(super) generate: Option<Generate>,

    #[command(flatten)]
    pub(super) verbosity: Verbosity,

    #[command(subcommand)]
    pub(super) command: Option<Command>,
}

/// What the client asks of its packets' path, in every mode.
#[derive(Debug, ClapArgs)]
pub(super) struct PathArgs {
    /// Mark every packet with this DSCP: a name (EF, AF11 to AF43, CS0 to CS7, VA, LE) or 0 to
    /// 63; over UDP the summary says what the echoes came back with
    #[arg(long, value_name = "DSCP", global = true, help_heading = "Path")]
    pub(super) dscp: Option<Dscp>,

    /// UDP: mark every datagram with this ECN code point: not-ect, ect0, ect1 or ce (TCP sets
    /// its own)
    #[arg(long, value_name = "CODE", global = true, help_heading = "Path")]
    pub(super) ecn: Option<Ecn>,

    /// Send with this TTL (hop limit over IPv6), 1 to 255
    #[arg(long, value_name = "N", global = true, help_heading = "Path",
          value_parser = whole_in(1, 255), allow_negative_numbers = true)]
    pub(super) ttl: Option<u64>,

    /// UDP: never fragment a datagram; one too big for the path fails with its size (and the
    /// path MTU where the system says it)
    #[arg(long, global = true, help_heading = "Path")]
    pub(super) df: bool,

    /// Use IPv4 only (when the host's name has both)
    #[arg(
        short = '4',
        global = true,
        conflicts_with = "ipv6",
        help_heading = "Path"
    )]
    pub(super) ipv4: bool,

    /// Use IPv6 only (when the host's name has both)
    #[arg(short = '6', global = true, help_heading = "Path")]
    pub(super) ipv6: bool,

    /// Send from this local address, and port if given (as nc -s and ping -I)
    #[arg(long, value_name = "ADDR[:PORT]", global = true, help_heading = "Path",
          value_parser = parse_source, allow_negative_numbers = true)]
    pub(super) source: Option<std::net::SocketAddr>,
}

/// Reads `--source`: an address, with a port or not (`127.0.0.2`, `[::1]:5000`).
fn parse_source(text: &str) -> Result<std::net::SocketAddr, String> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(std::net::SocketAddr::new(ip, 0));
    }
    text.parse::<std::net::SocketAddr>()
        .map_err(|_| format!("'{text}' is not a local address (127.0.0.2, ::1, 192.0.2.7:5000)"))
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Measure round trips like ping(8): over one connection, with --connect the TCP handshake,
    /// with -u as datagrams; Ctrl-C prints the summary
    #[command(after_help = UNITS)]
    Ping(PingArgs),
    /// Load the server and report: closed-loop round trips, --rate open loop (TCP, or -u UDP),
    /// or --stream one verified stream
    #[command(after_help = UNITS)]
    Bench(BenchArgs),
    /// Merge the JSON reports of several runs of one mode (or their --hlog files) into one
    /// report: counts summed, histograms added, percentiles from the sum
    #[command(after_help = UNITS)]
    Merge(MergeArgs),
    /// Probe many targets continuously (TCP echo, TCP handshake, UDP echo) until Ctrl-C, with a
    /// line or an NDJSON record per probe and metrics for Prometheus
    #[command(after_help = TARGETS)]
    Monitor(MonitorArgs),
}

#[derive(Debug, ClapArgs)]
pub(super) struct MergeArgs {
    /// Reports to merge: what bench or ping --json printed, or bench --hlog wrote
    #[arg(value_name = "FILE", required = true)]
    pub(super) files: Vec<PathBuf>,

    /// Print the merged report as one JSON object on standard output
    #[arg(long)]
    pub(super) json: bool,

    /// Objectives the merged run is held to, as for bench (exit 3 when one is missed)
    #[arg(long, value_name = "LIST", value_parser = parse_objectives, allow_negative_numbers = true)]
    pub(super) slo: Option<Objectives>,

    /// Write the merged latency histogram to FILE (.hgrm)
    #[arg(long, value_name = "FILE")]
    pub(super) hgrm: Option<PathBuf>,

    /// Draw the merged latency by percentile in FILE (SVG)
    #[arg(long, value_name = "FILE.svg")]
    pub(super) plot: Option<PathBuf>,
}

/// Said under `monitor --help`: how a target is written.
const TARGETS: &str = concat!(
    "A TARGET is HOST:PORT or tcp://HOST:PORT (an echo over one kept TCP connection), ",
    "connect://HOST:PORT (the time of a TCP handshake, to any TCP server) or udp://HOST:PORT ",
    "(a UDP echo); IPv6 as [::1]:PORT. --targets FILE reads more, one a line, # comments."
);

/// How probe lines and records are told: `-D` and `--ndjson`, for `ping` and `monitor`.
#[derive(Debug, ClapArgs)]
pub(super) struct ProbeOutput {
    /// Begin each probe's line with its time, ISO 8601 in UTC to the microsecond (as ping -D
    /// does with epoch seconds)
    #[arg(short = 'D', long = "timestamps")]
    pub(super) timestamps: bool,

    /// Write one JSON object per probe outcome to FILE (- for standard output, instead of the
    /// lines): time, target, proto, seq, outcome, rtt_ms
    #[arg(long, value_name = "FILE")]
    pub(super) ndjson: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
pub(super) struct MonitorArgs {
    /// Targets to probe: HOST:PORT, tcp://, connect://, udp:// (see below)
    #[arg(value_name = "TARGET")]
    pub(super) targets: Vec<String>,

    /// Read more targets from FILE, one a line, # starting a comment
    #[arg(long = "targets", id = "targets_file", value_name = "FILE")]
    pub(super) targets_file: Option<PathBuf>,

    /// Seconds from one probe of a target to its next (the targets' probes spread over it)
    #[arg(short, long, value_name = "SECS", default_value = "1", value_parser = parse_positive_secs, allow_negative_numbers = true)]
    pub(super) interval: Duration,

    /// Payload bytes per echo probe (over UDP 16 at least)
    #[arg(short, long, value_name = "SIZE", default_value = "56", value_parser = size_in(1, u64::MAX), allow_negative_numbers = true)]
    pub(super) size: u64,

    /// A target is down after N probes in a row failed, up again at the first that succeeds
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = whole_in(1, u32::MAX.into()), allow_negative_numbers = true)]
    pub(super) down_after: u64,

    /// Stop probing after COUNT probes of each target (default: until Ctrl-C); with --metrics,
    /// the final counts stay served until Ctrl-C
    #[arg(short, long, value_name = "COUNT", value_parser = whole_in(1, u64::MAX), allow_negative_numbers = true)]
    pub(super) count: Option<u64>,

    /// Serve metrics for Prometheus at http://ADDR/metrics (port 0: any free one, said on the
    /// first line)
    #[arg(long, value_name = "ADDR", value_parser = parse_socket_addr, allow_negative_numbers = true)]
    pub(super) metrics: Option<std::net::SocketAddr>,

    #[command(flatten)]
    pub(super) output: ProbeOutput,
}

/// `ping HOST [PORT]`, `bench HOST [PORT]`: the order ping(8) and tcping users type, as well as
/// netcat's `soc_client HOST PORT ping`.
#[derive(Debug, ClapArgs)]
pub(super) struct EndpointAfter {
    /// Server to connect to, as HOST before the subcommand (ping(8)'s order works too)
    #[arg(value_name = "HOST")]
    pub(super) target: Option<String>,

    /// Server port, after HOST
    #[arg(value_name = "PORT", value_parser = parse_port)]
    pub(super) target_port: Option<u16>,
}

#[derive(Debug, ClapArgs)]
pub(super) struct PingArgs {
    #[command(flatten)]
    pub(super) endpoint: EndpointAfter,

    /// Stop after COUNT probes (default: until Ctrl-C)
    #[arg(short, long, value_name = "COUNT", value_parser = whole_in(1, u64::MAX), allow_negative_numbers = true)]
    pub(super) count: Option<u64>,

    /// Seconds from one probe to the next
    #[arg(short, long, value_name = "SECS", default_value = "1", value_parser = parse_secs, allow_negative_numbers = true)]
    pub(super) interval: Duration,

    /// Payload bytes per probe (over UDP 16 at least: its number and send time)
    #[arg(short, long, value_name = "SIZE", default_value = "56", conflicts_with = "connect",
          value_parser = size_in(1, u64::MAX), allow_negative_numbers = true)]
    pub(super) size: u64,

    /// Time TCP handshakes instead: each probe opens a new connection and closes it, sending
    /// nothing, so any TCP server will do
    #[arg(long)]
    pub(super) connect: bool,

    /// Probe over UDP: each probe a datagram, against any UDP echo; lost, late, duplicated,
    /// reordered and altered echoes are counted, and RFC 3550 jitter given
    #[arg(short, long, conflicts_with = "connect")]
    pub(super) udp: bool,

    /// Print only the summary, as one JSON object on standard output
    #[arg(long)]
    pub(super) json: bool,

    /// Objectives the run is held to, by commas: METRIC OP VALUE, e.g. p99<=2ms,loss<0.1%
    /// (exit 3 when one is missed)
    #[arg(long, value_name = "LIST", value_parser = parse_objectives, allow_negative_numbers = true)]
    pub(super) slo: Option<Objectives>,

    #[command(flatten)]
    pub(super) output: ProbeOutput,

    #[command(flatten)]
    pub(super) exports: PingExports,
}

/// The files ping can write.
#[derive(Debug, ClapArgs)]
pub(super) struct PingExports {
    /// Write the latency histogram to FILE as HdrHistogram's percentile distribution (.hgrm)
    #[arg(long, value_name = "FILE")]
    pub(super) hgrm: Option<PathBuf>,

    /// Draw latency by percentile and over time in FILE (SVG)
    #[arg(long, value_name = "FILE.svg")]
    pub(super) plot: Option<PathBuf>,
}

/// The files bench can write about a ping-pong or rate run.
#[derive(Debug, ClapArgs)]
pub(super) struct BenchExports {
    /// Write the latency histogram to FILE as HdrHistogram's percentile distribution (.hgrm)
    #[arg(long, value_name = "FILE", conflicts_with = "stream")]
    pub(super) hgrm: Option<PathBuf>,

    /// Write the run to FILE as an HdrHistogram interval log, one histogram per second (.hlog)
    #[arg(long, value_name = "FILE", conflicts_with = "stream")]
    pub(super) hlog: Option<PathBuf>,

    /// Draw latency by percentile and over time in FILE (SVG)
    #[arg(long, value_name = "FILE.svg", conflicts_with = "stream")]
    pub(super) plot: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
pub(super) struct BenchArgs {
    #[command(flatten)]
    pub(super) endpoint: EndpointAfter,

    /// Connections, each with one message in flight (with -u: sockets)
    #[arg(short, long, value_name = "CONNECTIONS", default_value_t = 50,
          value_parser = whole_in(1, 100_000), allow_negative_numbers = true)]
    pub(super) connections: u64,

    /// Bytes per message (with -u: per datagram, 8 at least)
    #[arg(short, long, value_name = "SIZE", default_value = "64",
          value_parser = size_in(1, u64::MAX), allow_negative_numbers = true)]
    pub(super) size: u64,

    /// Seconds to measure (more than 0)
    #[arg(short, long, value_name = "SECONDS", default_value = "10", value_parser = parse_positive_secs, allow_negative_numbers = true)]
    pub(super) duration: Duration,

    /// Seconds to run before measuring
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_secs, allow_negative_numbers = true)]
    pub(super) warmup: Duration,

    /// Instead of ping-pong: stream BYTES (e.g. 256M) on one connection, verify, report MB/s
    #[arg(long, value_name = "BYTES", value_parser = size_in(1, u64::MAX),
          conflicts_with_all = ["connections", "size", "duration", "warmup", "threads"], allow_negative_numbers = true)]
    pub(super) stream: Option<u64>,

    /// Open loop: RATE messages a second in all (5000, 10k, 1.5M), each sent at its time whether
    /// or not earlier echoes are back; latency counts from each message's scheduled time
    #[arg(long, value_name = "RATE", value_parser = parse_rate, conflicts_with = "stream", allow_negative_numbers = true)]
    pub(super) rate: Option<f64>,

    /// Datagrams instead, with --rate: -c sockets, -s bytes each; lost, late, duplicated,
    /// reordered and altered echoes are counted
    #[arg(short, long, conflicts_with = "stream")]
    pub(super) udp: bool,

    /// Event-loop threads driving the connections [default: 1, which leaves the other cores to a
    /// local server; with --rate, as many as the rate needs on this machine, said on standard
    /// error]
    #[arg(short, long, value_name = "N", value_parser = whole_in(1, 256), allow_negative_numbers = true)]
    pub(super) threads: Option<u64>,

    /// Print the report as one JSON object on standard output
    #[arg(long)]
    pub(super) json: bool,

    /// Objectives the run is held to, by commas: METRIC OP VALUE, e.g. p99<=2ms,rate>=99%
    /// (exit 3 when one is missed)
    #[arg(long, value_name = "LIST", value_parser = parse_objectives, allow_negative_numbers = true)]
    pub(super) slo: Option<Objectives>,

    #[command(flatten)]
    pub(super) exports: BenchExports,
}

/// Said under every `--help` that has a size or a rate: what the suffixes mean.
const UNITS: &str = concat!(
    "Sizes take K, M, G (or KiB, MiB, GiB: 1024-based) or kB, MB, GB (1000-based): 64K, 1.5G. ",
    "Rates take k and M (1000-based): 10k. Throughput is reported in MB/s (10^6 bytes a second)."
);
