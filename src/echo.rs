//! The echo loop: read what arrived, write all of it back, until the peer closes.
//!
//! This is the only place where the server copies bytes. It never looks at them: no framing, no
//! newline handling, no text decoding, so the echo is byte-transparent (RFC 862), and one read is
//! never assumed to be one of the client's writes.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use crate::dump::{trace_chunk, Direction};
use crate::net::is_timeout;

/// The most a client's buffer grows to.
///
/// 64 KiB lets a bulk stream move in few system calls (a larger buffer measured no faster on
/// loopback).
const ECHO_BUFFER_SIZE: usize = 64 * 1024;

/// What a client's buffer starts at: enough for any typed line or small message.
///
/// Thousands of idle or chatty clients each cost a fraction of a page this way, where a 64 KiB
/// buffer from the start would cost 64 KiB of zeroed memory each. A client whose read
/// fills the buffer is streaming, and its buffer grows once, to [`ECHO_BUFFER_SIZE`].
const INITIAL_ECHO_BUFFER_SIZE: usize = 1024;

/// The buffer a client's echo loop reads into: memory per client is at most
/// [`ECHO_BUFFER_SIZE`], whatever the client sends.
pub(crate) struct EchoBuffer {
    bytes: Vec<u8>,
    max: usize,
}

impl EchoBuffer {
    /// A buffer of [`INITIAL_ECHO_BUFFER_SIZE`] bytes that may grow to [`ECHO_BUFFER_SIZE`].
    pub(crate) fn new() -> Self {
        Self {
            // Zero-filled, as safe Rust requires before a read: 1 KiB costs nothing measurable,
            // and the 64 KiB of a streaming client are written once, when it grows.
            bytes: vec![0; INITIAL_ECHO_BUFFER_SIZE],
            max: ECHO_BUFFER_SIZE,
        }
    }

    /// Reads once from `reader` into the buffer and returns the bytes that arrived (empty at end
    /// of stream).
    fn recv_from(&mut self, reader: &mut impl Read) -> io::Result<&[u8]> {
        let received = reader.read(&mut self.bytes)?;
        if received == self.bytes.len() && received < self.max {
            // A full read means more is waiting: the client streams, give it the large buffer.
            // The bytes already read stay at its start.
            self.bytes.resize(self.max, 0);
        }
        Ok(&self.bytes[..received])
    }
}

/// How an echo loop ended.
#[derive(Debug)]
pub(crate) enum EchoEnd {
    /// The peer closed (or half-closed) its side and everything it sent was echoed.
    PeerClosed,
    /// Nothing could be read, or the echo could not be written, for the idle timeout set on the
    /// socket.
    IdleTimeout,
    /// The connection failed: a reset, or our side was shut down by the server's shutdown.
    Failed(io::Error),
}

/// What an echo loop did: how many bytes went back, and why it stopped.
#[derive(Debug)]
pub(crate) struct EchoReport {
    /// Bytes read and written back in full.
    pub(crate) bytes: u64,
    /// Why the loop stopped.
    pub(crate) end: EchoEnd,
}

/// Echoes everything `reader` gives back through `writer` until end of stream (a client's
/// connection is both; under inetd, standard input and output), telling `on_echoed` each chunk's
/// size once it is written back, so that what was echoed is counted as it goes.
///
/// Timeouts are the socket's own (`SO_RCVTIMEO` and `SO_SNDTIMEO`, set by the caller): a read
/// that sees no data, or a write that makes no progress, for that long ends the loop with
/// [`EchoEnd::IdleTimeout`]. After [`EchoEnd::PeerClosed`] every byte the peer sent has been
/// written back, which is what makes a half-close work: the client shuts down its write side,
/// we read end of stream after its last byte, and the caller then closes the connection.
pub(crate) fn echo_until_eof(
    mut reader: impl Read,
    mut writer: impl Write,
    peer: SocketAddr,
    buffer: &mut EchoBuffer,
    mut on_echoed: impl FnMut(u64),
) -> EchoReport {
    let mut bytes = 0;
    let end = loop {
        let chunk = match buffer.recv_from(&mut reader) {
            Ok([]) => break EchoEnd::PeerClosed,
            Ok(chunk) => chunk,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if is_timeout(&err) => break EchoEnd::IdleTimeout,
            Err(err) => break EchoEnd::Failed(err),
        };
        trace_chunk(peer, Direction::Received, chunk);
        match writer.write_all(chunk) {
            Ok(()) => {
                bytes += chunk.len() as u64;
                on_echoed(chunk.len() as u64);
            }
            Err(err) if is_timeout(&err) => break EchoEnd::IdleTimeout,
            Err(err) => break EchoEnd::Failed(err),
        }
    };
    EchoReport { bytes, end }
}
