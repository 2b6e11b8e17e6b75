//! soc_client's command line: its flags, and the [`ClientRequest`] they amount to.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args as ClapArgs, CommandFactory, Parser, Subcommand};

use super::{
    parse_limit, parse_port, parse_positive_secs, parse_rate, parse_secs, size_in, whole_in,
    Endpoint, Verbosity,
};
use crate::client::MessageOptions;
use crate::limits::Limit;
use crate::measure::connect::ConnectOptions;
use crate::measure::export::ExportFiles;
use crate::measure::ping::PingOptions;
use crate::measure::pingpong::PingPongOptions;
use crate::measure::rate::RateOptions;
use crate::measure::stream::StreamOptions;
use crate::measure::udp_ping::{UdpPingOptions, STAMP_BYTES};
use crate::measure::udp_rate::{UdpRateOptions, SEQ_BYTES};

/// Echo client: sends lines or bytes to an echo server (TCP, or UDP with -u) and prints what
/// comes back.
///
/// On a terminal it is an interactive session (`exit`, `quit` or Ctrl-D to leave). With standard
/// input from a pipe or file it streams it through the server to standard output, byte for byte,
/// and exits 0 only if exactly the bytes sent came back.
///
/// Exit codes: 0 success, 1 failure (connection, timeout, echo differs or lost), 2 usage error.
#[derive(Debug, Parser)]
// Negative numbers are values (and then invalid ones), not unknown flags.
#[command(name = "soc_client", version, allow_negative_numbers = true, after_help = UNITS)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Give up connecting after this long (0: the system's own limit)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_limit, global = true,
          help_heading = "Connection")]
    connect_timeout: Limit,

    /// Give up when an echo makes no progress for this long (0: wait forever)
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_limit, global = true,
          help_heading = "Connection")]
    timeout: Limit,

    /// Send TEXT as one line, print the echo, exit 0 if it came back unchanged (standard input
    /// is not read); with -u, the datagram is sent again, twice at most, while no echo comes
    /// within --timeout
    #[arg(short, long, value_name = "TEXT")]
    message: Option<String>,

    /// UDP instead of TCP, as netcat's -u: each line typed, or piece of the input, is one
    /// datagram, and one that is not echoed within --timeout is reported
    #[arg(short, long)]
    udp: bool,

    /// With -u and piped input: the most bytes in one datagram (each ends at a line end where
    /// there is one)
    #[arg(short, long, value_name = "BYTES", default_value_t = 1400, requires = "udp",
          value_parser = size_in(1, MAX_DATAGRAM as u64))]
    size: u64,

    #[command(flatten)]
    verbosity: Verbosity,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure round-trip time over one connection, like ping(8); Ctrl-C prints the summary,
    /// -q prints only the summary
    #[command(allow_negative_numbers = true, after_help = UNITS)]
    Ping(PingArgs),
    /// Load the server with closed-loop round trips (or one verified stream) and report
    #[command(allow_negative_numbers = true, after_help = UNITS)]
    Bench(BenchArgs),
}

/// `ping HOST [PORT]`, `bench HOST [PORT]`: the order ping(8) and tcping users type, as well as
/// netcat's `soc_client HOST PORT ping`.
#[derive(Debug, ClapArgs)]
struct EndpointAfter {
    /// Server to connect to, as HOST before the subcommand (ping(8)'s order works too)
    #[arg(value_name = "HOST")]
    target: Option<String>,

    /// Server port, after HOST
    #[arg(value_name = "PORT", value_parser = parse_port)]
    target_port: Option<u16>,
}

#[derive(Debug, ClapArgs)]
struct PingArgs {
    #[command(flatten)]
    endpoint: EndpointAfter,

    /// Stop after COUNT probes (default: until Ctrl-C)
    #[arg(short, long, value_name = "COUNT", value_parser = whole_in(1, u64::MAX))]
    count: Option<u64>,

    /// Seconds from one probe to the next
    #[arg(short, long, value_name = "SECS", default_value = "1", value_parser = parse_secs)]
    interval: Duration,

    /// Payload bytes per probe
    #[arg(short, long, value_name = "SIZE", default_value = "56", conflicts_with = "connect",
          value_parser = size_in(1, MAX_MESSAGE))]
    size: u64,

    /// Time TCP handshakes instead: each probe opens a new connection and closes it, sending
    /// nothing, so any TCP server will do
    #[arg(long)]
    connect: bool,

    /// Probe over UDP: each probe a datagram, against any UDP echo; lost, late, duplicated,
    /// reordered and altered echoes are counted, and RFC 3550 jitter given
    #[arg(short, long, conflicts_with = "connect")]
    udp: bool,

    /// Print only the summary, as one JSON object on standard output
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    exports: PingExports,
}

/// The files ping can write.
#[derive(Debug, ClapArgs)]
struct PingExports {
    /// Write the latency histogram to FILE as HdrHistogram's percentile distribution (.hgrm)
    #[arg(long, value_name = "FILE")]
    hgrm: Option<PathBuf>,

    /// Draw latency by percentile and over time in FILE (SVG)
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

/// The files bench can write about a ping-pong or rate run.
#[derive(Debug, ClapArgs)]
struct BenchExports {
    /// Write the latency histogram to FILE as HdrHistogram's percentile distribution (.hgrm)
    #[arg(long, value_name = "FILE", conflicts_with = "stream")]
    hgrm: Option<PathBuf>,

    /// Write the run to FILE as an HdrHistogram interval log, one histogram per second (.hlog)
    #[arg(long, value_name = "FILE", conflicts_with = "stream")]
    hlog: Option<PathBuf>,

    /// Draw latency by percentile and over time in FILE (SVG)
    #[arg(long, value_name = "FILE.svg", conflicts_with = "stream")]
    plot: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
struct BenchArgs {
    #[command(flatten)]
    endpoint: EndpointAfter,

    /// Connections, each with one message in flight
    #[arg(short, long, value_name = "CONNECTIONS", default_value_t = 50,
          value_parser = whole_in(1, 100_000))]
    connections: u64,

    /// Bytes per message
    #[arg(short, long, value_name = "SIZE", default_value = "64",
          value_parser = size_in(1, MAX_MESSAGE))]
    size: u64,

    /// Seconds to measure (more than 0)
    #[arg(short, long, value_name = "SECONDS", default_value = "10", value_parser = parse_positive_secs)]
    duration: Duration,

    /// Seconds to run before measuring
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_secs)]
    warmup: Duration,

    /// Instead of ping-pong: stream BYTES (e.g. 256M) on one connection, verify, report MB/s
    #[arg(long, value_name = "BYTES", value_parser = size_in(1, u64::MAX),
          conflicts_with_all = ["connections", "size", "duration", "warmup", "threads"])]
    stream: Option<u64>,

    /// Open loop: RATE messages a second in all (5000, 10k, 1.5M), each sent at its time whether
    /// or not earlier echoes are back; latency counts from each message's scheduled time
    #[arg(long, value_name = "RATE", value_parser = parse_rate, conflicts_with = "stream")]
    rate: Option<f64>,

    /// Datagrams instead, with --rate: -c sockets, -s bytes each; lost, late, duplicated,
    /// reordered and altered echoes are counted
    #[arg(short, long, conflicts_with = "stream")]
    udp: bool,

    /// Event-loop threads driving the connections (1 leaves the other cores to a local server)
    #[arg(short, long, value_name = "N", default_value_t = 1,
          value_parser = whole_in(1, 256))]
    threads: u64,

    /// Print the report as one JSON object on standard output
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    exports: BenchExports,
}

/// What the command line asks soc_client to do.
#[derive(Debug)]
pub struct ClientRequest {
    /// The server's host, as given (a name, an address, `[::1]`).
    pub host: String,
    pub port: u16,
    pub connect_timeout: Limit,
    pub verbosity: Verbosity,
    pub transport: Transport,
    pub mode: ClientMode,
}

/// How the interactive, piped and one-line modes reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    /// `-u`; piped input goes out in datagrams of at most this many bytes.
    Udp {
        datagram_size: usize,
    },
}

/// The client's modes, each with its library options.
#[derive(Debug)]
pub enum ClientMode {
    /// No subcommand and no `-m`: an interactive session on a terminal, piped mode otherwise.
    Session { timeout: Limit },
    /// `-m TEXT`.
    Message(MessageOptions),
    /// `ping`.
    Ping {
        probes: Probes,
        shown: Shown,
        exports: ExportFiles,
    },
    /// `bench`.
    Bench {
        workload: Workload,
        json: bool,
        exports: ExportFiles,
    },
}

/// What `ping` sends.
#[derive(Debug)]
pub enum Probes {
    /// Echo probes over one connection.
    Echo(PingOptions),
    /// New connections (`--connect`).
    Connect(ConnectOptions),
    /// Datagrams (`-u`).
    Udp(UdpPingOptions),
}

/// What `ping` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// A line per probe, then the summary.
    Everything,
    /// The summary only (`-q`, as ping(8)'s).
    Summary,
    /// The summary only, as JSON (`--json`).
    Json,
}

/// Which load `bench` makes.
#[derive(Debug)]
pub enum Workload {
    PingPong(PingPongOptions),
    Stream(StreamOptions),
    Rate(RateOptions),
    /// `-u --rate`.
    UdpRate(UdpRateOptions),
}

impl Workload {
    /// How long the run was asked to measure (a stream runs until its bytes are back).
    pub fn duration(&self) -> Option<Duration> {
        match self {
            Workload::PingPong(options) => Some(options.duration),
            Workload::Rate(options) => Some(options.duration),
            Workload::UdpRate(options) => Some(options.duration),
            Workload::Stream(_) => None,
        }
    }
}

/// Said under every `--help` that has a size or a rate: what the suffixes mean.
const UNITS: &str = concat!(
    "Sizes take K, M, G (or KiB, MiB, GiB: 1024-based) or kB, MB, GB (1000-based): 64K, 1.5G. ",
    "Rates take k and M (1000-based): 10k. Throughput is reported in MB/s (10^6 bytes a second)."
);

/// The subcommands, for telling a mistyped one from a host name.
const SUBCOMMANDS: [&str; 2] = ["ping", "bench"];

/// The first free word of the command line (where HOST or a subcommand goes), when it is not a
/// subcommand but looks like a mistyped one (`pnig`, `benchmark`): then it is one, not a host.
/// Options are stepped over with their values, which `command` knows.
fn subcommand_typo(command: &clap::Command, words: &[String]) -> Option<(String, &'static str)> {
    let takes_value = |matches: &dyn Fn(&clap::Arg) -> bool| {
        command
            .get_arguments()
            .any(|arg| matches(arg) && arg.get_action().takes_values())
    };
    let mut words = words.iter().skip(1);
    while let Some(word) = words.next() {
        if word == "--" {
            return None;
        }
        if let Some(long) = word.strip_prefix("--") {
            if !long.contains('=') && takes_value(&|arg| arg.get_long() == Some(long)) {
                words.next();
            }
            continue;
        }
        let mut chars = word.chars();
        if chars.next() == Some('-') && word.len() > 1 {
            // `-p 8888` takes the next word; `-p8888` and `-vv` do not.
            let short = chars.next();
            if word.len() == 2 && takes_value(&|arg| arg.get_short() == short) {
                words.next();
            }
            continue;
        }
        let typed = word.to_ascii_lowercase();
        if SUBCOMMANDS.contains(&typed.as_str())
            || typed.contains(|c: char| c == '.' || c == ':' || c.is_ascii_digit())
        {
            return None;
        }
        return SUBCOMMANDS
            .into_iter()
            .find(|meant| {
                strsim::damerau_levenshtein(&typed, meant) <= 2 || typed.starts_with(meant)
            })
            .map(|meant| (word.clone(), meant));
    }
    None
}

/// clap's own error for an unknown subcommand, with its "did you mean", and the way to say that
/// the word really is a host.
fn subcommand_typo_error(typed: &str, meant: &str) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let mut command = Args::command();
    let mut err = clap::Error::new(ErrorKind::InvalidSubcommand).with_cmd(&command);
    err.insert(
        ContextKind::InvalidSubcommand,
        ContextValue::String(typed.to_string()),
    );
    err.insert(
        ContextKind::SuggestedSubcommand,
        ContextValue::String(meant.to_string()),
    );
    err.insert(
        ContextKind::Suggested,
        ContextValue::StyledStrs(vec![format!(
            "if '{typed}' is the server's host name, give it as --host {typed}"
        )
        .into()]),
    );
    err.insert(
        ContextKind::Usage,
        ContextValue::StyledStr(command.render_usage()),
    );
    err
}

/// The largest UDP payload over IPv4.
const MAX_DATAGRAM: usize = 65_507;

/// The largest message `ping` and `bench` send: 16 MiB.
const MAX_MESSAGE: u64 = 16 << 20;

impl ClientRequest {
    /// The request the command line makes; exits with a usage error (code 2), as clap does, when
    /// the words do not make one.
    pub fn from_command_line() -> ClientRequest {
        let words: Vec<String> = std::env::args_os()
            .map(|word| word.to_string_lossy().into_owned())
            .collect();
        if let Some((typed, meant)) = subcommand_typo(&Args::command(), &words) {
            subcommand_typo_error(&typed, meant).exit();
        }
        let mut args = Args::parse_from(&words);
        let usage_error = |message: String| -> ! {
            Args::command()
                .error(clap::error::ErrorKind::ArgumentConflict, message)
                .exit()
        };
        let after = match &mut args.command {
            Some(Command::Ping(ping)) => Some(&mut ping.endpoint),
            Some(Command::Bench(bench)) => Some(&mut bench.endpoint),
            None => None,
        };
        if let Some(after) = after {
            args.endpoint
                .also(after.target.take(), after.target_port.take())
                .unwrap_or_else(|err| usage_error(err));
        }
        if args.message.is_some() && args.command.is_some() {
            usage_error("-m/--message cannot be used with a subcommand".into());
        }
        let udp = args.udp;
        let transport = match args.udp {
            true => Transport::Udp {
                datagram_size: args.size as usize,
            },
            false => Transport::Tcp,
        };
        let (host, port) = args
            .endpoint
            .resolve()
            .unwrap_or_else(|err| usage_error(err));
        let timeout = args.timeout;
        let measuring_udp = match &args.command {
            Some(Command::Ping(ping)) => udp || ping.udp,
            Some(Command::Bench(bench)) => udp || bench.udp,
            None => false,
        };
        if measuring_udp && timeout.as_option().is_none() {
            usage_error(
                "--timeout 0 does not go with -u: a datagram may never come back, and the \
                 timeout is when it is counted lost"
                    .into(),
            );
        }
        let mode = match (args.command, args.message) {
            (Some(Command::Ping(ping)), _) => {
                // `soc_client -u ping` means `soc_client ping -u`.
                let udp = udp || ping.udp;
                if udp && ping.connect {
                    usage_error("--connect times TCP handshakes: it does not go with -u".into());
                }
                if udp && (ping.size as usize) < STAMP_BYTES {
                    usage_error(format!(
                        "-s {}: a UDP probe needs at least {STAMP_BYTES} bytes, for its sequence \
                         number and send time",
                        ping.size
                    ));
                }
                let exports = ExportFiles {
                    hgrm: ping.exports.hgrm,
                    hlog: None,
                    plot: ping.exports.plot,
                };
                let intervals = exports.need_intervals();
                ClientMode::Ping {
                    probes: match (ping.connect, udp) {
                        (true, _) => Probes::Connect(ConnectOptions {
                            count: ping.count,
                            interval: ping.interval,
                            intervals,
                        }),
                        (false, true) => Probes::Udp(UdpPingOptions {
                            count: ping.count,
                            interval: ping.interval,
                            size: ping.size as usize,
                            timeout,
                            intervals,
                        }),
                        (false, false) => Probes::Echo(PingOptions {
                            count: ping.count,
                            interval: ping.interval,
                            size: ping.size as usize,
                            timeout,
                            intervals,
                        }),
                    },
                    // `ping -q`, as ping(8)'s: the summary only (and, as everywhere, quiet
                    // logging).
                    shown: match (ping.json, args.verbosity.quiet) {
                        (true, _) => Shown::Json,
                        (false, true) => Shown::Summary,
                        (false, false) => Shown::Everything,
                    },
                    exports,
                }
            }
            (Some(Command::Bench(bench)), _) => {
                let exports = ExportFiles {
                    hgrm: bench.exports.hgrm,
                    hlog: bench.exports.hlog,
                    plot: bench.exports.plot,
                };
                let intervals = exports.need_intervals();
                let udp = udp || bench.udp;
                if udp && bench.rate.is_none() {
                    usage_error(
                        "bench -u needs --rate RATE: closed-loop UDP makes no sense, as one lost \
                         datagram would stall its socket for the whole --timeout"
                            .into(),
                    );
                }
                if udp && !(SEQ_BYTES..=MAX_DATAGRAM).contains(&(bench.size as usize)) {
                    usage_error(format!(
                        "-s {}: a UDP datagram here is {SEQ_BYTES} bytes at least (its sequence \
                         number) and {MAX_DATAGRAM} at most",
                        bench.size
                    ));
                }
                ClientMode::Bench {
                    workload: match (bench.stream, bench.rate) {
                        (Some(bytes), _) => Workload::Stream(StreamOptions { bytes, timeout }),
                        (None, Some(rate)) if udp => Workload::UdpRate(UdpRateOptions {
                            rate,
                            sockets: bench.connections as usize,
                            size: bench.size as usize,
                            duration: bench.duration,
                            warmup: bench.warmup,
                            timeout,
                            threads: bench.threads as usize,
                            intervals,
                        }),
                        (None, Some(rate)) => Workload::Rate(RateOptions {
                            rate,
                            connections: bench.connections as usize,
                            size: bench.size as usize,
                            duration: bench.duration,
                            warmup: bench.warmup,
                            timeout,
                            threads: bench.threads as usize,
                            intervals,
                        }),
                        (None, None) => Workload::PingPong(PingPongOptions {
                            connections: bench.connections as usize,
                            size: bench.size as usize,
                            duration: bench.duration,
                            warmup: bench.warmup,
                            timeout,
                            threads: bench.threads as usize,
                            intervals,
                        }),
                    },
                    json: bench.json,
                    exports,
                }
            }
            (None, Some(text)) => ClientMode::Message(MessageOptions { text, timeout }),
            (None, None) => ClientMode::Session { timeout },
        };
        ClientRequest {
            host,
            port,
            connect_timeout: args.connect_timeout,
            verbosity: args.verbosity,
            transport,
            mode,
        }
    }
}
