//! The client limit: how many clients are served at once, over every accept loop and from each
//! source, and the place each admitted client holds until it leaves.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::source::Source;

/// The places for clients being served: at most `max` at once, over every accept loop, and, with
/// a per-source limit, at most that many from one [`Source`].
pub(super) struct ClientLimit {
    max: usize,
    active: AtomicUsize,
    per_source: Option<PerSource>,
}

/// Clients being served per source: only sources with one at least are in the table, so it is
/// never larger than the number of clients served.
struct PerSource {
    max: usize,
    active: Mutex<HashMap<Source, usize>>,
}

impl PerSource {
    fn table(&self) -> MutexGuard<'_, HashMap<Source, usize>> {
        // A counter table stays consistent across a panic elsewhere: every change is one step.
        self.active
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn release(&self, source: Source) {
        let mut table = self.table();
        if let Some(count) = table.get_mut(&source) {
            *count -= 1;
            if *count == 0 {
                table.remove(&source);
            }
        }
    }
}

/// Why a client was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Every place is taken.
    Full,
    /// Its source has every place it may have.
    SourceFull(Source),
}

impl ClientLimit {
    /// At most `max` clients at once, and at most `max_per_source` from one source if given.
    pub(super) fn new(max: usize, max_per_source: Option<usize>) -> Arc<Self> {
        Arc::new(Self {
            max,
            active: AtomicUsize::new(0),
            per_source: max_per_source.map(|max| PerSource {
                max,
                active: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Takes a place for a client from `peer` and says how many clients are served with it.
    /// The global count is one atomic step, so that accept loops on several listeners never
    /// serve more than the limit together; the source's place is taken first, so that a source
    /// at its own limit never takes a global place, even for a moment.
    pub(super) fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<(Admission, usize), Refusal> {
        let source = match &self.per_source {
            None => None,
            Some(per_source) => {
                let source = Source::of(peer);
                let mut table = per_source.table();
                let count = table.entry(source).or_insert(0);
                if *count >= per_source.max {
                    return Err(Refusal::SourceFull(source));
                }
                *count += 1;
                Some(source)
            }
        };
        let before = self
            .active
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |active| {
                (active < self.max).then_some(active + 1)
            });
        let Ok(before) = before else {
            if let (Some(per_source), Some(source)) = (&self.per_source, source) {
                per_source.release(source);
            }
            return Err(Refusal::Full);
        };
        let admission = Admission {
            limit: Some(Arc::clone(self)),
            source,
        };
        Ok((admission, before + 1))
    }

    /// Clients being served now.
    pub(super) fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Sources with a client being served now (0 without a per-source limit).
    pub(super) fn sources(&self) -> usize {
        self.per_source
            .as_ref()
            .map_or(0, |per_source| per_source.table().len())
    }

    pub(super) fn max(&self) -> usize {
        self.max
    }

    pub(super) fn max_per_source(&self) -> Option<usize> {
        self.per_source.as_ref().map(|per_source| per_source.max)
    }
}

/// One client's place under the [`ClientLimit`], given back when it is released or dropped.
pub(super) struct Admission {
    /// `None` once released.
    limit: Option<Arc<ClientLimit>>,
    /// The source whose place it also holds, under a per-source limit.
    source: Option<Source>,
}

impl Admission {
    /// Gives the place back; returns how many clients are served without it.
    pub(super) fn release(mut self) -> usize {
        self.give_back()
    }

    fn give_back(&mut self) -> usize {
        let Some(limit) = self.limit.take() else {
            return 0;
        };
        if let (Some(per_source), Some(source)) = (&limit.per_source, self.source.take()) {
            per_source.release(source);
        }
        limit.active.fetch_sub(1, Ordering::SeqCst) - 1
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.give_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_source_at_its_limit_is_refused_while_others_are_served() {
        let limit = ClientLimit::new(10, Some(2));
        let a1 = limit.admit(ip("192.0.2.1")).unwrap().0;
        let _a2 = limit.admit(ip("::ffff:192.0.2.1")).unwrap().0;
        assert_eq!(
            limit.admit(ip("192.0.2.1")).err(),
            Some(Refusal::SourceFull(Source::of(ip("192.0.2.1"))))
        );
        let _b = limit.admit(ip("192.0.2.2")).unwrap().0;
        assert_eq!((limit.active(), limit.sources()), (3, 2));
        drop(a1);
        let _a3 = limit.admit(ip("192.0.2.1")).unwrap().0;
    }

    #[test]
    fn a_full_server_takes_no_place_of_the_source_and_every_place_comes_back() {
        let limit = ClientLimit::new(1, Some(5));
        let first = limit.admit(ip("192.0.2.1")).unwrap().0;
        assert_eq!(limit.admit(ip("192.0.2.2")).err(), Some(Refusal::Full));
        // The refused source holds nothing.
        assert_eq!(limit.sources(), 1);
        assert_eq!(first.release(), 0);
        assert_eq!((limit.active(), limit.sources()), (0, 0));
    }
}
