//! Numbers as people read them in messages and reports: durations in the units users typed them.

use std::time::Duration;

/// A duration as seconds, the way a user types them: `5 s`, `0.25 s`.
pub(crate) fn secs(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// A duration in milliseconds, the unit of every latency soc reports.
pub(crate) fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_typed() {
        assert_eq!(secs(Duration::from_secs(5)), "5 s");
        assert_eq!(secs(Duration::from_millis(250)), "0.25 s");
        assert_eq!(millis(Duration::from_micros(1500)), 1.5);
    }
}
