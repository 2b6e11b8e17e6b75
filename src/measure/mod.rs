//! The measuring modes: `ping` and `bench`, a load generator you can trust.
//!
//! Measuring is kept apart from showing. The workloads run and produce result types:
//! - [`ping`]: probes over one connection, like ping(8), reported as they go;
//! - [`connect`]: the time of a TCP handshake, one new connection per probe;
//! - [`udp_ping`]: probes as datagrams: loss, lateness, duplicates, reordering and jitter;
//! - [`pingpong`]: closed-loop round trips on many connections, on a few event-loop threads;
//! - [`open_loop`]: open-loop load over TCP or UDP, every message at its scheduled time, free of
//!   coordinated omission, one loop for both;
//! - [`stream`]: one connection streaming verified pseudo-random bytes.
//!
//! [`report`] holds what they produce, [`tally`](self) how event loops accumulate it, and
//! `verdict.rs` whether a run can be trusted. [`output`] turns results into text and the live
//! progress line, [`export`] into files and machine formats. Nothing is trusted that is not
//! checked: every echoed byte is compared with what was sent.

pub mod connect;
pub mod export;
mod latency;
mod ledger;
mod load;
pub mod merge;
mod modes;
pub mod monitor;
pub mod open_loop;
pub mod output;
pub mod path;
pub mod ping;
pub mod pingpong;
pub mod record;
pub mod report;
mod schedule;
pub mod slo;
mod sockets;
pub mod stream;
mod tally;
pub mod udp_ping;
mod verdict;

use std::time::Duration;

pub use modes::{ProbeEvent, Probes, Workload};

/// What a running bench has done so far, about once a second, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct Tick {
    /// Since the run started, warm-up included.
    pub elapsed: Duration,
    /// Round trips completed so far, warm-up included.
    pub round_trips: u64,
    /// Errors counted so far.
    pub errors: u64,
    /// Whether the run is still warming up.
    pub warming_up: bool,
}
