//! A client's byte stream: connecting with progress timeouts, sending all, reading a reply whole,
//! and why a reply fell short (a close, a timeout, a failure, a client turned away).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

use anyhow::Context;

use super::Target;
use crate::dump::{trace_chunk, Direction};
use crate::human;
use crate::limits::{Hinted, Limit};

/// Connects to `target` and sets the client's progress timeout on both directions: a read that
/// gets nothing, or a write that moves nothing, for that long fails instead of waiting forever.
/// Returns the stream and the server's address.
pub(crate) fn connect_with_timeouts(
    target: &Target,
    timeout: Limit,
) -> anyhow::Result<(TcpStream, SocketAddr)> {
    let stream = target.connect()?;
    let peer = stream
        .peer_addr()
        .context("could not read the server's address")?;
    set_timeouts(&stream, timeout).context("could not set the socket timeouts")?;
    Ok((stream, peer))
}

/// Sets `timeout` as the read and write timeout of `stream`.
pub(crate) fn set_timeouts(stream: &TcpStream, timeout: Limit) -> io::Result<()> {
    stream.set_read_timeout(timeout.as_option())?;
    stream.set_write_timeout(timeout.as_option())
}

/// Why [`read_full`] got fewer bytes than it wanted.
#[derive(Debug)]
pub(crate) enum ShortReadCause {
    /// The peer closed the connection.
    Closed,
    /// Nothing arrived for the socket's read timeout.
    TimedOut,
    /// The connection failed.
    Failed(io::Error),
}

/// Whether the server had echoed anything on a connection before: a server that closes a fresh
/// connection before any echo is most likely turning the client away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answered {
    Never,
    Before,
}

/// Why a server closes a fresh connection before its first echo: most often it stopped (a stopping
/// soc_server closes every client) or restarted; soc_server also does so beyond its client limit
/// and after its idle timeout. It never sends anything but echoes, so the client can only guess,
/// and says so, likeliest first.
pub(crate) const TURNED_AWAY: &str = "the server may have stopped or restarted, be at its client \
     limit ({max_clients}), or have timed this client out ({idle_timeout})";

/// [`read_full`] stopped early: how many bytes did arrive, and why it stopped.
#[derive(Debug)]
pub(crate) struct ShortRead {
    /// Bytes that arrived before the stop, at the start of the buffer.
    pub(crate) received: usize,
    pub(crate) cause: ShortReadCause,
}

/// Reads until `buf` is full, however the bytes are split across reads.
///
/// This is what the Python original gets wrong: one `send()` of n bytes may come back as several
/// `recv()`s, so a reply is only complete once all n bytes have arrived.
pub(crate) fn read_full(mut reader: impl Read, buf: &mut [u8]) -> Result<(), ShortRead> {
    let mut received = 0;
    while received < buf.len() {
        let cause = match reader.read(&mut buf[received..]) {
            Ok(0) => ShortReadCause::Closed,
            Ok(n) => {
                received += n;
                continue;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if super::is_timeout(&err) => ShortReadCause::TimedOut,
            Err(err) => ShortReadCause::Failed(err),
        };
        return Err(ShortRead { received, cause });
    }
    Ok(())
}

impl ShortRead {
    /// A one-line description, naming the server, for a user who was waiting for `expected`
    /// bytes of echo from `peer`.
    pub(crate) fn describe(
        self,
        peer: SocketAddr,
        expected: usize,
        timeout: Limit,
        answered: Answered,
    ) -> anyhow::Error {
        let progress = format!(
            "{} came back",
            human::bytes_of(self.received as u64, expected as u64)
        );
        let fresh = self.received == 0 && answered == Answered::Never;
        match self.cause {
            ShortReadCause::Closed if fresh => turned_away(peer, None),
            ShortReadCause::Failed(err) if fresh && is_hang_up(&err) => {
                turned_away(peer, Some(err))
            }
            ShortReadCause::Closed => {
                anyhow::anyhow!("{peer} closed the connection ({progress})")
            }
            ShortReadCause::TimedOut => anyhow::Error::new(Hinted::new(format!(
                "no echo from {peer} for {timeout} ({{timeout}}); {progress}"
            ))),
            ShortReadCause::Failed(err) => anyhow::Error::new(err)
                .context(format!("the connection to {peer} failed ({progress})")),
        }
    }
}

/// Whether a connection error is the server hanging up (a reset, an abort, a broken pipe), which
/// on a fresh connection is a server turning the client away as much as a plain close is.
pub(crate) fn is_hang_up(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// The error for a server that ended a fresh connection before any echo (closed, or reset with
/// `cause`): a client turned away, most likely.
pub(crate) fn turned_away(peer: SocketAddr, cause: Option<io::Error>) -> anyhow::Error {
    let how = match &cause {
        Some(err) => format!(" ({err})"),
        None => String::new(),
    };
    anyhow::Error::new(Hinted::new(format!(
        "{peer} closed the connection before any echo{how}: {TURNED_AWAY}"
    )))
}

/// Sends all of `payload` to `peer`; a send that makes no progress for the socket's write
/// timeout (`timeout`) fails with a message saying so, and one the server hung up on before it
/// ever answered ([`Answered::Never`]) says it may have turned the client away.
pub(crate) fn send_all(
    mut stream: &TcpStream,
    peer: SocketAddr,
    payload: &[u8],
    timeout: Limit,
    answered: Answered,
) -> anyhow::Result<()> {
    match stream.write_all(payload) {
        Ok(()) => {}
        Err(err) if answered == Answered::Never && is_hang_up(&err) => {
            return Err(turned_away(peer, Some(err)))
        }
        Err(err) => {
            return Err(match super::is_timeout(&err) {
                true => anyhow::Error::new(Hinted::new(format!(
                    "could not send for {timeout} ({{timeout}}): the server is not reading"
                ))),
                false => anyhow::Error::new(err),
            }
            .context(format!("sending to {peer} failed")))
        }
    }
    trace_chunk(peer, Direction::Sent, payload);
    Ok(())
}
