//! RFC 3550's interarrival jitter (§6.4.1): over the echoes counted as echoed, in the order they
//! arrived, J += (|D| − J) / 16, D being the change in transit time (here the round trip) from one
//! arrival to the next.

use std::time::Duration;

/// RFC 3550's interarrival jitter, fed one arrival at a time.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Jitter {
    /// The previous arrival's transit time.
    previous: Option<Duration>,
    /// The estimate so far, in seconds.
    jitter: f64,
    arrivals: u64,
}

impl Jitter {
    /// Takes the next arrival, whose transit (here: round-trip) time was `transit`.
    pub(crate) fn arrive(&mut self, transit: Duration) {
        if let Some(previous) = self.previous {
            let change = (transit.as_secs_f64() - previous.as_secs_f64()).abs();
            self.jitter += (change - self.jitter) / 16.0;
        }
        self.previous = Some(transit);
        self.arrivals += 1;
    }

    /// The estimate in milliseconds, once two arrivals have been seen (kept as a float: a
    /// [`Duration`] would round it to the nanosecond).
    pub(crate) fn estimate_ms(&self) -> Option<f64> {
        (self.arrivals >= 2).then_some(self.jitter * 1000.0)
    }
}
