//! Latency as a report gives it: one block of figures per latency measured (in milliseconds), the
//! generator's own lateness, and the exact statistics of a probing run's round trips.

use std::time::Duration;

use hdrhistogram::Histogram;

/// A latency's figures, in milliseconds: the percentiles from the run's histogram (three
/// significant digits), and, where the run kept them exactly (a ping's probes), the minimum,
/// mean, maximum and standard deviation of the values themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LatencyMs {
    pub min: f64,
    pub mean: f64,
    /// The standard deviation: ping(8)'s "mdev".
    pub stdev: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    /// Open loop only: a rate run has the samples for it.
    pub p9999: Option<f64>,
    pub max: f64,
}

/// Nanoseconds in milliseconds.
fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

impl LatencyMs {
    /// The figures of `histogram` (nanoseconds), up to p99.9; `None` when it is empty.
    pub(crate) fn of(histogram: &Histogram<u64>) -> Option<LatencyMs> {
        (!histogram.is_empty()).then(|| LatencyMs {
            min: ms(histogram.min()),
            mean: histogram.mean() / 1e6,
            stdev: histogram.stdev() / 1e6,
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            p9999: None,
            max: ms(histogram.max()),
        })
    }

    /// The figures of `histogram`, up to p99.99.
    pub(crate) fn with_p9999(histogram: &Histogram<u64>) -> Option<LatencyMs> {
        LatencyMs::of(histogram).map(|latency| LatencyMs {
            p9999: Some(ms(histogram.value_at_quantile(0.9999))),
            ..latency
        })
    }

    /// The figures of `histogram`, with the exact minimum, mean, maximum and deviation of
    /// `exact`: one block, so the percentiles (each the top of its histogram bucket) are held
    /// within the exact extremes.
    pub(crate) fn of_exact(histogram: &Histogram<u64>, exact: &Exact) -> Option<LatencyMs> {
        let (min, max) = (exact.min?, exact.max?);
        let (min, max) = (min.as_secs_f64() * 1e3, max.as_secs_f64() * 1e3);
        let within = |value: f64| value.clamp(min, max);
        LatencyMs::of(histogram).map(|latency| LatencyMs {
            min,
            mean: exact.mean_ms(),
            stdev: exact.stdev_ms(),
            p50: within(latency.p50),
            p90: within(latency.p90),
            p99: within(latency.p99),
            p999: within(latency.p999),
            p9999: latency.p9999.map(within),
            max,
        })
    }
}

/// The exact minimum, maximum, mean and standard deviation of a stream of durations, in constant
/// memory (Welford's method), however long a run goes on.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Exact {
    count: u64,
    mean_ms: f64,
    /// The sum of squared deviations from the mean so far.
    squares: f64,
    min: Option<Duration>,
    max: Option<Duration>,
}

impl Exact {
    pub(crate) fn add(&mut self, value: Duration) {
        let x = value.as_secs_f64() * 1e3;
        self.count += 1;
        let delta = x - self.mean_ms;
        self.mean_ms += delta / self.count as f64;
        self.squares += delta * (x - self.mean_ms);
        self.min = Some(self.min.map_or(value, |min| min.min(value)));
        self.max = Some(self.max.map_or(value, |max| max.max(value)));
    }

    fn mean_ms(&self) -> f64 {
        self.mean_ms
    }

    /// The population standard deviation, as ping(8) computes its mdev.
    fn stdev_ms(&self) -> f64 {
        match self.count {
            0 => 0.0,
            n => (self.squares / n as f64).max(0.0).sqrt(),
        }
    }
}

/// How late the generator itself wrote the messages its sockets could take, in milliseconds,
/// and the most its p99 may be for the run to describe the server: 1 ms, or a tenth of the p99
/// latency measured, whichever is more.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LatenessMs {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// The run fails when `p99` is above this.
    pub limit: f64,
    /// The machine the generator ran on, as the run ended: what explains a late generator that
    /// more threads would not help.
    pub machine: Machine,
}

/// The cores of the machine a generator ran on and how busy they were. A generator whose
/// threads wait for a core is late whatever threads it was given: on a 2-core machine beside
/// four busy programs, `bench --rate 10k` was late by 7 ms at its p99 with 2 threads and by
/// 1.5 to 2.8 ms with 10 (docs/testing.md).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Machine {
    /// The cores the generator could run on (0: not known, as in a report from before soc
    /// said).
    pub cores: usize,
    /// The system's load average over the last minute, where it keeps one (not on Windows).
    pub load_average: Option<f64>,
}

impl Machine {
    /// This machine, now.
    pub(crate) fn now() -> Machine {
        Machine {
            cores: std::thread::available_parallelism().map_or(0, |cores| cores.get()),
            load_average: crate::sys::load_average(),
        }
    }

    /// Whether, over the last minute, there was more to run than cores to run it: a thread
    /// that wakes on time then waits for a core.
    pub fn busy(&self) -> bool {
        match self.load_average {
            Some(load) => self.cores > 0 && load >= self.cores as f64,
            None => false,
        }
    }
}

/// The generator's p99 lateness may always be this much: below it, the run describes the server.
const MOST_LATENESS_MS: f64 = 1.0;

/// Above [`MOST_LATENESS_MS`], the generator's p99 lateness may still be this share of the p99
/// latency it measured (a 2 ms hiccup is nothing beside a 300 ms queue; beside 0.3 ms it is the
/// measurement).
const LATENESS_SHARE: f64 = 0.1;

impl LatenessMs {
    /// The figures of `lateness` (nanoseconds), with the limit for a run whose p99 latency was
    /// `measured_p99_ms`, on `machine`.
    pub(crate) fn of(
        lateness: &Histogram<u64>,
        measured_p99_ms: f64,
        machine: Machine,
    ) -> LatenessMs {
        LatenessMs {
            p50: ms(lateness.value_at_quantile(0.50)),
            p99: ms(lateness.value_at_quantile(0.99)),
            max: ms(lateness.max()),
            limit: MOST_LATENESS_MS.max(measured_p99_ms * LATENESS_SHARE),
            machine,
        }
    }

    /// Whether the generator was late enough for the run to describe it rather than the server.
    pub fn too_late(&self) -> bool {
        self.p99 > self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_figures_match_a_hand_computation() {
        let ms = Duration::from_millis;
        let mut exact = Exact::default();
        let mut histogram = crate::measure::tally::new_histogram();
        for value in [ms(1), ms(2), ms(3), ms(6)] {
            exact.add(value);
            histogram.record(value.as_nanos() as u64).unwrap();
        }
        let latency = LatencyMs::of_exact(&histogram, &exact).unwrap();
        assert_eq!((latency.min, latency.mean, latency.max), (1.0, 3.0, 6.0));
        // Deviations -2, -1, 0, 3: variance 14/4 = 3.5 ms², deviation 1.8708 ms.
        assert!((latency.stdev - 1.8708).abs() < 1e-3, "{latency:?}");
        // p99 is 6 ms's bucket top, held to the exact maximum.
        assert_eq!(latency.p99, 6.0);
        assert!(LatencyMs::of_exact(&histogram, &Exact::default()).is_none());
        assert!(LatencyMs::of(&crate::measure::tally::new_histogram()).is_none());
    }
}
