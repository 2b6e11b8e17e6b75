//! The open loop with a fake transport: no socket, an echo that comes back at once (or a socket
//! that is never ready), so that the loop's own work (the schedule, the lateness, the counts, the
//! end) is checked alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::Poll;

use crate::measure::sockets::Broken;
use crate::measure::tally::Tally;

use super::*;

/// A transport whose every message is echoed the moment it is sent; or, not `ready`, one whose
/// socket never takes a message.
struct Instant_ {
    poll: Poll,
    ready: bool,
    sends: Vec<Vec<Instant>>,
}

impl Transport for Instant_ {
    fn poll(&mut self) -> &mut Poll {
        &mut self.poll
    }

    fn open(&mut self, _: usize, _: &Flow, _: &Run, _: &mut Tally) -> bool {
        true
    }

    fn ready(&self, _: usize) -> bool {
        self.ready
    }

    fn send(&mut self, index: usize, flow: &mut Flow, record: &mut Recorder) -> Result<(), Broken> {
        while flow.sent < flow.due {
            let now = Instant::now();
            let k = flow.sent;
            record.leaving(flow, k, now);
            self.sends[index].push(now);
            flow.sent += 1;
            record.arrived(now);
            record.echoed(flow, k, now, Duration::ZERO);
        }
        Ok(())
    }

    fn serve(
        &mut self,
        _: usize,
        _: &Event,
        _: bool,
        _: &mut Flow,
        _: &Run,
        _: &mut Recorder,
    ) -> Result<(), Broken> {
        Ok(())
    }

    fn drop_flow(&mut self, _: usize, _: Broken, _: &mut Flow, _: &Run, _: &mut Tally) {}

    fn maintain(
        &mut self,
        _: usize,
        _: Instant,
        _: &mut Flow,
        _: &Run,
        _: &mut Recorder,
    ) -> Result<(), Broken> {
        Ok(())
    }

    fn stop_sending(&mut self, _: usize, _: &mut Flow) {}

    fn awaiting(&mut self, _: usize, _: Instant, _: &mut Flow, _: &Run, _: &mut Tally) -> bool {
        false
    }

    fn close(&mut self, _: &Run, _: &mut Tally) {}
}

/// Runs one event loop over `flows` fake flows at `rate` for `duration` (no warm-up).
fn run_fake(
    rate: f64,
    flows: usize,
    duration: Duration,
    ready: bool,
) -> (Tally, Vec<Vec<Instant>>, Schedule) {
    let target = Target::new(vec!["127.0.0.1:9".parse().unwrap()], Limit::Never);
    let window = Window::starting_now(Duration::ZERO, duration);
    let run = Arc::new(Run::new(&target, window, Limit::Never, &StopFlag::new()));
    let schedule = Schedule {
        start: window.started,
        rate,
        connections: flows as u64,
    };
    let transport = Instant_ {
        poll: Poll::new().unwrap(),
        ready,
        sends: vec![Vec::new(); flows],
    };
    let ids: Vec<usize> = (0..flows).collect();
    let mut event_loop = EventLoop::new(run, schedule, &ids, transport, false).unwrap();
    let mut connected = 0;
    for (index, flow) in event_loop.flows.iter().enumerate() {
        connected += usize::from(event_loop.transport.open(
            index,
            flow,
            &event_loop.run,
            &mut event_loop.tally,
        ));
    }
    event_loop.tally.connected = connected;
    event_loop.send_on_schedule().unwrap();
    event_loop.wait_for_the_last_echoes().unwrap();
    event_loop.count_schedule();
    (event_loop.tally, event_loop.transport.sends, schedule)
}

#[test]
fn every_message_due_goes_out_at_its_time_and_is_counted_once() {
    // 1000 a second over 4 flows for 0.3 s: 300 due, 75 a flow, each flow every 4 ms.
    let (tally, sends, schedule) = run_fake(1000.0, 4, Duration::from_millis(300), true);
    assert!(
        tally.schedule.due.abs_diff(300) <= 1,
        "{}",
        tally.schedule.due
    );
    assert_eq!(tally.schedule.sent, tally.schedule.due);
    assert_eq!(tally.round_trips, tally.schedule.due);
    assert_eq!(
        tally.lateness.len(),
        tally.schedule.due,
        "one lateness a message"
    );
    assert_eq!(tally.schedule.socket_waits, 0);
    for (flow, sent) in sends.iter().enumerate() {
        for (k, at) in sent.iter().enumerate() {
            // Never early: a message goes at its time or (the generator's lateness) after it.
            assert!(
                *at >= schedule.at(flow as u64, k as u64),
                "flow {flow} message {k}"
            );
        }
    }
    assert_eq!(
        (tally.fairness.silent, tally.fairness.most),
        (0, tally.fairness.fewest)
    );
}

#[test]
fn a_socket_that_never_takes_a_message_waits_and_sends_nothing() {
    let (tally, sends, _) = run_fake(1000.0, 2, Duration::from_millis(100), false);
    assert!(tally.schedule.due >= 99, "{}", tally.schedule.due);
    assert_eq!(tally.schedule.sent, 0);
    assert!(sends.iter().all(Vec::is_empty));
    assert_eq!(tally.lateness.len(), 0, "no message left the generator");
    assert_eq!(tally.fairness.silent, 2);
}

#[test]
fn the_threads_chosen_follow_the_rate_within_the_cores_and_flows() {
    assert_eq!(threads_for(100.0, 50), 1);
    assert_eq!(threads_for(1e9, 1), 1, "never more threads than flows");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(
        threads_for(1e9, 1000),
        cores,
        "never more threads than cores"
    );
    assert_eq!(threads_for(10_000.0, 50), 2.min(cores));
}
