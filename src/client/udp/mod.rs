//! The client over UDP (`soc_client -u`, as netcat's): each datagram one message, each echo one
//! datagram back. What changes against TCP: message boundaries are kept (one send is one
//! receive), but a datagram can be lost, duplicated or overtaken, so every mode waits with a
//! timeout and says what did not come back.
//!
//! - [`interactive`]: each line one datagram, its echo printed; a lost one said so, a late one
//!   shown as late, for the line it belongs to.
//! - [`message`]: one datagram, sent again when no echo comes.
//! - [`pipe`]: standard input as datagrams, the echoes in order on standard output.
//!
//! The socket is connected (aimed at the server), so that where the system reports a closed
//! port (ICMP port unreachable) the client can say that nothing listens there, at once
//! (`net::datagram`).

mod interactive;
mod message;
mod pipe;

pub use interactive::interactive;
pub use message::message;
pub use pipe::{pipe, DatagramPipeOptions, DatagramPipeReport};
