//! The client limit: how many clients are served at once, over every accept loop, and the place
//! each admitted client holds until it leaves.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The places for clients being served: at most `max` at once, over every accept loop.
pub(super) struct ClientLimit {
    max: usize,
    active: AtomicUsize,
}

impl ClientLimit {
    pub(super) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            active: AtomicUsize::new(0),
        })
    }

    /// Takes a place and says how many clients are served with it, or `None` when every place
    /// is taken. One atomic step, so that accept loops on several listeners never serve more
    /// than the limit together.
    pub(super) fn admit(self: &Arc<Self>) -> Option<(Admission, usize)> {
        let before = self
            .active
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |active| {
                (active < self.max).then_some(active + 1)
            })
            .ok()?;
        let admission = Admission {
            limit: Some(Arc::clone(self)),
        };
        Some((admission, before + 1))
    }

    /// Clients being served now.
    pub(super) fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    pub(super) fn max(&self) -> usize {
        self.max
    }
}

/// One client's place under the [`ClientLimit`], given back when it is released or dropped.
pub(super) struct Admission {
    /// `None` once released.
    limit: Option<Arc<ClientLimit>>,
}

impl Admission {
    /// Gives the place back; returns how many clients are served without it.
    pub(super) fn release(mut self) -> usize {
        self.give_back()
    }

    fn give_back(&mut self) -> usize {
        match self.limit.take() {
            Some(limit) => limit.active.fetch_sub(1, Ordering::SeqCst) - 1,
            None => 0,
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.give_back();
    }
}
