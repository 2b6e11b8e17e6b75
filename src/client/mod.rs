//! The client's modes, each a function of its own with an options struct of its own, all
//! starting from a [`Target`](crate::Target):
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
