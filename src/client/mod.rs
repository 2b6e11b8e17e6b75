//! The client's modes, each a function of its own with an options struct of its own, all
//! starting from a [`Target`]:
//!
//! - [`interactive`]: a terminal session, a prompt, one line at a time (the Python original).
//! - [`pipe`]: standard input streamed through the server to standard output, byte for byte.
//! - [`message`]: one line sent and checked, for health checks.
//!
//! [`udp`] has the same three modes over UDP. What they share with the measuring tools (reading
//! a reply whole, a datagram socket aimed at the server) is below both, in `net`.

mod interactive;
mod message;
mod pipe;
pub mod udp;

pub use interactive::{interactive, SessionOptions};
pub use message::{message, MessageOptions};
pub use pipe::{pipe, PipeOptions, PipeReport};

use std::io::{self, IsTerminal, Write};

use crate::limits::Limit;
use crate::net::Target;

/// How the interactive, piped and one-line modes reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    /// UDP (`-u`); piped input goes out in datagrams of at most this many bytes.
    Udp {
        datagram_size: usize,
    },
}

/// `soc_client` without a subcommand: an interactive session when standard input is a terminal,
/// the byte-exact pipe from standard input to standard output otherwise.
pub fn session(target: &Target, transport: Transport, timeout: Limit) -> anyhow::Result<()> {
    let (stdin, mut stdout) = (io::stdin(), io::stdout().lock());
    if !stdin.is_terminal() {
        return match transport {
            Transport::Tcp => pipe(target, &PipeOptions { timeout }, stdin, &mut stdout).map(drop),
            Transport::Udp { datagram_size } => {
                let options = udp::DatagramPipeOptions {
                    timeout,
                    size: datagram_size,
                };
                udp::pipe(target, &options, stdin, &mut stdout).map(drop)
            }
        };
    }
    let (options, keyboard) = (SessionOptions { timeout }, io::BufReader::new(stdin));
    let mut stderr = io::stderr();
    match transport {
        Transport::Tcp => interactive(target, &options, keyboard, &mut stdout, &mut stderr)
            // A line half typed when the server went away must not reach the shell.
            .inspect_err(|_| crate::sys::discard_pending_input()),
        Transport::Udp { .. } => {
            udp::interactive(target, &options, keyboard, &mut stdout, &mut stderr)
        }
    }
}

/// `soc_client -m TEXT`, over `transport`: the echo on `output`.
pub fn message_over(
    target: &Target,
    transport: Transport,
    options: &MessageOptions,
    output: &mut impl Write,
) -> anyhow::Result<()> {
    match transport {
        Transport::Tcp => message(target, options, output),
        Transport::Udp { .. } => udp::message(target, options, output),
    }
}
