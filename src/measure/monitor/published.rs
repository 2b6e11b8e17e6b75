//! What a running monitor publishes for its metrics: per target, counters that only go up and a
//! histogram of round trips; for the monitor itself, a histogram of its own lateness. Everything
//! is an atomic that the probing loop adds to and a scrape reads, so no reader ever holds a lock
//! a probe waits on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::target::TargetSpec;
use crate::measure::record::Outcome;

/// The round-trip histogram's bucket bounds, in seconds: 50 µs to 10 s in Prometheus's 1-2.5-5
/// steps, so that a loopback echo (tens of µs) and a path across the world (hundreds of ms) both
/// fall between bounds.
pub const RTT_BUCKETS: [f64; 17] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// The monitor's lateness histogram's bounds, in seconds: how long after its scheduled time a
/// probe went out, from a microsecond to a second.
pub const LATENESS_BUCKETS: [f64; 12] = [
    0.000_001, 0.000_01, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.1,
    1.0,
];

/// A histogram with fixed bounds, each bucket an atomic count.
#[derive(Debug)]
pub struct Buckets {
    bounds: &'static [f64],
    /// One count per bound, and one for what is above the last.
    counts: Vec<AtomicU64>,
    sum_nanos: AtomicU64,
}

impl Buckets {
    pub fn new(bounds: &'static [f64]) -> Buckets {
        Buckets {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// Counts one observation of `value`.
    pub fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        let bucket = self
            .bounds
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(value.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The sum of the observations in seconds, their count, and each bucket's upper bound with
    /// the observations in it alone (infinity last), as prometheus-client takes a histogram (it
    /// adds them up for the exposition).
    pub fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut total = 0;
        let mut buckets = Vec::with_capacity(self.counts.len());
        for (index, count) in self.counts.iter().enumerate() {
            let count = count.load(Ordering::Relaxed);
            total += count;
            let bound = self.bounds.get(index).copied().unwrap_or(f64::INFINITY);
            buckets.push((bound, count));
        }
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        (sum, total, buckets)
    }
}

/// A counter that only goes up.
#[derive(Debug, Default)]
pub struct Count(AtomicU64);

impl Count {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (a float, kept as its bits).
#[derive(Debug, Default)]
pub struct Level(AtomicU64);

impl Level {
    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// One target's published state.
#[derive(Debug)]
pub struct TargetMetrics {
    /// The target, for its labels.
    pub spec: TargetSpec,
    pub sent: Count,
    pub echoed: Count,
    /// Counted at the timeout, and never taken back: an echo that comes later is counted late as
    /// well (counters only go up).
    pub lost: Count,
    pub late: Count,
    pub duplicates: Count,
    pub out_of_order: Count,
    pub corrupted: Count,
    /// Connect probes refused, and timed out (both counted in `lost` too).
    pub refused: Count,
    pub timed_out: Count,
    pub rtt: Buckets,
    /// RFC 3550 jitter in seconds (UDP), NaN until there is one.
    pub jitter: Level,
    /// 1 while up, 0 while down.
    pub up: Level,
    pub outages: Count,
    /// Seconds spent down, as a float.
    pub down_seconds: Level,
}

impl TargetMetrics {
    pub fn new(spec: TargetSpec) -> TargetMetrics {
        let jitter = Level::default();
        jitter.set(f64::NAN);
        let up = Level::default();
        up.set(1.0);
        TargetMetrics {
            spec,
            sent: Count::default(),
            echoed: Count::default(),
            lost: Count::default(),
            late: Count::default(),
            duplicates: Count::default(),
            out_of_order: Count::default(),
            corrupted: Count::default(),
            refused: Count::default(),
            timed_out: Count::default(),
            rtt: Buckets::new(&RTT_BUCKETS),
            jitter,
            up,
            outages: Count::default(),
            down_seconds: Level::default(),
        }
    }

    /// Counts a probe's outcome (the round trip of an echo or a handshake too).
    pub fn count(&self, outcome: Outcome, rtt: Option<Duration>, out_of_order: bool) {
        match outcome {
            Outcome::Echoed | Outcome::Connected => {
                self.echoed.add(1);
                if let Some(rtt) = rtt {
                    self.rtt.observe(rtt);
                }
            }
            Outcome::Lost | Outcome::Unresolved | Outcome::Failed => self.lost.add(1),
            Outcome::Refused => {
                self.refused.add(1);
                self.lost.add(1);
            }
            Outcome::TimedOut => {
                self.timed_out.add(1);
                self.lost.add(1);
            }
            Outcome::Late => self.late.add(1),
            Outcome::Duplicate => self.duplicates.add(1),
            Outcome::Corrupted | Outcome::Stray => self.corrupted.add(1),
        }
        if out_of_order {
            self.out_of_order.add(1);
        }
    }
}

/// What the whole monitor publishes: its targets, and its own lateness.
#[derive(Debug)]
pub struct Published {
    pub targets: Vec<TargetMetrics>,
    /// How long after its scheduled time each probe went out.
    pub lateness: Buckets,
}

impl Published {
    /// Nothing yet, for `targets`, in their order.
    pub fn for_targets(targets: &[TargetSpec]) -> Published {
        Published {
            targets: targets.iter().cloned().map(TargetMetrics::new).collect(),
            lateness: Buckets::new(&LATENESS_BUCKETS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_observation_falls_in_the_first_bucket_that_holds_it() {
        let buckets = Buckets::new(&RTT_BUCKETS);
        buckets.observe(Duration::from_micros(40));
        buckets.observe(Duration::from_micros(70));
        buckets.observe(Duration::from_micros(100));
        buckets.observe(Duration::from_secs(20));
        let (sum, count, each) = buckets.snapshot();
        assert_eq!(count, 4);
        assert!((sum - 20.00021).abs() < 1e-9, "{sum}");
        assert_eq!(each[0], (0.000_05, 1));
        assert_eq!(each[1], (0.000_1, 2), "a bound holds the value equal to it");
        assert_eq!(each[16], (10.0, 0));
        assert_eq!(each[17], (f64::INFINITY, 1));
    }
}
