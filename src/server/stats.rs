//! The server's counters: what the accept loops and the client threads count as they go, and the
//! copy of them that [`super::ServerProbe::stats`] and [`super::Server::run`] hand out.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::human::{bytes, plural};

/// Counters a running server keeps, each updated by whoever sees the event.
#[derive(Debug, Default)]
pub(super) struct Counters {
    served: AtomicU64,
    rejected: AtomicU64,
    rejected_per_source: AtomicU64,
    timed_out: AtomicU64,
    failed: AtomicU64,
    bytes_echoed: AtomicU64,
    denied: AtomicU64,
}

impl Counters {
    /// A client was admitted and handed to a thread.
    pub(super) fn served(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was closed at once because the server was full.
    pub(super) fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was closed at once because its source had every place it may have.
    pub(super) fn rejected_per_source(&self) {
        self.rejected_per_source.fetch_add(1, Ordering::Relaxed);
    }

    /// A client was disconnected by the idle timeout.
    pub(super) fn timed_out(&self) {
        self.timed_out.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was closed at once: its source is not allowed (`--allow`, `--deny`).
    pub(super) fn denied(&self) {
        self.denied.fetch_add(1, Ordering::Relaxed);
    }

    /// A client's connection ended with an error (a reset, a panic, no thread for it).
    pub(super) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes written back to a client.
    pub(super) fn echoed(&self, bytes: u64) {
        self.bytes_echoed.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The counters now, with `active` clients being served from `sources` sources (`None`
    /// without a per-source limit), and `datagrams` when the server serves UDP.
    pub(super) fn snapshot(
        &self,
        active: usize,
        sources: Option<usize>,
        datagrams: Option<&DatagramCounters>,
    ) -> StatsSnapshot {
        StatsSnapshot {
            active,
            sources: sources.unwrap_or(0),
            limited_per_source: sources.is_some(),
            served: self.served.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            rejected_per_source: self.rejected_per_source.load(Ordering::Relaxed),
            timed_out: self.timed_out.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            bytes_echoed: self.bytes_echoed.load(Ordering::Relaxed),
            denied: self.denied.load(Ordering::Relaxed),
            access_rules: false,
            udp: datagrams.map(DatagramCounters::snapshot),
        }
    }
}

/// Counters of the UDP echo, over all its sockets.
#[derive(Debug, Default)]
pub(super) struct DatagramCounters {
    echoed: AtomicU64,
    bytes: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    denied: AtomicU64,
    rate_limited: AtomicU64,
    /// Datagrams by the traffic-class byte they arrived with, under `--reflect-tos`.
    classes: Option<Box<[AtomicU64; 256]>>,
}

impl DatagramCounters {
    /// Counters that also count datagrams by the marking they arrived with.
    pub(super) fn counting_classes() -> DatagramCounters {
        DatagramCounters {
            classes: Some(Box::new(std::array::from_fn(|_| AtomicU64::new(0)))),
            ..DatagramCounters::default()
        }
    }

    /// A datagram arrived with the traffic-class byte `class`.
    pub(super) fn arrived_with(&self, class: u8) {
        if let Some(classes) = &self.classes {
            classes[usize::from(class)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A datagram was dropped: its source is not allowed.
    pub(super) fn denied(&self) {
        self.denied.fetch_add(1, Ordering::Relaxed);
    }

    /// A datagram was dropped: its source had its datagrams for this second.
    pub(super) fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// A datagram of `bytes` went back to its sender.
    pub(super) fn echoed(&self, bytes: u64) {
        self.echoed.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The datagram counted echoed could not be sent after all.
    pub(super) fn not_echoed(&self, bytes: u64) {
        self.echoed.fetch_sub(1, Ordering::Relaxed);
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// A datagram was refused: its source could start a loop between two services.
    pub(super) fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// A receive or a send failed.
    pub(super) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> DatagramStats {
        DatagramStats {
            echoed: self.echoed.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            denied: self.denied.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            sources_tracked: None,
            arrived_with: self.classes.as_ref().map(|classes| {
                (0..=255u8)
                    .map(|class| (class, classes[usize::from(class)].load(Ordering::Relaxed)))
                    .filter(|&(_, count)| count > 0)
                    .collect()
            }),
        }
    }
}

/// A copy of the UDP echo's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatagramStats {
    /// Datagrams sent back to their sender.
    pub echoed: u64,
    /// Bytes in them.
    pub bytes: u64,
    /// Datagrams not echoed because their source port could start an endless loop (0, a simple
    /// service's port, this echo's own).
    pub refused: u64,
    /// Receives and sends that failed.
    pub failed: u64,
    /// Datagrams dropped because their source is not allowed (`--allow`, `--deny`).
    pub denied: u64,
    /// Datagrams dropped because their source had its datagrams for the second
    /// (`--udp-rate-per-source`).
    pub rate_limited: u64,
    /// Sources whose allowance is being tracked, under `--udp-rate-per-source`.
    pub sources_tracked: Option<usize>,
    /// Datagrams by the traffic-class byte (DSCP and ECN) they arrived with, under
    /// `--reflect-tos` (where the system says it).
    pub arrived_with: Option<std::collections::BTreeMap<u8, u64>>,
}

/// A copy of the server's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Clients being served right now.
    pub active: usize,
    /// Clients that were served (admitted within the limit), the active ones included.
    pub served: u64,
    /// Connections closed at once because `max_clients` were being served.
    pub rejected: u64,
    /// Connections closed at once because their source had `max_per_source` clients served.
    pub rejected_per_source: u64,
    /// Sources with a client being served right now, under a per-source limit (the size of its
    /// table, which holds no source without a client).
    pub sources: usize,
    /// Whether the server has a per-source limit (without one, nothing is rejected per source,
    /// and the summary does not say so).
    pub limited_per_source: bool,
    /// Clients disconnected by the idle timeout.
    pub timed_out: u64,
    /// Clients whose connection ended with an error (a reset, a panic in their thread).
    pub failed: u64,
    /// Bytes echoed back, over all clients.
    pub bytes_echoed: u64,
    /// Connections closed at once because their source is not allowed (`--allow`, `--deny`).
    pub denied: u64,
    /// Whether the server has `--allow` or `--deny` rules (without, nothing is denied, and the
    /// summary does not say so).
    pub access_rules: bool,
    /// The UDP echo's counters, when the server serves UDP.
    pub udp: Option<DatagramStats>,
}

impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} served, {} rejected",
            plural(self.served, "client"),
            self.rejected
        )?;
        if self.limited_per_source {
            write!(f, ", {} rejected per source", self.rejected_per_source)?;
        }
        if self.access_rules {
            write!(f, ", {} denied", self.denied)?;
        }
        write!(
            f,
            ", {} timed out, {} failed, {} echoed",
            self.timed_out,
            self.failed,
            bytes(self.bytes_echoed)
        )?;
        if let Some(udp) = &self.udp {
            write!(
                f,
                "; udp: {} echoed ({}), {} refused as possible loops, {} failed",
                plural(udp.echoed, "datagram"),
                bytes(udp.bytes),
                udp.refused,
                udp.failed
            )?;
            if self.access_rules {
                write!(f, ", {} denied", udp.denied)?;
            }
            if udp.sources_tracked.is_some() {
                write!(f, ", {} over the rate per source", udp.rate_limited)?;
            }
            if let Some(classes) = &udp.arrived_with {
                write!(
                    f,
                    "; arrived marked {}",
                    crate::net::classes_counted(classes)
                )?;
            }
        }
        Ok(())
    }
}
