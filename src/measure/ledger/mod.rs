//! The UDP ledger: the one place that decides what became of each datagram a flow sent, and
//! counts it. `ping -u`, `bench -u --rate` and `monitor`'s UDP targets all keep one per socket,
//! so the same echoes in the same order give the same counts whichever mode saw them.
//!
//! A datagram sent is awaited until its echo comes or its timeout passes. Then:
//! - echoed: its echo came intact within the timeout; out of order too, when a later datagram's
//!   echo came first (still echoed);
//! - lost: no echo within the timeout; and late, instead of lost, if its echo comes after all;
//! - duplicate: a second (or later) echo of a datagram already answered;
//! - corrupted: an echo whose bytes differ from the datagram's, and (counted with them) a
//!   datagram that matches nothing sent.
//!
//! Jitter is RFC 3550's (§6.4.1): over the echoes counted as echoed, in the order they arrived,
//! J += (|D| − J) / 16, D being the change in transit time (here the round trip) from one arrival
//! to the next. Unlike mdev (the round trips' spread around their mean) it follows how much each
//! echo's delay differs from the one before: what a stream of packets feels.

use std::collections::{BTreeSet, VecDeque};
use std::ops::Range;
use std::time::{Duration, Instant};

mod jitter;

pub(crate) use jitter::Jitter;

use super::path::PathSeen;
use super::report::DatagramCounts;
use crate::net::Marks;
use crate::wire::{Layout, Message};

/// How long a decided record is kept after the datagram was sent, in timeouts: an echo within
/// that time is placed by its record; for an older one, see [`Ledger::receive`].
const REMEMBERED_TIMEOUTS: u32 = 2;

/// How many lost datagrams are remembered, by number alone, once their records are forgotten:
/// so that a very late echo of one is told from a duplicate of a datagram answered long ago,
/// and memory stays bounded however much is lost.
const LOST_REMEMBERED: usize = 65_536;

/// What became of a datagram, or what an arriving datagram turned out to be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fate {
    /// Back intact within the timeout after `rtt`; `out_of_order` when a later datagram's echo
    /// came first.
    Echoed {
        seq: u64,
        rtt: Duration,
        out_of_order: bool,
        /// The marking it came back with.
        marks: Marks,
    },
    /// No echo within the timeout (so far).
    Lost { seq: u64 },
    /// An echo past the timeout, this long after the datagram was sent (when that is known).
    Late { seq: u64, after: Option<Duration> },
    /// Another echo of a datagram already answered, this long after it was sent (when that is
    /// known).
    Duplicate { seq: u64, after: Option<Duration> },
    /// An echo of datagram `seq` with this many bytes altered.
    Corrupted { seq: u64, differing: usize },
    /// A datagram of this many bytes that matches nothing sent.
    Stray { bytes: usize },
}

/// What is known of one datagram sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Awaited,
    Echoed,
    /// Counted lost; it may still turn late.
    Lost,
    Late,
    Corrupted,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    sent_at: Instant,
    /// The send time the datagram carries ([`Layout::Timed`]), to check its echo's against.
    stamped: u64,
    state: State,
}

/// One flow's datagrams: how they are made, what became of each, and the counts.
pub(crate) struct Ledger {
    message: Message,
    layout: Layout,
    timeout: Duration,
    /// What the send times datagrams carry count from ([`Layout::Timed`]).
    epoch: Instant,
    /// Records of datagrams `base..next`, the oldest first.
    records: VecDeque<Record>,
    base: u64,
    /// Datagrams below `base` that were lost, as far back as [`LOST_REMEMBERED`] of them go.
    lost_long_ago: BTreeSet<u64>,
    /// Below this, not even whether a datagram was lost is remembered.
    remembered_from: u64,
    next: u64,
    /// Datagrams below this one are past their timeout.
    expired: u64,
    /// Datagrams sent and still awaited.
    awaited: u64,
    /// The highest sequence number echoed so far: an echo below it came out of order.
    highest_echoed: Option<u64>,
    /// The datagrams whose fate is counted (a run's measured ones); all by default.
    counted: Range<u64>,
    counts: DatagramCounts,
    jitter: Jitter,
    /// The marking the counted echoes came back with.
    path: PathSeen,
}

impl Ledger {
    /// A ledger for a flow whose datagrams are `message`s of `layout`, numbered from `first`,
    /// each lost if no echo comes within `timeout`.
    pub(crate) fn new(layout: Layout, message: Message, first: u64, timeout: Duration) -> Ledger {
        Ledger {
            message,
            layout,
            timeout,
            epoch: Instant::now(),
            records: VecDeque::new(),
            base: first,
            lost_long_ago: BTreeSet::new(),
            remembered_from: first,
            next: first,
            expired: first,
            awaited: 0,
            highest_echoed: None,
            counted: 0..u64::MAX,
            counts: DatagramCounts::default(),
            jitter: Jitter::default(),
            path: PathSeen::default(),
        }
    }

    /// Counts only the fate of datagrams numbered in `range` (an open-loop run's measured ones).
    pub(crate) fn count_only(&mut self, range: Range<u64>) {
        self.counted = range;
    }

    /// The next datagram's bytes, to be sent at `at` (the time it carries, [`Layout::Timed`]); it
    /// is in the ledger once [`Ledger::sent`] says it went.
    pub(crate) fn next_datagram(&mut self, at: Instant) -> &[u8] {
        let stamped = self.stamp_of(at);
        self.message.stamped(self.next, stamped)
    }

    /// The send time a datagram sent at `at` carries: nanoseconds since the ledger began.
    fn stamp_of(&self, at: Instant) -> u64 {
        super::tally::nanos(at.saturating_duration_since(self.epoch))
    }

    /// The next datagram's sequence number.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next
    }

    /// Records the datagram from [`Ledger::next_datagram`] as sent at `at`; returns its number.
    /// A datagram the system would not send is recorded too: it is lost on the way.
    pub(crate) fn sent(&mut self, at: Instant) -> u64 {
        let seq = self.next;
        self.records.push_back(Record {
            sent_at: at,
            stamped: self.stamp_of(at),
            state: State::Awaited,
        });
        self.next += 1;
        self.awaited += 1;
        if self.counted.contains(&seq) {
            self.counts.sent += 1;
        }
        seq
    }

    /// Whether any datagram sent is still awaited: neither answered nor past its timeout.
    pub(crate) fn awaiting(&self) -> bool {
        self.awaited > 0
    }

    /// When the next datagram's timeout passes, if one is awaited or may be.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        let record = self.records.get((self.expired - self.base) as usize)?;
        Some(record.sent_at + self.timeout)
    }

    /// The counts so far.
    pub(crate) fn counts(&self) -> DatagramCounts {
        self.counts
    }

    /// RFC 3550's jitter over the echoes so far, in milliseconds (two at least).
    pub(crate) fn jitter_ms(&self) -> Option<f64> {
        self.jitter.estimate_ms()
    }

    /// Declares lost every datagram still awaited whose timeout has passed by `now` (each told to
    /// `on_fate`), and forgets the records no echo can change any more.
    pub(crate) fn expire(&mut self, now: Instant, mut on_fate: impl FnMut(Fate)) {
        // Records are in the order sent: those past their timeout are the oldest, and those below
        // `expired` were seen to already.
        while let Some(record) = self.records.get_mut((self.expired - self.base) as usize) {
            if now.saturating_duration_since(record.sent_at) <= self.timeout {
                break;
            }
            let seq = self.expired;
            if record.state == State::Awaited {
                record.state = State::Lost;
                self.awaited -= 1;
                if self.counted.contains(&seq) {
                    self.counts.lost += 1;
                }
                on_fate(Fate::Lost { seq });
            }
            self.expired += 1;
        }
        let forget_after = self.timeout * REMEMBERED_TIMEOUTS;
        while self.base < self.expired
            && self
                .records
                .front()
                .is_some_and(|record| now.saturating_duration_since(record.sent_at) > forget_after)
        {
            let forgotten = self.records.pop_front().map(|record| record.state);
            if forgotten == Some(State::Lost) {
                self.lost_long_ago.insert(self.base);
                if self.lost_long_ago.len() > LOST_REMEMBERED {
                    let oldest = self.lost_long_ago.pop_first().unwrap_or(self.base);
                    self.remembered_from = oldest + 1;
                }
            }
            self.base += 1;
        }
    }

    /// The marking the counted echoes came back with.
    pub(crate) fn path_seen(&self) -> &PathSeen {
        &self.path
    }

    /// Decides what an arriving `datagram` (which arrived with `marks`) is, counts it and
    /// returns it.
    pub(crate) fn receive(&mut self, datagram: &[u8], arrived: Instant, marks: Marks) -> Fate {
        let stamp = match self.layout.read(datagram) {
            Some(stamp) if stamp.seq < self.next => stamp,
            _ => return self.stray(datagram.len()),
        };
        let seq = stamp.seq;
        let counted = self.counted.contains(&seq);
        let altered = self.message.altered(datagram);
        let Some(index) = seq.checked_sub(self.base) else {
            // A probe says when it was sent: how late its echo is can still be told.
            let after = stamp.sent.and_then(|sent| {
                let sent_at = self.epoch + Duration::from_nanos(sent);
                (sent_at <= arrived).then(|| arrived - sent_at)
            });
            return self.receive_forgotten(seq, altered, after);
        };
        let record = &mut self.records[index as usize];
        let after = arrived.saturating_duration_since(record.sent_at);
        let differing = match stamp.sent {
            Some(sent) if sent != record.stamped => altered.max(1),
            _ => altered,
        };
        let state = record.state;
        let mut count = DatagramCounts::default();
        let fate = match state {
            _ if differing > 0 => {
                count.corrupted = 1;
                if matches!(state, State::Awaited | State::Lost) {
                    record.state = State::Corrupted;
                }
                Fate::Corrupted { seq, differing }
            }
            // Past the timeout, before a look at the records declared it lost: late all the same.
            State::Awaited if after > self.timeout => {
                record.state = State::Late;
                count.late = 1;
                Fate::Late {
                    seq,
                    after: Some(after),
                }
            }
            State::Awaited => {
                record.state = State::Echoed;
                let out_of_order = self.highest_echoed.is_some_and(|highest| seq < highest);
                self.highest_echoed = Some(self.highest_echoed.map_or(seq, |h| h.max(seq)));
                count.echoed = 1;
                count.out_of_order = u64::from(out_of_order);
                if counted {
                    self.jitter.arrive(after);
                    self.path.add(marks);
                }
                Fate::Echoed {
                    seq,
                    rtt: after,
                    out_of_order,
                    marks,
                }
            }
            State::Lost => {
                record.state = State::Late;
                count.late = 1;
                Fate::Late {
                    seq,
                    after: Some(after),
                }
            }
            State::Echoed | State::Late | State::Corrupted => {
                count.duplicates = 1;
                Fate::Duplicate {
                    seq,
                    after: Some(after),
                }
            }
        };
        if state == State::Awaited {
            self.awaited -= 1;
        }
        if counted {
            // Not lost after all: it came back, late or altered.
            if state == State::Lost {
                self.counts.lost -= 1;
            }
            self.counts += count;
        }
        fate
    }

    /// An echo of datagram `seq`, whose record is forgotten (sent more than two timeouts ago),
    /// with `altered` bytes. A datagram remembered as lost turns late (or corrupted); one not
    /// among them was answered before, so this is a duplicate. Older than anything remembered,
    /// it is late: soc sent it and it came back intact, past its timeout whatever became of it
    /// (and its loss, if it was lost, stays counted: nothing tells any more).
    fn receive_forgotten(&mut self, seq: u64, altered: usize, after: Option<Duration>) -> Fate {
        let counted = self.counted.contains(&seq);
        let was_lost = self.lost_long_ago.remove(&seq);
        let mut count = DatagramCounts::default();
        let fate = match altered {
            0 if was_lost || seq < self.remembered_from => {
                count.late = 1;
                Fate::Late { seq, after }
            }
            0 => {
                count.duplicates = 1;
                Fate::Duplicate { seq, after }
            }
            differing => {
                count.corrupted = 1;
                Fate::Corrupted { seq, differing }
            }
        };
        if counted {
            if was_lost {
                self.counts.lost -= 1;
            }
            self.counts += count;
        }
        fate
    }

    fn stray(&mut self, bytes: usize) -> Fate {
        self.counts.corrupted += 1;
        Fate::Stray { bytes }
    }
}

#[cfg(test)]
mod tests;
