//! Names resolved away from the probing loop: a lookup that takes seconds (a name server that
//! does not answer) must not delay any probe, so lookups run on a thread of their own and their
//! answers come back through a channel, with a wake-up for the loop's poll.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;

use anyhow::Context;

use crate::net::Family;

/// A lookup's answer: the target it is for, and its first address or why there is none.
pub(super) type Answer = (usize, Result<SocketAddr, String>);

/// The lookup thread: ask with [`Resolver::ask`], collect with [`Resolver::answers`].
pub(super) struct Resolver {
    requests: Sender<(usize, String, u16)>,
    answers: Receiver<Answer>,
}

impl Resolver {
    /// A resolver of addresses of `family` that wakes `waker` each time an answer is ready.
    pub(super) fn start(waker: Arc<mio::Waker>, family: Family) -> anyhow::Result<Resolver> {
        let (requests, asked) = mpsc::channel::<(usize, String, u16)>();
        let (answer, answers) = mpsc::channel();
        thread::Builder::new()
            .name("resolver".into())
            .spawn(move || {
                for (target, host, port) in asked {
                    let found = (host.as_str(), port)
                        .to_socket_addrs()
                        .map_err(|err| err.to_string())
                        .and_then(|mut addrs| {
                            addrs
                                .find(|addr| family.admits(addr))
                                .ok_or_else(|| match family {
                                    Family::Any => "no address found".to_string(),
                                    Family::V4 => "no IPv4 address (-4)".to_string(),
                                    Family::V6 => "no IPv6 address (-6)".to_string(),
                                })
                        });
                    if answer.send((target, found)).is_err() {
                        return;
                    }
                    let _ = waker.wake();
                }
            })
            .context("could not start the resolver thread")?;
        Ok(Resolver { requests, answers })
    }

    /// Asks for `host`'s address, for `target`.
    pub(super) fn ask(&self, target: usize, host: &str, port: u16) {
        let _ = self.requests.send((target, host.to_string(), port));
    }

    /// The answers ready now.
    pub(super) fn answers(&self) -> impl Iterator<Item = Answer> + '_ {
        self.answers.try_iter()
    }
}
