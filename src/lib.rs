//! soc: a TCP echo server and client (RFC 862) over blocking `std::net`, one thread per client.
//!
//! The shape is the classic teaching pair, `soc_server.py` and `soc_client.py`, with the details
//! that pair gets wrong done right. Everything that touches a socket lives in this library; the
//! two binaries in `src/bin/` only parse arguments, set up logging and signals, and call it.
//!
//! # Architecture
//!
//! **The server** ([`server`]). [`server::Server::bind`] resolves the host and creates the
//! listening socket ([`net::listen`]: Python's `socket()`, `bind()` and `listen()` in one call),
//! and hands back a [`server::Server`] whose [`server::Server::local_addr`] is the real address,
//! port 0 included. [`server::Server::run`] runs one accept loop per listening address (usually
//! one); only accept loops create client threads: each takes a place under the client limit and
//! spawns one OS thread per accepted client (a small stack, one bounded buffer). Each client thread runs the echo loop
//! until the peer closes, goes idle, or the server shuts down, and a guard takes it out of the
//! counters and the registry however it ends. A [`server::ShutdownHandle`], which the
//! Ctrl-C handler in [`signals`] calls, stops the accept loop (waking it with one connection to
//! its own listener, which works on every system), ends every client connection so that each
//! blocked thread returns ([`sys::interrupt`]), joins the threads and returns the final
//! [`server::StatsSnapshot`].
//!
//! **The echo loop** ([`echo`]). [`echo::echo_until_eof`] is the one place bytes are copied
//! back: read whatever arrived, write all of it back, repeat until end of stream. It never looks
//! at the bytes (no framing, no newline handling, no decoding), so the echo is byte-transparent,
//! and its memory is one [`echo::EchoBuffer`] of at most 64 KiB, whatever the client sends.
//! At trace level ([`dump`]) each chunk is logged as a hex dump on standard error.
//!
//! **The client** ([`client`]). [`client::connect`] resolves and connects with a timeout. Each
//! way of using the client is one function: [`client::interactive`] (a terminal session, line by
//! line), [`client::pipe`] (standard input streamed through the server, sending and receiving on
//! two threads so that no input size can deadlock), [`client::message`] (a one-line health
//! check), [`ping`] (round-trip latency, like ping(8)) and [`mod@bench`] (a verifying load
//! generator). Every reply is read until as many bytes as were sent have come back
//! ([`client::read_full`]): one `send()` is not one `recv()`.
//!
//! **Support.** [`net`] holds address resolution, the listening socket and connecting; [`cli`]
//! the options both binaries share; [`pattern`] reproducible pseudo-random payloads that are
//! checked on the way back without keeping a copy; [`signals`] the stop requests of Ctrl-C;
//! [`sys`] everything that differs between Linux, macOS and Windows, and the only `unsafe`.
//!
//! Errors: functions that a user's action can make fail return [`anyhow::Result`] with the
//! address and the step in the context; the byte loops report [`std::io::Error`]s. Nothing
//! panics on I/O.
#![warn(missing_docs)]
// Only `sys`, the one seam to the operating system, may use `unsafe`.
#![deny(unsafe_code)]

pub mod bench;
pub mod cli;
pub mod client;
pub mod dump;
pub mod echo;
pub mod human;
pub mod limits;
pub mod logging;
pub mod net;
pub mod pattern;
pub mod ping;
pub mod server;
pub mod signals;
#[allow(unsafe_code)]
pub mod sys;
