//! soc_server's command line: its flags, and the [`ServerRequest`] they amount to.

use clap::{CommandFactory, Parser};

use ipnet::IpNet;

use super::{
    parse_limit, parse_listen_port, parse_socket_addr, server_flag, whole_in, Generate, Verbosity,
    DEFAULT_PORT,
};
use crate::limits::Limit;
use crate::server::{parse_range, Access, EchoMarking, ServerConfig};

/// Echo server (RFC 862): every byte a TCP client sends comes back, unchanged and in order; with
/// -u, every UDP datagram too, as one datagram to its sender.
///
/// Prints `listening on ADDR` on standard output, one line per address, once it accepts
/// connections (then `listening on udp ADDR` with -u); logs go to standard error. Stops cleanly on Ctrl-C (or SIGTERM, or Ctrl-Break on
/// Windows); a second one stops it at once.
#[derive(Debug, Parser)]
// Negative numbers are values (and then invalid ones), not unknown flags.
#[command(name = "soc_server", version, allow_negative_numbers = true)]
struct Args {
    /// Address or host name to listen on; a name is listened on at every address it resolves
    /// to, the option may be repeated, and `::` takes IPv4 clients too
    #[arg(
        long = "host",
        value_name = "HOST",
        env = "SOC_HOST",
        default_value = "127.0.0.1"
    )]
    hosts: Vec<String>,

    /// Port (0 lets the operating system choose one; with -u, UDP takes the same number)
    /// [default: 8888, or $SOC_PORT]
    #[arg(short, long, value_parser = parse_listen_port)]
    port: Option<u16>,

    /// Serve UDP echo as well, on every address and the same port: each datagram goes back to
    /// its sender as one datagram
    #[arg(short, long)]
    udp: bool,

    /// Most TCP clients served at once; more connections are accepted and closed at once (UDP
    /// has no connections, so no clients to count)
    #[arg(long, value_name = "N", default_value = "1024",
          value_parser = whole_in(1, u32::MAX.into()))]
    max_clients: u64,

    /// Most TCP clients served at once from one source, so that one host cannot take every
    /// place: a source is an IPv4 address (an IPv4-mapped IPv6 address counts as its IPv4
    /// address) or an IPv6 /64, which one host normally holds whole; more connections from it
    /// are accepted and closed at once [default: no limit]
    #[arg(long, value_name = "N", value_parser = whole_in(1, u32::MAX.into()))]
    max_per_source: Option<u64>,

    /// Serve metrics for Prometheus at http://ADDR/metrics (port 0: any free one, said after the
    /// listening lines)
    #[arg(long, value_name = "ADDR", value_parser = parse_socket_addr)]
    metrics: Option<std::net::SocketAddr>,

    /// Disconnect a TCP client that sends nothing, or does not read its echo, for this long (0:
    /// never; UDP has no connection to end)
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = parse_limit)]
    idle_timeout: Limit,

    /// Serve only clients and datagrams from this address range (10.0.0.0/8, ::1, 192.0.2.7);
    /// may be repeated. Others are closed at once, or their datagrams dropped
    #[arg(long, value_name = "CIDR", value_parser = parse_range, help_heading = "Access")]
    allow: Vec<IpNet>,

    /// Serve nothing from this address range, even within an --allow one; may be repeated
    #[arg(long, value_name = "CIDR", value_parser = parse_range, help_heading = "Access")]
    deny: Vec<IpNet>,

    /// UDP echo (-u, or datagram sockets handed over): echo at most N datagrams a second to one
    /// source address (bursts of up to N),
    /// dropping the rest, so that a forged source cannot turn the service into an amplifier
    /// aimed at someone else [default: no limit]
    #[arg(long, value_name = "N", help_heading = "Access",
          value_parser = whole_in(1, u32::MAX.into()))]
    udp_rate_per_source: Option<u64>,

    /// UDP echo: each echo leaves with the DSCP and ECN its datagram arrived with, so that the
    /// marking a client gets back tells what the whole round trip kept (without: the server's
    /// own); the summary counts datagrams by the marking they arrived with
    #[arg(long, help_heading = "Access")]
    reflect_tos: bool,

    /// Serve the one TCP connection on standard input and output, then exit: for inetd,
    /// xinetd, tcpsvd or systemd's Accept=yes, which accept it and start soc_server for it
    /// (Unix only; the limits on clients are then the super-server's)
    #[arg(long, conflicts_with_all = ["udp", "metrics", "port"],
          help_heading = "Service")]
    inetd: bool,

    /// Write soc_server's manual page (man) or a shell's completions to standard output, then
    /// exit
    #[arg(long, value_name = "KIND", help_heading = "Service")]
    generate: Option<Generate>,

    #[command(flatten)]
    verbosity: Verbosity,
}

/// What the command line asks soc_server to do.
#[derive(Debug)]
pub enum ServerCommand {
    /// Listen and serve until stopped.
    Serve(ServerRequest),
    /// Serve the one connection on standard input and output (`--inetd`).
    Inetd(ServerRequest),
    /// Write a manual page or completions (`--generate`).
    Generate(Generate),
}

/// soc_server's whole command line, for `--generate`.
pub fn command() -> clap::Command {
    Args::command()
}

/// How soc_server is to serve.
#[derive(Debug)]
pub struct ServerRequest {
    /// Where to listen, in the order given.
    pub hosts: Vec<String>,
    pub port: u16,
    pub config: ServerConfig,
    /// Where to serve metrics, if asked.
    pub metrics: Option<std::net::SocketAddr>,
    pub verbosity: Verbosity,
}

impl ServerCommand {
    /// What the command line asks; exits with a usage error (code 2) when it asks nothing that
    /// makes sense.
    pub fn from_command_line() -> ServerCommand {
        let args = Args::parse();
        if let Some(kind) = args.generate {
            return ServerCommand::Generate(kind);
        }
        if let Some(why) = crate::net::traffic_class_unsupported().filter(|_| args.reflect_tos) {
            Args::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("--reflect-tos is not available on this system: {why}"),
                )
                .exit()
        }
        let port = match args.port {
            Some(port) => port,
            None => match std::env::var("SOC_PORT") {
                // Named as the variable: the user never typed --port.
                Ok(text) => parse_listen_port(&text).unwrap_or_else(|err| {
                    Args::command()
                        .error(
                            clap::error::ErrorKind::ValueValidation,
                            format!("SOC_PORT={text:?} in the environment: {err}"),
                        )
                        .exit()
                }),
                Err(_) => DEFAULT_PORT,
            },
        };
        let inetd = args.inetd;
        let request = ServerRequest {
            hosts: args.hosts,
            port,
            config: ServerConfig {
                max_clients: args.max_clients as usize,
                max_per_source: args.max_per_source.map(|max| max as usize),
                idle_timeout: args.idle_timeout,
                udp: args.udp,
                access: Access::new(args.allow, args.deny),
                udp_rate_per_source: args.udp_rate_per_source.map(|rate| rate as u32),
                udp_marking: match args.reflect_tos {
                    true => EchoMarking::Reflected,
                    false => EchoMarking::ServerDefault,
                },
                names: server_flag,
                ..ServerConfig::default()
            },
            metrics: args.metrics,
            verbosity: args.verbosity,
        };
        match inetd {
            true => ServerCommand::Inetd(request),
            false => ServerCommand::Serve(request),
        }
    }
}
