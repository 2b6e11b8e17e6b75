//! Whether a target is up: down after a number of probes in a row failed, up again at the first
//! success; the outages and the time spent down counted as it goes.

use std::time::{Duration, Instant};

use crate::measure::record::Outcome;

/// A change of a target's state, to be said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Down after this many probes in a row failed.
    Down { failures: u32 },
    /// Up again, after being down this long.
    Up { after: Duration },
}

/// One target's health.
#[derive(Debug, Clone)]
pub(super) struct Health {
    down_after: u32,
    failures_in_a_row: u32,
    down_since: Option<Instant>,
    outages: u64,
    /// Time down, outages that ended.
    down_before: Duration,
}

impl Health {
    /// A target that is up, and goes down after `down_after` failures in a row.
    pub(super) fn new(down_after: u32) -> Health {
        Health {
            down_after: down_after.max(1),
            failures_in_a_row: 0,
            down_since: None,
            outages: 0,
            down_before: Duration::ZERO,
        }
    }

    /// Takes a probe's `outcome`, known at `now`; says whether the target went down or up.
    pub(super) fn observe(&mut self, outcome: Outcome, now: Instant) -> Option<Change> {
        if !outcome.ends_a_probe() {
            return None;
        }
        if outcome.succeeded() {
            self.failures_in_a_row = 0;
            let since = self.down_since.take()?;
            let after = now.saturating_duration_since(since);
            self.down_before += after;
            return Some(Change::Up { after });
        }
        self.failures_in_a_row += 1;
        if self.down_since.is_none() && self.failures_in_a_row >= self.down_after {
            self.down_since = Some(now);
            self.outages += 1;
            return Some(Change::Down {
                failures: self.failures_in_a_row,
            });
        }
        None
    }

    pub(super) fn is_up(&self) -> bool {
        self.down_since.is_none()
    }

    pub(super) fn outages(&self) -> u64 {
        self.outages
    }

    /// Time spent down so far, the outage going on included.
    pub(super) fn down_for(&self, now: Instant) -> Duration {
        self.down_before
            + self
                .down_since
                .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_after_n_failures_in_a_row_and_up_at_the_first_success() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut health = Health::new(3);
        assert_eq!(health.observe(Outcome::Lost, at(0)), None);
        assert_eq!(
            health.observe(Outcome::Echoed, at(1)),
            None,
            "a success resets the run"
        );
        assert_eq!(health.observe(Outcome::Refused, at(2)), None);
        assert_eq!(health.observe(Outcome::TimedOut, at(3)), None);
        // A late echo is about an earlier probe: it neither fails nor saves one.
        assert_eq!(health.observe(Outcome::Late, at(4)), None);
        assert_eq!(
            health.observe(Outcome::Lost, at(5)),
            Some(Change::Down { failures: 3 })
        );
        assert!(!health.is_up());
        assert_eq!(
            health.observe(Outcome::Lost, at(6)),
            None,
            "one outage, said once"
        );
        assert_eq!(health.down_for(at(105)), Duration::from_millis(100));
        assert_eq!(
            health.observe(Outcome::Echoed, at(1005)),
            Some(Change::Up {
                after: Duration::from_millis(1000)
            })
        );
        assert!(health.is_up());
        assert_eq!(health.outages(), 1);
        assert_eq!(health.down_for(at(5000)), Duration::from_millis(1000));
    }
}
