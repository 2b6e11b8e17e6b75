//! A `connect://` target: each probe a TCP handshake on a new connection.

use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::{failed_connect, Context, Found, SLOTS};
use crate::measure::record::Outcome;

/// Handshakes: each probe a new connection, closed once made.
pub(in crate::measure::monitor) struct Connects {
    pub(super) pending: Vec<Option<(u64, Instant, TcpStream)>>,
}

impl Connects {
    pub(in crate::measure::monitor) fn new() -> Connects {
        Connects {
            pending: (0..SLOTS).map(|_| None).collect(),
        }
    }

    pub(super) fn probe(
        &mut self,
        cx: &mut Context,
        seq: u64,
        scheduled: Instant,
        addr: SocketAddr,
    ) {
        let Some(slot) = self.pending.iter().position(Option::is_none) else {
            let why = format!("{SLOTS} handshakes are pending already");
            return cx
                .found
                .push(Found::new(seq, Outcome::Failed, None).because(why));
        };
        match super::connect_stream(addr, cx.path) {
            Ok(mut stream) => {
                let token = Token(cx.token + slot);
                if let Err(err) = cx.registry.register(&mut stream, token, Interest::WRITABLE) {
                    return cx
                        .found
                        .push(Found::new(seq, Outcome::Failed, None).because(err.to_string()));
                }
                self.pending[slot] = Some((seq, scheduled, stream));
            }
            Err(err) => cx.found.push(failed_connect(seq, &err)),
        }
    }

    pub(super) fn serve(&mut self, cx: &mut Context, slot: usize) {
        let Some((seq, scheduled, stream)) = self.pending.get(slot).and_then(Option::as_ref) else {
            return;
        };
        let (seq, scheduled) = (*seq, *scheduled);
        let found = match stream.take_error() {
            Ok(None) if stream.peer_addr().is_ok() => {
                let took = Instant::now().saturating_duration_since(scheduled);
                Found::new(seq, Outcome::Connected, Some(took))
            }
            Ok(None) => return, // not yet
            Ok(Some(err)) | Err(err) => failed_connect(seq, &err),
        };
        cx.found.push(found);
        self.close(cx, slot);
    }

    pub(super) fn maintain(&mut self, cx: &mut Context, now: Instant) {
        for slot in 0..SLOTS {
            let Some((seq, scheduled, _)) = self.pending[slot].as_ref() else {
                continue;
            };
            if now.saturating_duration_since(*scheduled) > cx.timeout {
                let why = format!("no answer within {} s", cx.timeout.as_secs_f64());
                cx.found
                    .push(Found::new(*seq, Outcome::TimedOut, None).because(why));
                self.close(cx, slot);
            }
        }
    }

    fn close(&mut self, cx: &mut Context, slot: usize) {
        if let Some((_, _, mut stream)) = self.pending[slot].take() {
            let _ = cx.registry.deregister(&mut stream);
        }
    }
}
