//! soc: a TCP echo server and client (RFC 862) over blocking `std::net`, one thread per client.
//!
//! The shape is the classic teaching pair, `soc_server.py` and `soc_client.py`, with the details
//! that pair gets wrong done right. Everything that touches a socket lives in this library; the
//! two binaries in `src/bin/` only parse arguments, set up logging and call it.
//!
//! # Architecture
//!
//! **The server** ([`server`]): [`server::Server::bind`] resolves the host, creates the
//! listening socket (bind and listen are one step, see [`net::listen`]) and hands back a
//! [`server::Server`] whose [`server::Server::local_addr`] is the real address, port 0 included.
//! [`server::Server::run`] is the accept loop. The loop owns the listener; each accepted client
//! gets its own OS thread (small stack, one fixed buffer) that runs the echo loop until the peer
//! closes, goes idle, or the server shuts down. A [`server::ShutdownHandle`] (used by the
//! SIGINT/SIGTERM handler in [`signals`]) stops the accept loop, closes every client connection so
//! that each thread's blocking read returns, joins the threads and returns the final
//! [`server::StatsSnapshot`].
//!
//! **The echo loop** ([`echo`]): [`echo::echo_until_eof`] is the one place bytes are copied back:
//! read whatever arrived, write all of it back, repeat until end of stream. It never looks at the
//! bytes (no framing, no newline handling), so the echo is byte-transparent, and its memory is a
//! single fixed [`echo::EchoBuffer`] whatever the client sends.
//!
//! **The client** ([`client`]): [`client::connect`] resolves and connects with a timeout. Each
//! way of using the client is one function: [`client::interactive`] (a terminal session, line by
//! line), [`client::pipe`] (stream standard input through the server, sending and receiving at
//! once so that no input size can deadlock), [`client::message`] (a one-line health check),
//! [`ping`] (round-trip latency, like ping(8)) and [`bench`] (a closed-loop load generator).
//!
//! Errors: functions that a user's action can make fail return [`anyhow::Result`] with the
//! address and the step in the context; the byte loops return [`std::io::Result`]. Nothing panics
//! on I/O.
#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod client;
pub mod dump;
pub mod echo;
pub mod net;
pub mod pattern;
pub mod ping;
pub mod server;
pub mod signals;
