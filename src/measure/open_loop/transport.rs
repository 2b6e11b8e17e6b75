//! What the open loop and its transports tell each other: a flow's place in the schedule
//! ([`Flow`]), what a transport reports as messages leave and echoes come ([`Recorder`]), and what
//! a transport does ([`Transport`]).

use std::time::{Duration, Instant};

use mio::event::Event;
use mio::Poll;

use crate::measure::load::{Run, Window};
use crate::measure::schedule::Schedule;
use crate::measure::sockets::Broken;
use crate::measure::tally::{nanos, record_in, Tally};

/// One flow's place in the schedule, which the loop keeps whatever the transport: message `k` of
/// flow `id` is due at `schedule.at(id, k)`. Sequence numbers count the flow's messages from 0.
#[derive(Debug, Clone)]
pub(crate) struct Flow {
    pub(crate) id: u64,
    /// Messages whose time has come.
    pub(crate) due: u64,
    /// Messages gone whole to the server (written, or sent as a datagram).
    pub(crate) sent: u64,
    /// Messages below this one became due while their socket could not take them.
    pub(crate) waited_until: u64,
    /// Messages below this one were due in the warm-up, and messages from `end` on after the
    /// measured time: neither is measured.
    pub(crate) first_measured: u64,
    pub(crate) end: u64,
    /// Echoes received intact and in time, warm-up included (for the progress line).
    pub(crate) echoes: u64,
    /// Round trips measured.
    pub(crate) measured: u64,
}

impl Flow {
    /// Whether what became of message `k` is measured.
    pub(crate) fn measures(&self, k: u64) -> bool {
        k >= self.first_measured && k < self.end
    }
}

/// What a transport tells the loop, as messages leave and echoes arrive; it records lateness and
/// latency against the schedule, in one place for both transports.
pub(crate) struct Recorder<'a> {
    pub(super) schedule: &'a Schedule,
    pub(super) window: Window,
    pub(crate) tally: &'a mut Tally,
}

impl Recorder<'_> {
    /// Message `k` of `flow` leaves the generator at `now` (queued to its socket, or sent): how
    /// late the generator was, or that it waited for its socket.
    pub(crate) fn leaving(&mut self, flow: &Flow, k: u64, now: Instant) {
        // Only the measured time counts: the warm-up absorbs the start (connecting).
        if !flow.measures(k) {
            return;
        }
        if k < flow.waited_until {
            self.tally.schedule.socket_waits += 1;
        } else {
            let late = now.saturating_duration_since(self.schedule.at(flow.id, k));
            record_in(&mut self.tally.lateness, nanos(late));
        }
    }

    /// An echo of any message arrived at `arrived`: the rate the server echoed counts it.
    pub(crate) fn arrived(&mut self, arrived: Instant) {
        if arrived >= self.window.measure_from && arrived < self.window.end {
            self.tally.schedule.echoed_in_window += 1;
        }
    }

    /// Message `k` of `flow` came back intact and in time at `arrived`, `since_sending` after it
    /// started out: its latency from the schedule and from the sending, when it is measured.
    pub(crate) fn echoed(
        &mut self,
        flow: &mut Flow,
        k: u64,
        arrived: Instant,
        since_sending: Duration,
    ) {
        flow.echoes += 1;
        if !flow.measures(k) {
            return;
        }
        let scheduled = self.schedule.at(flow.id, k);
        flow.measured += 1;
        record_in(&mut self.tally.uncorrected, nanos(since_sending));
        self.tally.record(
            nanos(arrived.saturating_duration_since(scheduled)),
            scheduled.saturating_duration_since(self.window.measure_from),
        );
    }
}

/// How flows reach the server: what differs between TCP and UDP. Flows are numbered by their
/// index in the loop, which is also their poll token.
pub(crate) trait Transport {
    /// The poll the flows' sockets are registered with.
    fn poll(&mut self) -> &mut Poll;

    /// Opens flow `index`'s socket; false if it could not (and `tally` counts why).
    fn open(&mut self, index: usize, flow: &Flow, run: &Run, tally: &mut Tally) -> bool;

    /// Whether flow `index` can take a due message now.
    fn ready(&self, index: usize) -> bool;

    /// Sends what it can of `flow`'s due messages (`flow.sent` up to `flow.due`).
    fn send(&mut self, index: usize, flow: &mut Flow, record: &mut Recorder) -> Result<(), Broken>;

    /// Serves a readiness `event` of flow `index`; `sending` is false once the measured time is
    /// over.
    fn serve(
        &mut self,
        index: usize,
        event: &Event,
        sending: bool,
        flow: &mut Flow,
        run: &Run,
        record: &mut Recorder,
    ) -> Result<(), Broken>;

    /// Ends flow `index`'s socket for `broken` (counted in `tally`): what it had on its way is
    /// lost, what was due and not sent goes on the next socket.
    fn drop_flow(
        &mut self,
        index: usize,
        broken: Broken,
        flow: &mut Flow,
        run: &Run,
        tally: &mut Tally,
    );

    /// Looks after flow `index` every [`MAINTENANCE_INTERVAL`]: gives up on echoes past the
    /// timeout, opens again a socket that was dropped.
    fn maintain(
        &mut self,
        index: usize,
        now: Instant,
        flow: &mut Flow,
        run: &Run,
        record: &mut Recorder,
    ) -> Result<(), Broken>;

    /// The measured time is over: nothing more is sent.
    fn stop_sending(&mut self, index: usize, flow: &mut Flow);

    /// After the measured time: whether flow `index` still waits for echoes that may come
    /// (giving up on those past the timeout, and counting them as it does).
    fn awaiting(
        &mut self,
        index: usize,
        now: Instant,
        flow: &mut Flow,
        run: &Run,
        tally: &mut Tally,
    ) -> bool;

    /// The run is over: closes the sockets (cleanly, unless the server is gone).
    fn close(&mut self, run: &Run, tally: &mut Tally);
}
