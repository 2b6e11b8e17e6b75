//! An open-loop schedule: when each of a run's messages is due, over all its connections.

use std::time::{Duration, Instant};

/// When each message is due: message `k` of connection `c` at `start + (c + k·N) / rate`, so
/// each connection keeps its own even schedule (N / rate apart) and the connections are offset by
/// 1 / rate, never firing together.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    pub(crate) start: Instant,
    pub(crate) rate: f64,
    pub(crate) connections: u64,
}

impl Schedule {
    pub(crate) fn at(&self, connection: u64, k: u64) -> Instant {
        let index = (connection + k * self.connections) as f64;
        self.start + Duration::from_secs_f64(index / self.rate)
    }

    /// The first `k` of `connection` that is due at or after `time`.
    pub(crate) fn first_at_or_after(&self, connection: u64, time: Instant) -> u64 {
        let secs = time.saturating_duration_since(self.start).as_secs_f64();
        let estimate = ((secs * self.rate - connection as f64) / self.connections as f64).max(0.0);
        // The estimate is right within one either way; float rounding decides which.
        let mut k = (estimate.ceil() as u64).saturating_sub(1);
        while self.at(connection, k) < time {
            k += 1;
        }
        k
    }
}

/// Where one event loop stands in its share of the schedule. Its flows take turns in the
/// schedule's order, one message each: the next message due is message `round` of the flow at
/// `position`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Turn {
    position: usize,
    round: u64,
}

impl Turn {
    /// The position of the flow whose message is due next.
    pub(crate) fn position(&self) -> usize {
        self.position
    }

    /// When that message is due, for the flow `id` whose messages stop at `end`; `None` once
    /// its share of the schedule is done.
    pub(crate) fn due_at(&self, schedule: &Schedule, id: u64, end: u64) -> Option<Instant> {
        (self.round < end).then(|| schedule.at(id, self.round))
    }

    /// Whether that message's time has come by `now`.
    pub(crate) fn is_due(&self, schedule: &Schedule, id: u64, end: u64, now: Instant) -> bool {
        self.due_at(schedule, id, end).is_some_and(|at| at <= now)
    }

    /// On to the next flow's turn, among `flows`.
    pub(crate) fn advance(&mut self, flows: usize) {
        self.position += 1;
        if self.position == flows {
            self.position = 0;
            self.round += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_connection_keeps_an_even_schedule_offset_from_the_others() {
        let start = Instant::now();
        let schedule = Schedule {
            start,
            rate: 1000.0,
            connections: 4,
        };
        // 1000/s over 4 connections: each every 4 ms, the connections 1 ms apart.
        let ms = |instant: Instant| (instant - start).as_secs_f64() * 1000.0;
        assert!((ms(schedule.at(0, 0)) - 0.0).abs() < 1e-6);
        assert!((ms(schedule.at(1, 0)) - 1.0).abs() < 1e-6);
        assert!((ms(schedule.at(3, 2)) - 11.0).abs() < 1e-6);
        // Connection 1's messages are due at 1, 5, 9, 13 ms: the first at or after 10 ms is k = 3.
        assert_eq!(
            schedule.first_at_or_after(1, start + Duration::from_millis(10)),
            3
        );
        assert_eq!(
            schedule.first_at_or_after(1, start + Duration::from_millis(9)),
            2
        );
        assert_eq!(schedule.first_at_or_after(2, start), 0);
    }
}
