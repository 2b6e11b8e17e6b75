//! `--udp-rate-per-source`: at most so many datagrams a second echoed to one source, so that the
//! echo cannot be made a reflector aimed at a victim whose address a sender forges (the answer
//! DNS servers give the same threat, response rate limiting).
//!
//! Each source (an IPv4 address, an IPv6 /64: [`Source`]) has a token bucket holding a second's
//! worth of datagrams. Memory is bounded however many sources a spoofing sender invents: the
//! table holds at most [`MOST_SOURCES`] buckets. When it is full, the buckets that have filled up
//! again are forgotten (they hold nothing a new bucket would not), and if that is not enough,
//! the older half: a source being flooded sends all the time, so its bucket is among the newer
//! and keeps its count. A new source is then served as any other, even during a flood of
//! invented ones; what a forgotten source can gain is one burst again, for a price of some
//! 32 000 datagrams sent from other sources.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::source::Source;

/// The most sources tracked at once.
pub(super) const MOST_SOURCES: usize = 65_536;

/// A source's allowance.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes a datagram's token, refilled at `rate` a second up to `burst`; false if none.
    fn take(&mut self, now: Instant, rate: f64, burst: f64) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.at = now;
        match self.tokens >= 1.0 {
            true => {
                self.tokens -= 1.0;
                true
            }
            false => false,
        }
    }
}

struct Table {
    buckets: HashMap<Source, Bucket>,
}

/// The buckets of every source, shared by the UDP sockets' threads.
pub(super) struct SourceRates {
    rate: f64,
    burst: f64,
    table: Mutex<Table>,
}

impl SourceRates {
    /// At most `per_second` datagrams a second to each source, in bursts of as many.
    pub(super) fn new(per_second: u32) -> SourceRates {
        let rate = f64::from(per_second.max(1));
        SourceRates {
            rate,
            burst: rate,
            table: Mutex::new(Table {
                buckets: HashMap::new(),
            }),
        }
    }

    /// Whether a datagram to `peer` may be echoed now (its token is taken if so).
    pub(super) fn allows(&self, peer: IpAddr, now: Instant) -> bool {
        let (rate, burst) = (self.rate, self.burst);
        let mut table = self.table();
        let source = Source::of(peer);
        if let Some(bucket) = table.buckets.get_mut(&source) {
            return bucket.take(now, rate, burst);
        }
        if table.buckets.len() >= MOST_SOURCES {
            self.make_room(&mut table, now);
        }
        let mut bucket = Bucket {
            tokens: burst,
            at: now,
        };
        let taken = bucket.take(now, rate, burst);
        table.buckets.insert(source, bucket);
        taken
    }

    /// Sources tracked now.
    pub(super) fn tracked(&self) -> usize {
        self.table().buckets.len()
    }

    /// Forgets the buckets that are full again (no datagram for as long as a refill takes), and
    /// if the table is still more than half full, the older half. It takes a pass over the
    /// table, but it frees at least half of it, so it comes at most once every
    /// `MOST_SOURCES / 2` new sources.
    fn make_room(&self, table: &mut Table, now: Instant) {
        let refill = Duration::from_secs_f64(self.burst / self.rate);
        table
            .buckets
            .retain(|_, bucket| now.saturating_duration_since(bucket.at) < refill);
        if table.buckets.len() <= MOST_SOURCES / 2 {
            return;
        }
        let mut times: Vec<Instant> = table.buckets.values().map(|bucket| bucket.at).collect();
        let middle = times.len() / 2;
        let (_, median, _) = times.select_nth_unstable(middle);
        let median = *median;
        table.buckets.retain(|_, bucket| bucket.at > median);
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // Each change to the table is one step: a poisoned lock still guards a consistent one.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_its_burst_then_its_rate() {
        let rates = SourceRates::new(10);
        let start = Instant::now();
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let taken = (0..50).filter(|_| rates.allows(one, start)).count();
        assert_eq!(taken, 10, "a burst of 10");
        // Half a second later, 5 more.
        let later = start + Duration::from_millis(500);
        assert_eq!((0..50).filter(|_| rates.allows(one, later)).count(), 5);
        // Another source has its own.
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(rates.allows(other, later));
    }

    #[test]
    fn a_flood_of_invented_sources_is_held_to_a_bounded_table_and_the_flooded_keep_their_count() {
        let rates = SourceRates::new(10);
        let start = Instant::now();
        let victim: IpAddr = "192.0.2.1".parse().unwrap();
        let mut echoed_to_victim = 0;
        // Within one second (no bucket fills up again): 200 000 invented sources, and the
        // victim's address among them every hundredth datagram.
        for n in 0..200_000u32 {
            let now = start + Duration::from_micros(u64::from(n) * 4);
            let invented = IpAddr::from((0x0A00_0000u32 + n).to_be_bytes());
            assert!(rates.allows(invented, now), "a new source is served");
            assert!(rates.tracked() <= MOST_SOURCES);
            if n % 100 == 0 && rates.allows(victim, now) {
                echoed_to_victim += 1;
            }
        }
        assert!(rates.tracked() > MOST_SOURCES / 2, "{}", rates.tracked());
        // 0.8 s of a 10 a second rate after a burst of 10.
        assert!(echoed_to_victim <= 10 + 8, "{echoed_to_victim}");
    }
}
