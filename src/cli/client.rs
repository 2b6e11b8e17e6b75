//! soc_client's command line: its flags, and the [`ClientRequest`] they amount to.

use std::time::Duration;

use clap::{Args as ClapArgs, CommandFactory, Parser, Subcommand};

use super::{
    parse_limit, parse_positive_bytes, parse_positive_secs, parse_secs, Endpoint, Verbosity,
};
use crate::client::MessageOptions;
use crate::limits::Limit;
use crate::measure::ping::PingOptions;
use crate::measure::pingpong::PingPongOptions;
use crate::measure::stream::StreamOptions;

/// TCP echo client: sends lines or bytes to an echo server and prints what comes back.
///
/// On a terminal it is an interactive session (`exit`, `quit` or Ctrl-D to leave). With standard
/// input from a pipe or file it streams it through the server to standard output, byte for byte,
/// and exits 0 only if exactly the bytes sent came back.
///
/// Exit codes: 0 success, 1 failure (connection, timeout, echo differs or lost), 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "soc_client", version)]
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
    /// is not read)
    #[arg(short, long, value_name = "TEXT")]
    message: Option<String>,

    #[command(flatten)]
    verbosity: Verbosity,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure round-trip time over one connection, like ping(8); Ctrl-C prints the summary,
    /// -q prints only the summary
    Ping(PingArgs),
    /// Load the server with closed-loop round trips (or one verified stream) and report
    Bench(BenchArgs),
}

#[derive(Debug, ClapArgs)]
struct PingArgs {
    /// Stop after COUNT probes (default: until Ctrl-C)
    #[arg(short, long, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,

    /// Seconds from one probe to the next
    #[arg(short, long, value_name = "SECS", default_value = "1", value_parser = parse_secs)]
    interval: Duration,

    /// Payload bytes per probe
    #[arg(short, long, value_name = "SIZE", default_value_t = 56,
          value_parser = clap::value_parser!(u32).range(1..=16 * 1024 * 1024))]
    size: u32,
}

#[derive(Debug, ClapArgs)]
struct BenchArgs {
    /// Connections, each with one message in flight
    #[arg(short, long, value_name = "CONNECTIONS", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    connections: u32,

    /// Bytes per message
    #[arg(short, long, value_name = "SIZE", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=16 * 1024 * 1024))]
    size: u32,

    /// Seconds to measure (more than 0)
    #[arg(short, long, value_name = "SECONDS", default_value = "10", value_parser = parse_positive_secs)]
    duration: Duration,

    /// Seconds to run before measuring
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_secs)]
    warmup: Duration,

    /// Instead of ping-pong: stream BYTES (e.g. 256M) on one connection, verify, report MB/s
    #[arg(long, value_name = "BYTES", value_parser = parse_positive_bytes)]
    stream: Option<u64>,

    /// Event-loop threads driving the connections (1 leaves the other cores to a local server)
    #[arg(short, long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: u32,

    /// Print the report as one JSON object on standard output
    #[arg(long)]
    json: bool,
}

/// What the command line asks soc_client to do.
#[derive(Debug)]
pub struct ClientRequest {
    /// The server's host, as given (a name, an address, `[::1]`).
    pub host: String,
    pub port: u16,
    pub connect_timeout: Limit,
    pub verbosity: Verbosity,
    pub mode: ClientMode,
}

/// The client's modes, each with its library options.
#[derive(Debug)]
pub enum ClientMode {
    /// No subcommand and no `-m`: an interactive session on a terminal, piped mode otherwise.
    Session { timeout: Limit },
    /// `-m TEXT`.
    Message(MessageOptions),
    /// `ping`; with `-q` only the summary is printed.
    Ping {
        options: PingOptions,
        summary_only: bool,
    },
    /// `bench`.
    Bench { workload: Workload, json: bool },
}

/// Which load `bench` makes.
#[derive(Debug)]
pub enum Workload {
    PingPong(PingPongOptions),
    Stream(StreamOptions),
}

impl ClientRequest {
    /// The request the command line makes; exits with a usage error (code 2), as clap does, when
    /// the words do not make one.
    pub fn from_command_line() -> ClientRequest {
        let args = Args::parse();
        let usage_error = |message: String| -> ! {
            Args::command()
                .error(clap::error::ErrorKind::ArgumentConflict, message)
                .exit()
        };
        if args.message.is_some() && args.command.is_some() {
            usage_error("-m/--message cannot be used with a subcommand".into());
        }
        let (host, port) = args
            .endpoint
            .resolve()
            .unwrap_or_else(|err| usage_error(err));
        let timeout = args.timeout;
        let mode = match (args.command, args.message) {
            (Some(Command::Ping(ping)), _) => ClientMode::Ping {
                options: PingOptions {
                    count: ping.count,
                    interval: ping.interval,
                    size: ping.size as usize,
                    timeout,
                },
                // `ping -q`, as ping(8)'s: the summary only (and, as everywhere, quiet logging).
                summary_only: args.verbosity.quiet,
            },
            (Some(Command::Bench(bench)), _) => ClientMode::Bench {
                workload: match bench.stream {
                    Some(bytes) => Workload::Stream(StreamOptions { bytes, timeout }),
                    None => Workload::PingPong(PingPongOptions {
                        connections: bench.connections as usize,
                        size: bench.size as usize,
                        duration: bench.duration,
                        warmup: bench.warmup,
                        timeout,
                        threads: bench.threads as usize,
                    }),
                },
                json: bench.json,
            },
            (None, Some(text)) => ClientMode::Message(MessageOptions { text, timeout }),
            (None, None) => ClientMode::Session { timeout },
        };
        ClientRequest {
            host,
            port,
            connect_timeout: args.connect_timeout,
            verbosity: args.verbosity,
            mode,
        }
    }
}
