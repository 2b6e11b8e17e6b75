//! The echo loop: read what arrived, write all of it back, until the peer closes.
//!
//! This is the only place where the server copies bytes. It never looks at them: no framing, no
//! newline handling, no text decoding, so the echo is byte-transparent (RFC 862), and one read is
//! never assumed to be one of the client's writes.

use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpStream};

use socket2::SockRef;

use crate::dump::{trace_chunk, Direction};
use crate::net::is_timeout;

/// Size of the one buffer each client gets.
///
/// 64 KiB lets a bulk stream move in few system calls (a larger buffer measured no faster on
/// loopback), and it costs an idle client almost nothing: the buffer is never zero-filled, so only
/// the pages that data has actually passed through become resident.
pub const ECHO_BUFFER_SIZE: usize = 64 * 1024;

/// The fixed buffer a client's echo loop reads into; memory per client is this, whatever the
/// client sends.
pub struct EchoBuffer {
    bytes: Box<[MaybeUninit<u8>]>,
}

impl EchoBuffer {
    /// A buffer of [`ECHO_BUFFER_SIZE`] bytes, left uninitialised (see there why).
    pub fn new() -> Self {
        Self::with_size(ECHO_BUFFER_SIZE)
    }

    /// A buffer of `size` bytes.
    pub fn with_size(size: usize) -> Self {
        Self {
            bytes: Box::new_uninit_slice(size.max(1)),
        }
    }

    /// Reads once from `stream` into the buffer and returns the bytes that arrived (empty at end
    /// of stream).
    fn recv_from(&mut self, stream: &TcpStream) -> io::Result<&[u8]> {
        let received = SockRef::from(stream).recv(&mut self.bytes)?;
        // SAFETY: recv(2) has written `received` bytes at the start of the buffer, so that prefix
        // is initialised; `received <= self.bytes.len()` because recv never writes past the slice
        // it is given.
        Ok(unsafe { std::slice::from_raw_parts(self.bytes.as_ptr().cast::<u8>(), received) })
    }
}

impl Default for EchoBuffer {
    fn default() -> Self {
        Self::new()
    }
}

/// How an echo loop ended.
#[derive(Debug)]
pub enum EchoEnd {
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
pub struct EchoReport {
    /// Bytes read and written back in full.
    pub bytes: u64,
    /// Why the loop stopped.
    pub end: EchoEnd,
}

/// Echoes everything `stream` sends back to it until end of stream.
///
/// Timeouts are the socket's own (`SO_RCVTIMEO` and `SO_SNDTIMEO`, set by the caller): a read
/// that sees no data, or a write that makes no progress, for that long ends the loop with
/// [`EchoEnd::IdleTimeout`]. After [`EchoEnd::PeerClosed`] every byte the peer sent has been
/// written back, which is what makes a half-close work: the client shuts down its write side,
/// we read end of stream after its last byte, and the caller then closes the connection.
pub fn echo_until_eof(stream: &TcpStream, peer: SocketAddr, buffer: &mut EchoBuffer) -> EchoReport {
    let mut bytes = 0;
    let mut writer = stream;
    let end = loop {
        let chunk = match buffer.recv_from(stream) {
            Ok([]) => break EchoEnd::PeerClosed,
            Ok(chunk) => chunk,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if is_timeout(&err) => break EchoEnd::IdleTimeout,
            Err(err) => break EchoEnd::Failed(err),
        };
        trace_chunk(peer, Direction::Received, chunk);
        match writer.write_all(chunk) {
            Ok(()) => bytes += chunk.len() as u64,
            Err(err) if is_timeout(&err) => break EchoEnd::IdleTimeout,
            Err(err) => break EchoEnd::Failed(err),
        }
    };
    EchoReport { bytes, end }
}
