//! soc: an echo server and client (RFC 862) over blocking `std::net`, one thread per client.
//!
//! The shape is the classic teaching pair, `soc_server.py` and `soc_client.py`, with the details
//! that pair gets wrong done right. Everything that touches a socket lives in this library; the
//! two binaries in `src/bin/` parse arguments (with [`cli`]), set up logging and signals, and
//! call it.
//!
//! The map of the code (which file holds the accept loop, a client thread, the thread cache, each
//! client mode, bench's event loop, the OS seam) and the invariants a change must keep are in
//! `docs/architecture.md`.
//!
//! Errors: functions that a user's action can make fail return [`anyhow::Result`] with the
//! address and the step in the context; the byte loops report [`std::io::Error`]s. Nothing
//! panics on I/O.

// Only `sys`, the one seam to the operating system, may use `unsafe`.
#![deny(unsafe_code)]
#![warn(unreachable_pub)]

pub mod cli;
pub mod client;
mod dump;
mod echo;
mod human;
pub mod limits;
pub mod logging;
pub mod measure;
pub mod metrics;
mod net;
pub use net::{
    traffic_class_unsupported, Dscp, Ecn, Family, Fragmenting, Marks, NothingListening,
    PathOptions, Target,
};
pub mod server;
pub mod signals;
#[allow(unsafe_code)]
mod sys;
mod wire;
pub use wire::Pattern;
