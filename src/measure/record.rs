//! One probe's outcome as `monitor` and `ping --ndjson` record it: the same record for every kind
//! of probe, so that a script reads one shape whatever it watched.

use std::time::{Duration, SystemTime};

use super::connect::{ConnectOutcome, ConnectProbe};
use super::ping::{Probe, ProbeOutcome};
use super::udp_ping::UdpOutcome;
use crate::net::Marks;

/// How a probe went, in the words of the NDJSON `outcome` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Back intact within the timeout.
    Echoed,
    /// A handshake completed (`connect` probes).
    Connected,
    /// No whole echo within the timeout, or its connection broke.
    Lost,
    /// An echo that came after the timeout (the probe was counted lost first).
    Late,
    /// Another echo of a probe already answered.
    Duplicate,
    /// Back altered.
    Corrupted,
    /// A datagram that matches no probe sent.
    Stray,
    /// Refused: nothing listens there.
    Refused,
    /// No answer to a handshake within the timeout.
    TimedOut,
    /// The target's name does not resolve (yet).
    Unresolved,
    /// Anything else that kept the probe from going out or coming back.
    Failed,
}

impl Outcome {
    /// The word in the NDJSON record.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Echoed => "echoed",
            Outcome::Connected => "connected",
            Outcome::Lost => "lost",
            Outcome::Late => "late",
            Outcome::Duplicate => "duplicate",
            Outcome::Corrupted => "corrupted",
            Outcome::Stray => "stray",
            Outcome::Refused => "refused",
            Outcome::TimedOut => "timed_out",
            Outcome::Unresolved => "unresolved",
            Outcome::Failed => "failed",
        }
    }

    /// Whether the probe got its answer: the target is up.
    pub fn succeeded(self) -> bool {
        matches!(self, Outcome::Echoed | Outcome::Connected)
    }

    /// Whether this is the probe's own end (not a second event about an earlier probe, as a late
    /// or duplicate echo is, nor a stray datagram): what up and down are decided on.
    pub fn ends_a_probe(self) -> bool {
        !matches!(self, Outcome::Late | Outcome::Duplicate | Outcome::Stray)
    }
}

/// One probe's record.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRecord {
    /// When the outcome was known.
    pub time: SystemTime,
    /// The probe's number (0 for a stray datagram).
    pub seq: u64,
    pub outcome: Outcome,
    /// The round trip (or handshake), where there is one.
    pub rtt: Option<Duration>,
    /// An echo that came after a later probe's.
    pub out_of_order: bool,
    /// The marking a UDP echo came back with (`None` for other probes).
    pub marks: Option<Marks>,
}

impl ProbeRecord {
    /// A record made now.
    pub fn now(seq: u64, outcome: Outcome, rtt: Option<Duration>) -> ProbeRecord {
        ProbeRecord {
            time: SystemTime::now(),
            seq,
            outcome,
            rtt,
            out_of_order: false,
            marks: None,
        }
    }

    /// The record of a TCP ping probe.
    pub fn of_ping(probe: &Probe) -> ProbeRecord {
        let (outcome, rtt) = match &probe.outcome {
            ProbeOutcome::Echoed(rtt) => (Outcome::Echoed, Some(*rtt)),
            ProbeOutcome::Corrupted(rtt, _) => (Outcome::Corrupted, Some(*rtt)),
            ProbeOutcome::Lost(_) | ProbeOutcome::Broken(_) => (Outcome::Lost, None),
            ProbeOutcome::Unconnected(_) => (Outcome::Failed, None),
        };
        ProbeRecord::now(probe.seq, outcome, rtt)
    }

    /// The record of a UDP ping probe's event.
    pub fn of_udp(seq: u64, outcome: &UdpOutcome) -> ProbeRecord {
        let (kind, rtt, out_of_order, marks) = match *outcome {
            UdpOutcome::Echoed {
                rtt,
                out_of_order,
                marks,
            } => (Outcome::Echoed, Some(rtt), out_of_order, Some(marks)),
            UdpOutcome::Lost(_) => (Outcome::Lost, None, false, None),
            UdpOutcome::Late(after) => (Outcome::Late, Some(after), false, None),
            UdpOutcome::Duplicate(after) => (Outcome::Duplicate, Some(after), false, None),
            UdpOutcome::Corrupted(_) => (Outcome::Corrupted, None, false, None),
        };
        ProbeRecord {
            out_of_order,
            marks,
            ..ProbeRecord::now(seq, kind, rtt)
        }
    }

    /// The record of a connect probe.
    pub fn of_connect(probe: &ConnectProbe) -> ProbeRecord {
        let (outcome, rtt) = match &probe.outcome {
            ConnectOutcome::Connected(took) => (Outcome::Connected, Some(*took)),
            ConnectOutcome::Refused => (Outcome::Refused, None),
            ConnectOutcome::TimedOut(_) => (Outcome::TimedOut, None),
            ConnectOutcome::Failed(_) => (Outcome::Failed, None),
        };
        ProbeRecord::now(probe.seq, outcome, rtt)
    }
}
