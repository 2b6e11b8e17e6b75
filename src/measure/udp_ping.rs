//! `soc_client ping -u`: probes as datagrams, against any UDP echo, and what a path does to them.
//!
//! Each probe is a datagram stamped with its sequence number and send time. Over UDP a probe can
//! be lost, come back late, twice, after a later one, or altered, and each is told apart:
//! - lost: no echo within the timeout; reported at once, and then
//! - late: its echo came after all (counted late instead of lost, kept out of the round-trip
//!   figures);
//! - duplicate: a second echo of a probe already answered;
//! - out of order: an echo that came after a later probe's echo (still counted as echoed);
//! - corrupted: an echo whose bytes differ from the probe's.
//!
//! Jitter is RFC 3550's (§6.4.1): over the echoes counted as echoed, in the order they arrived,
//! J += (|D| − J) / 16, D being the change in transit time (here the round trip) from one arrival
//! to the next. Unlike mdev (the round trips' spread around their mean) it follows how much each
//! echo's delay differs from the one before: what a stream of packets feels.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::ping::RoundTrips;
use super::report::{percent, Measured, UdpPingReport};
use crate::dump::{trace_chunk, Direction};
use crate::limits::Limit;
use crate::net::{
    connect_datagram, means_nothing_listens, NothingListening, Target, RECEIVE_BUFFER,
};
use crate::pattern::{self, Pattern};
use crate::signals::StopFlag;

/// Bytes of a probe that carry its sequence number and send time.
pub const STAMP_BYTES: usize = 16;

/// Probes remembered for late, duplicate and out-of-order echoes; an echo of an older one is
/// counted as matching no probe.
const REMEMBERED: usize = 100_000;

/// How long after the last probe the wait for missing echoes is said (unless a probe was
/// already reported lost).
const WAIT_WORTH_SAYING: Duration = Duration::from_millis(100);

/// What a UDP ping run does.
#[derive(Debug, Clone)]
pub struct UdpPingOptions {
    /// Probes to send; `None` runs until stopped.
    pub count: Option<u64>,
    /// Time from one probe to the next.
    pub interval: Duration,
    /// Bytes per probe, at least [`STAMP_BYTES`].
    pub size: usize,
    /// How long a probe's echo may take before the probe is reported lost.
    pub timeout: Limit,
    /// Keep one histogram per second (for a plot).
    pub intervals: bool,
}

/// What a UDP ping run reports as it goes.
#[derive(Debug)]
pub enum UdpPingEvent {
    /// The run begins.
    Started { server: SocketAddr, size: usize },
    /// Something happened to probe `seq` (of `size` bytes, to `server`).
    Probe {
        seq: u64,
        size: usize,
        server: SocketAddr,
        outcome: UdpOutcome,
    },
    /// A datagram that matches no probe sent.
    Stray { bytes: usize },
    /// The last probe is out; the run waits this long at most for the echoes still missing.
    Waiting(Duration),
}

/// What happened to one probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UdpOutcome {
    /// Back intact after this long; `out_of_order` when a later probe's echo came first.
    Echoed { rtt: Duration, out_of_order: bool },
    /// No echo within the timeout (so far).
    Lost(Limit),
    /// The echo of a probe reported lost came after all, this long after it was sent.
    Late(Duration),
    /// Another echo of a probe already answered, this long after it was sent.
    Duplicate(Duration),
    /// Back with this many bytes altered.
    Corrupted(usize),
}

/// RFC 3550's interarrival jitter, fed one arrival at a time.
#[derive(Debug, Default, Clone, Copy)]
pub struct Jitter {
    /// The previous arrival's transit time.
    previous: Option<Duration>,
    /// The estimate so far, in seconds.
    jitter: f64,
    arrivals: u64,
}

impl Jitter {
    /// Takes the next arrival, whose transit (here: round-trip) time was `transit`.
    pub fn arrive(&mut self, transit: Duration) {
        if let Some(previous) = self.previous {
            let change = (transit.as_secs_f64() - previous.as_secs_f64()).abs();
            self.jitter += (change - self.jitter) / 16.0;
        }
        self.previous = Some(transit);
        self.arrivals += 1;
    }

    /// The estimate in milliseconds, once two arrivals have been seen (kept as a float: a
    /// [`Duration`] would round it to the nanosecond).
    pub fn estimate_ms(&self) -> Option<f64> {
        (self.arrivals >= 2).then_some(self.jitter * 1000.0)
    }
}

/// What is known of a probe sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Awaited,
    Echoed,
    /// Reported lost; it may still turn late.
    Missing,
    Late,
    Corrupted,
}

struct Sent {
    at: Instant,
    state: State,
}

/// Sends probes to `target`'s first address until `options.count` are done or `stop` is raised,
/// waits for the echoes still missing, and reports each event to `on_event`.
pub fn run(
    target: &Target,
    options: &UdpPingOptions,
    stop: &StopFlag,
    mut on_event: impl FnMut(&UdpPingEvent),
) -> anyhow::Result<Measured<UdpPingReport>> {
    // Over UDP a probe may never come back: without a timeout the run could not end.
    let timeout = options
        .timeout
        .as_option()
        .context("a UDP run needs a timeout above 0, after which a probe is lost")?;
    let (socket, server) = connect_datagram(target)?;
    let size = options.size.max(STAMP_BYTES);
    on_event(&UdpPingEvent::Started { server, size });
    let mut run = Probing {
        socket,
        server,
        size,
        timeout,
        started: Instant::now(),
        sent: VecDeque::new(),
        first_seq: 1,
        next_seq: 1,
        expired: 1,
        awaited: 0,
        highest_echoed: 0,
        rtts: RoundTrips::new(options.intervals),
        jitter: Jitter::default(),
        counts: Counts::default(),
        buffer: vec![0; RECEIVE_BUFFER],
        told_waiting: false,
    };
    let mut next_send = Instant::now();
    loop {
        let now = Instant::now();
        let sending =
            options.count.is_none_or(|count| run.next_seq <= count) && !stop.is_requested();
        if sending && now >= next_send {
            run.send()?;
            next_send += options.interval;
            if next_send < now {
                // Fell behind (a pause of the whole process): go on from now, not in a burst.
                next_send = now + options.interval;
            }
            continue;
        }
        let deadline = run.next_deadline();
        if !sending {
            // The last probe is out (or the run was stopped): wait for the missing, for the
            // timeout after the last probe at most.
            if stop.is_requested() || !run.anything_missing() {
                break;
            }
            let last = run.sent.back().map_or(now, |probe| probe.at);
            let until = last + run.timeout;
            if now >= until {
                break;
            }
            // Said once the wait is noticeable: a last echo on its way is not a wait.
            let noticeable = last + WAIT_WORTH_SAYING.min(until - last);
            if !run.told_waiting && (now >= noticeable || run.any_reported_lost()) {
                on_event(&UdpPingEvent::Waiting(until - now));
                run.told_waiting = true;
            }
            let mut wake = deadline.map_or(until, |d| d.min(until));
            if !run.told_waiting {
                wake = wake.min(noticeable);
            }
            run.receive(wake, &mut on_event)?;
            continue;
        }
        let wake = deadline.map_or(next_send, |d| d.min(next_send));
        // Stop requests are looked at at least every 100 ms.
        let wake = wake.min(now + Duration::from_millis(100));
        run.receive(wake, &mut on_event)?;
    }
    let counts = run.counts;
    let (rtt_ms, latency_ms, histograms) = run.rtts.finish();
    let sent = run.next_seq - 1;
    let report = UdpPingReport {
        server,
        probe_bytes: size,
        sent,
        echoed: counts.echoed,
        lost: counts.lost,
        late: counts.late,
        duplicates: counts.duplicates,
        out_of_order: counts.out_of_order,
        corrupted: counts.corrupted,
        loss_percent: percent(counts.lost, sent),
        seconds: run.started.elapsed().as_secs_f64(),
        rtt_ms,
        latency_ms,
        jitter_ms: run.jitter.estimate_ms(),
    };
    Ok(Measured { report, histograms })
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    echoed: u64,
    lost: u64,
    late: u64,
    duplicates: u64,
    out_of_order: u64,
    corrupted: u64,
}

/// A UDP ping run in progress.
struct Probing {
    socket: UdpSocket,
    server: SocketAddr,
    size: usize,
    timeout: Duration,
    started: Instant,
    /// Probes `first_seq..next_seq`, the oldest first.
    sent: VecDeque<Sent>,
    first_seq: u64,
    next_seq: u64,
    /// Probes below this one are past the timeout: reported lost if no echo came.
    expired: u64,
    /// Probes sent and neither answered nor reported lost.
    awaited: u64,
    /// The highest sequence number echoed so far: an echo below it came out of order.
    highest_echoed: u64,
    rtts: RoundTrips,
    jitter: Jitter,
    counts: Counts,
    buffer: Vec<u8>,
    told_waiting: bool,
}

impl Probing {
    /// Probe `seq`'s datagram, sent `sent_nanos` after the run started.
    fn payload(&self, seq: u64, sent_nanos: u64) -> Vec<u8> {
        let mut payload = Pattern::new(seq).take(self.size);
        pattern::stamp(&mut payload, seq);
        payload[8..16].copy_from_slice(&sent_nanos.to_be_bytes());
        payload
    }

    fn send(&mut self) -> anyhow::Result<()> {
        let seq = self.next_seq;
        let at = Instant::now();
        let payload = self.payload(seq, nanos(at - self.started));
        match self.socket.send(&payload) {
            Ok(_) => trace_chunk(self.server, Direction::Sent, &payload),
            Err(err) if means_nothing_listens(&err) => {
                return Err(anyhow::Error::new(NothingListening(self.server)))
            }
            // A datagram the system would not send is a probe lost on the way.
            Err(err) => log::debug!("udp ping: could not send probe {seq}: {err}"),
        }
        if self.sent.len() == REMEMBERED {
            if self
                .sent
                .pop_front()
                .is_some_and(|probe| probe.state == State::Awaited)
            {
                // Forgotten before its time ran out (a timeout of thousands of intervals).
                self.awaited -= 1;
                self.counts.lost += 1;
            }
            self.first_seq += 1;
            self.expired = self.expired.max(self.first_seq);
        }
        self.sent.push_back(Sent {
            at,
            state: State::Awaited,
        });
        self.awaited += 1;
        self.next_seq += 1;
        Ok(())
    }

    /// When the oldest awaited probe's time runs out.
    /// When the next probe's time runs out (answered or not: a wake-up more is cheaper than a
    /// search).
    fn next_deadline(&self) -> Option<Instant> {
        let next = self.sent.get((self.expired - self.first_seq) as usize)?;
        Some(next.at + self.timeout)
    }

    fn any_reported_lost(&self) -> bool {
        self.counts.lost > 0
    }

    fn anything_missing(&self) -> bool {
        self.awaited > 0 || self.counts.lost > 0
    }

    /// Receives until `until`, then reports the probes whose time ran out.
    fn receive(
        &mut self,
        until: Instant,
        on_event: &mut impl FnMut(&UdpPingEvent),
    ) -> anyhow::Result<()> {
        let wait = until.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            self.socket.set_read_timeout(Some(wait))?;
            match self.socket.recv(&mut self.buffer) {
                Ok(len) => {
                    let arrived = Instant::now();
                    let datagram = self.buffer[..len].to_vec();
                    trace_chunk(self.server, Direction::Received, &datagram);
                    self.place(&datagram, arrived, on_event);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if crate::net::is_timeout(&err) => {}
                Err(err) if means_nothing_listens(&err) => {
                    return Err(anyhow::Error::new(NothingListening(self.server)))
                }
                Err(err) => {
                    return Err(anyhow::Error::new(err)
                        .context(format!("could not receive from udp {}", self.server)))
                }
            }
        }
        // Probes are in the order sent: those whose time ran out are the oldest, and those
        // below `expired` were seen to already.
        let now = Instant::now();
        let timeout = self.timeout;
        while let Some(probe) = self.sent.get_mut((self.expired - self.first_seq) as usize) {
            if now < probe.at + timeout {
                break;
            }
            if probe.state == State::Awaited {
                probe.state = State::Missing;
                self.awaited -= 1;
                self.counts.lost += 1;
                on_event(&UdpPingEvent::Probe {
                    seq: self.expired,
                    size: self.size,
                    server: self.server,
                    outcome: UdpOutcome::Lost(Limit::After(timeout)),
                });
            }
            self.expired += 1;
        }
        Ok(())
    }

    /// Tells what an arriving datagram is, counts it and reports it.
    fn place(
        &mut self,
        datagram: &[u8],
        arrived: Instant,
        on_event: &mut impl FnMut(&UdpPingEvent),
    ) {
        let stray = |counts: &mut Counts, on_event: &mut dyn FnMut(&UdpPingEvent)| {
            counts.corrupted += 1;
            on_event(&UdpPingEvent::Stray {
                bytes: datagram.len(),
            });
        };
        let seq = match datagram.get(..8) {
            Some(bytes) => u64::from_be_bytes(bytes.try_into().expect("8 bytes")),
            None => return stray(&mut self.counts, on_event),
        };
        if seq < self.first_seq || seq >= self.next_seq {
            return stray(&mut self.counts, on_event);
        }
        let index = (seq - self.first_seq) as usize;
        let sent_at = self.sent[index].at;
        let expected = self.payload(seq, nanos(sent_at - self.started));
        let rtt = arrived - sent_at;
        let differing =
            pattern::differing(datagram, &expected) + expected.len().abs_diff(datagram.len());
        let state = self.sent[index].state;
        let outcome = match state {
            _ if differing > 0 => {
                self.counts.corrupted += 1;
                if state == State::Missing {
                    // Not lost after all: it came back, altered.
                    self.counts.lost -= 1;
                }
                if matches!(state, State::Awaited | State::Missing) {
                    self.sent[index].state = State::Corrupted;
                }
                UdpOutcome::Corrupted(differing)
            }
            State::Awaited if rtt > self.timeout => {
                // Past the timeout, before it was reported lost: late all the same.
                self.sent[index].state = State::Late;
                self.counts.late += 1;
                UdpOutcome::Late(rtt)
            }
            State::Awaited => {
                let out_of_order = seq < self.highest_echoed;
                self.highest_echoed = self.highest_echoed.max(seq);
                self.sent[index].state = State::Echoed;
                self.counts.echoed += 1;
                self.counts.out_of_order += u64::from(out_of_order);
                self.rtts.record(rtt);
                self.jitter.arrive(rtt);
                UdpOutcome::Echoed { rtt, out_of_order }
            }
            State::Missing => {
                self.sent[index].state = State::Late;
                self.counts.lost -= 1;
                self.counts.late += 1;
                UdpOutcome::Late(rtt)
            }
            State::Echoed | State::Late | State::Corrupted => {
                self.counts.duplicates += 1;
                UdpOutcome::Duplicate(rtt)
            }
        };
        if state == State::Awaited {
            // Every answer above moves an awaited probe on.
            self.awaited -= 1;
        }
        on_event(&UdpPingEvent::Probe {
            seq,
            size: self.size,
            server: self.server,
            outcome,
        });
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_follows_rfc_3550() {
        let ms = Duration::from_millis;
        let mut jitter = Jitter::default();
        assert_eq!(jitter.estimate_ms(), None);
        jitter.arrive(ms(10));
        assert_eq!(jitter.estimate_ms(), None);
        jitter.arrive(ms(12)); // |D| = 2 ms: J = 2/16
        jitter.arrive(ms(8)); // |D| = 4 ms: J = 2/16 + (4 - 2/16)/16
        let expected = 2.0 / 16.0;
        let expected = expected + (4.0 - expected) / 16.0;
        let estimate = jitter.estimate_ms().unwrap();
        assert!(
            (estimate - expected).abs() < 1e-12,
            "{estimate} against {expected}"
        );
    }

    #[test]
    fn on_a_path_that_alternates_1_and_9_ms_jitter_nears_8_and_mdev_is_4() {
        // The example of the README: jitter follows the change from one delay to the next,
        // mdev the spread around the mean.
        let rtts: Vec<Duration> = (0..200)
            .map(|i| Duration::from_millis(if i % 2 == 0 { 1 } else { 9 }))
            .collect();
        let mut jitter = Jitter::default();
        rtts.iter().for_each(|&rtt| jitter.arrive(rtt));
        let jitter = jitter.estimate_ms().unwrap();
        assert!((jitter - 8.0).abs() < 0.01, "{jitter}");
        let mdev = super::super::report::RttMs::of(&rtts).unwrap().mdev;
        assert!((mdev - 4.0).abs() < 1e-9, "{mdev}");
    }
}
