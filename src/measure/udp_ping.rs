//! `soc_client ping -u`: probes as datagrams, against any UDP echo, and what a path does to them.
//!
//! Each probe is a datagram stamped with its sequence number and send time (`Layout::Timed`).
//! Over UDP a probe can be lost, come back late, twice, after a later one, or altered: the UDP
//! ledger tells each apart (`ledger.rs`, the same one `bench -u` uses), and each is reported as it
//! is known: a lost probe at its timeout, and again if its echo comes late after all.
//!
//! A server that goes away does not end the run: its probes are lost (the system's "nothing
//! listens there" is said once), and the run goes on until it comes back, is stopped, or has sent
//! its count.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::ledger::{Fate, Ledger};
use super::path::PathReport;
use super::ping::RoundTrips;
use super::report::{percent, LatencyMs, Measured, UdpPingReport};
use crate::dump::{trace_chunk, Direction};
use crate::limits::Limit;
use crate::net::{
    connect_datagram, means_nothing_listens, receive_marked, Marks, PathOptions, Target,
    RECEIVE_BUFFER,
};
use crate::signals::StopFlag;
use crate::wire::{Layout, Message};

/// How long after the last probe the wait for missing echoes is said (unless a probe was
/// already reported lost).
const WAIT_WORTH_SAYING: Duration = Duration::from_millis(100);

/// How often a probing run looks at its stop flag while it waits.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// What a UDP ping run does.
#[derive(Debug, Clone)]
pub struct UdpPingOptions {
    /// Probes to send; `None` runs until stopped.
    pub count: Option<u64>,
    /// Time from one probe to the next.
    pub interval: Duration,
    /// Bytes per probe: 16 at least (its sequence number and send time).
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
    /// The system says nothing listens at the server (an ICMP port unreachable): said once,
    /// until an echo comes again; the probes meanwhile are lost.
    NothingListening(SocketAddr),
    /// The last probe is out; the run waits this long at most for the echoes still missing.
    Waiting(Duration),
}

/// What happened to one probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UdpOutcome {
    /// Back intact after this long; `out_of_order` when a later probe's echo came first.
    Echoed {
        rtt: Duration,
        out_of_order: bool,
        /// The marking it came back with.
        marks: Marks,
    },
    /// No echo within the timeout (so far).
    Lost(Limit),
    /// The echo of a probe reported lost came after all, this long after it was sent.
    Late(Duration),
    /// Another echo of a probe already answered, this long after it was sent.
    Duplicate(Duration),
    /// Back with this many bytes altered.
    Corrupted(usize),
}

/// Sends probes to `target`'s first address until `options.count` are done or `stop` is raised,
/// waits for the echoes still awaited, and reports each event to `on_event`.
///
/// The end: once the last probe is out, the run waits while any probe is awaited, so at most the
/// timeout after the last one; an echo of a probe already lost that comes in that time counts
/// late. (A probe lost earlier is not waited for beyond its timeout: that is what the timeout
/// says. `bench -u` ends by the same rule.)
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
    Layout::Timed
        .check_size(options.size)
        .map_err(|why| anyhow::anyhow!("-s {}: {why}", options.size))?;
    let (socket, server) = connect_datagram(target)?;
    let size = options.size;
    crate::net::check_fits(&socket, server, size, target.path())?;
    on_event(&UdpPingEvent::Started { server, size });
    let message = Message::new(Layout::Timed, 0, size);
    let mut run = Probing {
        socket,
        server,
        size,
        timeout,
        started: Instant::now(),
        ledger: Ledger::new(Layout::Timed, message, 1, timeout),
        rtts: RoundTrips::new(options.intervals),
        buffer: vec![0; RECEIVE_BUFFER],
        told_waiting: false,
        told_nothing_listens: false,
        last_sent: None,
    };
    let mut next_send = Instant::now();
    loop {
        let now = Instant::now();
        let sending = options
            .count
            .is_none_or(|count| run.ledger.next_seq() <= count)
            && !stop.is_requested();
        if sending && now >= next_send {
            run.send(&mut on_event)?;
            next_send += options.interval;
            if next_send < now {
                // Fell behind (a pause of the whole process): go on from now, not in a burst.
                next_send = now + options.interval;
            }
            continue;
        }
        if !sending && (stop.is_requested() || !run.ledger.awaiting()) {
            break;
        }
        let mut wake = run.ledger.next_expiry().unwrap_or(next_send);
        if sending {
            wake = wake.min(next_send);
        } else {
            run.say_the_wait(now, &mut on_event);
            if let Some(noticeable) = run.noticeable_wait().filter(|_| !run.told_waiting) {
                wake = wake.min(noticeable);
            }
        }
        run.receive(wake.min(now + STOP_CHECK), &mut on_event)?;
    }
    let (latency_ms, histograms) = run.rtts.finish();
    let seconds = run.started.elapsed().as_secs_f64();
    Ok(Measured {
        report: report_of(
            &run.ledger,
            server,
            size,
            seconds,
            latency_ms,
            target.path(),
        ),
        histograms: Some(histograms),
    })
}

/// The report of a UDP ping whose datagrams `ledger` kept (`ping -u`, and a monitor's UDP
/// target), sent with `path`'s marking.
pub(crate) fn report_of(
    ledger: &Ledger,
    server: SocketAddr,
    probe_bytes: usize,
    seconds: f64,
    latency_ms: Option<LatencyMs>,
    path: &PathOptions,
) -> UdpPingReport {
    let counts = ledger.counts();
    UdpPingReport {
        server,
        probe_bytes,
        sent: counts.sent,
        echoed: counts.echoed,
        lost: counts.lost,
        late: counts.late,
        duplicates: counts.duplicates,
        out_of_order: counts.out_of_order,
        corrupted: counts.corrupted,
        loss_percent: percent(counts.lost, counts.sent),
        seconds,
        latency_ms,
        jitter_ms: ledger.jitter_ms(),
        path: PathReport::new(path, ledger.path_seen().clone()),
    }
}

/// A UDP ping run in progress.
struct Probing {
    socket: UdpSocket,
    server: SocketAddr,
    size: usize,
    timeout: Duration,
    started: Instant,
    ledger: Ledger,
    rtts: RoundTrips,
    buffer: Vec<u8>,
    told_waiting: bool,
    /// Whether "nothing listens" was said since the last echo.
    told_nothing_listens: bool,
    last_sent: Option<Instant>,
}

impl Probing {
    fn send(&mut self, on_event: &mut impl FnMut(&UdpPingEvent)) -> anyhow::Result<()> {
        let at = Instant::now();
        let datagram = self.ledger.next_datagram(at);
        match self.socket.send(datagram) {
            Ok(_) => trace_chunk(self.server, Direction::Sent, datagram),
            Err(err) if means_nothing_listens(&err) => self.nothing_listens(on_event),
            Err(err) if crate::net::is_too_big(&err) => {
                return Err(crate::net::too_big(
                    (&self.socket).into(),
                    self.server,
                    self.size,
                ))
            }
            // A datagram the system would not send is a probe lost on the way.
            Err(err) => log::debug!("udp ping: could not send a probe: {err}"),
        }
        self.ledger.sent(at);
        self.last_sent = Some(at);
        Ok(())
    }

    /// The system said nothing listens at the server: the probes on their way are lost (each at
    /// its timeout), and the run goes on.
    fn nothing_listens(&mut self, on_event: &mut impl FnMut(&UdpPingEvent)) {
        if !self.told_nothing_listens {
            self.told_nothing_listens = true;
            on_event(&UdpPingEvent::NothingListening(self.server));
        }
    }

    /// When the wait after the last probe becomes worth saying.
    fn noticeable_wait(&self) -> Option<Instant> {
        self.last_sent
            .map(|last| last + WAIT_WORTH_SAYING.min(self.timeout))
    }

    /// Says, once, that the run waits for stragglers, when the wait has become noticeable or a
    /// probe is already reported lost.
    fn say_the_wait(&mut self, now: Instant, on_event: &mut impl FnMut(&UdpPingEvent)) {
        let (Some(last), Some(noticeable)) = (self.last_sent, self.noticeable_wait()) else {
            return;
        };
        if self.told_waiting || !(now >= noticeable || self.ledger.counts().lost > 0) {
            return;
        }
        let until = last + self.timeout;
        on_event(&UdpPingEvent::Waiting(until.saturating_duration_since(now)));
        self.told_waiting = true;
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
            match receive_marked((&self.socket).into(), &mut self.buffer) {
                Ok((len, marks)) => {
                    let arrived = Instant::now();
                    trace_chunk(self.server, Direction::Received, &self.buffer[..len]);
                    let fate = self.ledger.receive(&self.buffer[..len], arrived, marks);
                    self.tell(fate, on_event);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if crate::net::is_timeout(&err) => {}
                Err(err) if means_nothing_listens(&err) => self.nothing_listens(on_event),
                Err(err) => {
                    return Err(anyhow::Error::new(err)
                        .context(format!("could not receive from udp {}", self.server)))
                }
            }
        }
        let mut lost = Vec::new();
        self.ledger.expire(Instant::now(), |fate| lost.push(fate));
        for fate in lost {
            self.tell(fate, on_event);
        }
        Ok(())
    }

    /// Reports what the ledger decided, and keeps the round trip of an echo.
    fn tell(&mut self, fate: Fate, on_event: &mut impl FnMut(&UdpPingEvent)) {
        let (seq, outcome) = match fate {
            Fate::Echoed {
                seq,
                rtt,
                out_of_order,
                marks,
            } => {
                self.rtts.record(rtt);
                self.told_nothing_listens = false;
                (
                    seq,
                    UdpOutcome::Echoed {
                        rtt,
                        out_of_order,
                        marks,
                    },
                )
            }
            Fate::Lost { seq } => (seq, UdpOutcome::Lost(Limit::After(self.timeout))),
            // A probe carries its send time, so how late is always known.
            Fate::Late { seq, after } => (seq, UdpOutcome::Late(after.unwrap_or_default())),
            Fate::Duplicate { seq, after } => {
                (seq, UdpOutcome::Duplicate(after.unwrap_or_default()))
            }
            Fate::Corrupted { seq, differing } => (seq, UdpOutcome::Corrupted(differing)),
            Fate::Stray { bytes } => return on_event(&UdpPingEvent::Stray { bytes }),
        };
        on_event(&UdpPingEvent::Probe {
            seq,
            size: self.size,
            server: self.server,
            outcome,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::measure::ledger::Jitter;

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
        let mut exact = crate::measure::latency::Exact::default();
        let mut histogram = crate::measure::tally::new_histogram();
        for rtt in &rtts {
            exact.add(*rtt);
            histogram.record(rtt.as_nanos() as u64).unwrap();
        }
        let latency = crate::measure::latency::LatencyMs::of_exact(&histogram, &exact);
        let mdev = latency.unwrap().stdev;
        assert!((mdev - 4.0).abs() < 1e-9, "{mdev}");
    }
}
