//! soc_server's command line: its flags, and the [`ServerRequest`] they amount to.

use clap::Parser;

use super::{parse_limit, server_flag, Verbosity};
use crate::limits::Limit;
use crate::server::ServerConfig;

/// Echo server (RFC 862): every byte a TCP client sends comes back, unchanged and in order; with
/// -u, every UDP datagram too, as one datagram to its sender.
///
/// Prints `listening on ADDR` on standard output, one line per address, once it accepts
/// connections (then `listening on udp ADDR` with -u); logs go to standard error. Stops cleanly on Ctrl-C (or SIGTERM, or Ctrl-Break on
/// Windows); a second one stops it at once.
#[derive(Debug, Parser)]
#[command(name = "soc_server", version)]
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
    #[arg(short, long, env = "SOC_PORT", default_value_t = 8888)]
    port: u16,

    /// Serve UDP echo as well, on every address and the same port: each datagram goes back to
    /// its sender as one datagram
    #[arg(short, long)]
    udp: bool,

    /// Most TCP clients served at once; more connections are accepted and closed at once (UDP
    /// has no connections, so no clients to count)
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_clients: u32,

    /// Disconnect a TCP client that sends nothing, or does not read its echo, for this long (0:
    /// never; UDP has no connection to end)
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = parse_limit)]
    idle_timeout: Limit,

    #[command(flatten)]
    verbosity: Verbosity,
}

/// What the command line asks soc_server to do.
#[derive(Debug)]
pub struct ServerRequest {
    /// Where to listen, in the order given.
    pub hosts: Vec<String>,
    pub port: u16,
    pub config: ServerConfig,
    pub verbosity: Verbosity,
}

impl ServerRequest {
    /// The request the command line makes; exits with a usage error (code 2) when it makes none.
    pub fn from_command_line() -> ServerRequest {
        let args = Args::parse();
        ServerRequest {
            hosts: args.hosts,
            port: args.port,
            config: ServerConfig {
                max_clients: args.max_clients as usize,
                idle_timeout: args.idle_timeout,
                udp: args.udp,
                names: server_flag,
                ..ServerConfig::default()
            },
            verbosity: args.verbosity,
        }
    }
}
