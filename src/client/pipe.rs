//! Piped mode: standard input streamed through the server to standard output.
//!
//! Sending and receiving run at the same time, on two threads. Sending everything first and
//! reading afterwards deadlocks as soon as the input outgrows the socket buffers on both sides
//! (the server blocks writing an echo we do not read, so it stops reading what we send, so we
//! block too); reading concurrently keeps every buffer draining whatever the input size.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use crate::dump::{trace_chunk, Direction};
use crate::human;
use crate::limits::{Hinted, Limit};
use crate::net::is_timeout;
use crate::net::{connect_with_timeouts, is_hang_up, turned_away, Target};

/// Read size on both sides: large enough that a bulk transfer is a few system calls per MiB.
const CHUNK: usize = 64 * 1024;

/// How a piped run waits.
#[derive(Debug, Clone)]
pub struct PipeOptions {
    /// How long an echo may make no progress while bytes are outstanding (a slow input is not
    /// a stall), and a send may make none.
    pub timeout: Limit,
}

/// What a piped run moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeReport {
    /// Bytes read from the input and sent.
    pub sent: u64,
    /// Bytes that came back (equal to `sent` on success).
    pub received: u64,
    /// From the first byte sent to the end of the echo.
    pub elapsed: Duration,
    /// The output was closed before the echo ended (`soc_client | head`): the run stopped early,
    /// on purpose, and was not checked.
    pub output_closed: bool,
}

/// How often a wait for echo looks at the clock: a small part of `timeout`, at most 250 ms.
fn check_interval(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_millis(1), Duration::from_millis(250))
}

/// Progress the sender publishes for the receiver.
#[derive(Default)]
struct SendProgress {
    sent: AtomicU64,
    /// Set, with the final count and checksum, before the write side is shut down.
    finished: AtomicBool,
    /// Set when sending failed, before the socket is shut down to wake the receiver.
    failed: AtomicBool,
    /// Set when the input could not be read (the failure is then the input's, not the server's).
    input_failed: AtomicBool,
    checksum: std::sync::Mutex<Option<u32>>,
}

/// Connects, then streams `input` to the server and the echo to `output` until the input ends and
/// every byte sent has come back; fails unless exactly the bytes sent came back.
///
/// At end of input the write side is shut down (a half-close), which tells the server we are
/// done; it then finishes echoing and closes, and our read sees end of stream. The comparison is
/// by count and CRC-32, so memory stays fixed for any input size.
pub fn pipe(
    target: &Target,
    options: &PipeOptions,
    input: impl Read + Send + 'static,
    output: &mut impl Write,
) -> anyhow::Result<PipeReport> {
    let timeout = options.timeout;
    let (stream, peer) = connect_with_timeouts(target, timeout)?;
    // The socket's read timeout is a slice of the timeout: the stall is timed here, from the
    // moment bytes are seen outstanding, so that it ends within the timeout plus one slice.
    stream
        .set_read_timeout(timeout.as_option().map(check_interval))
        .context("could not set the read timeout")?;
    let stream = Arc::new(stream);
    let progress = Arc::new(SendProgress::default());
    let started = Instant::now();
    let sender = {
        let stream = Arc::clone(&stream);
        let progress = Arc::clone(&progress);
        thread::Builder::new()
            .name("sender".into())
            .spawn(move || {
                let sent = send_all(&stream, peer, input, &progress, timeout);
                if sent.is_err() {
                    progress.failed.store(true, Ordering::SeqCst);
                    // Wake the receiving side, which may be waiting for an echo that, with
                    // nothing more sent, will never come; it then reports this error.
                    let _ = stream.shutdown(Shutdown::Both);
                }
                sent
            })
            .context("could not start the sending thread")?
    };

    let echo = copy_echo(&stream, peer, &progress, timeout, output)?;
    if echo.output_closed {
        // The reader of our output has gone (`| head`): that ends the run quietly, as it does
        // for cat. Shutting the socket also stops the sender.
        let _ = stream.shutdown(Shutdown::Both);
        return Ok(PipeReport {
            sent: progress.sent.load(Ordering::SeqCst),
            received: echo.received,
            elapsed: started.elapsed(),
            output_closed: true,
        });
    }
    let received = echo.received;
    let sent = progress.sent.load(Ordering::SeqCst);
    if !progress.finished.load(Ordering::SeqCst) && !progress.failed.load(Ordering::SeqCst) {
        // The server closed before we finished sending; the sender may be blocked on input,
        // so do not wait for it.
        match received {
            0 => return Err(turned_away(peer, None)),
            _ => bail!(
                "{peer} closed the connection before the input ended ({} sent so far came back)",
                human::bytes_of(received, sent)
            ),
        }
    }
    // The sender is done or about to be; if it failed (unreadable input, a send error), its
    // error is the cause to show, unless the server had ended the connection before any echo
    // (the sender then meets a reset or a failed half-close, which are not the cause).
    let sending = sender
        .join()
        .map_err(|_| anyhow!("the sending thread panicked"))?;
    if received == 0 && sent > 0 && !progress.input_failed.load(Ordering::SeqCst) {
        return Err(turned_away(peer, None));
    }
    sending?;
    let sent_checksum = progress
        .checksum
        .lock()
        .map_err(|_| anyhow!("the sending thread panicked"))?
        .unwrap_or_default();
    let report = PipeReport {
        sent,
        received,
        elapsed: started.elapsed(),
        output_closed: false,
    };
    if received != sent {
        bail!(
            "{} sent came back from {peer}",
            human::bytes_of(received, sent)
        );
    }
    if echo.checksum != sent_checksum {
        bail!(
            "the echo from {peer} differs from what was sent ({} each way)",
            human::bytes(sent)
        );
    }
    log::debug!(
        "{sent} bytes sent and echoed intact in {:.3?}",
        report.elapsed
    );
    Ok(report)
}

/// What came back on a pipe's connection.
struct Echo {
    received: u64,
    /// CRC-32 of the bytes received.
    checksum: u32,
    /// The reader of the output went away before the end.
    output_closed: bool,
}

/// Copies the echo from `stream` to `output` until end of stream, failing when bytes sent stay
/// unechoed for `timeout` (the sender's `progress` says what was sent).
fn copy_echo(
    stream: &TcpStream,
    peer: SocketAddr,
    progress: &SendProgress,
    timeout: Limit,
    output: &mut impl Write,
) -> anyhow::Result<Echo> {
    let mut buf = vec![0u8; CHUNK];
    let mut received: u64 = 0;
    let mut checksum = crc32fast::Hasher::new();
    // Since when bytes have been outstanding with nothing coming back.
    let mut stalled_since: Option<Instant> = None;
    loop {
        let n = match (&*stream).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if is_timeout(&err) => {
                // Waiting on a slow input is not a stall: only bytes sent and not echoed are.
                let sent = progress.sent.load(Ordering::SeqCst);
                if sent <= received {
                    stalled_since = None;
                    continue;
                }
                let since = *stalled_since.get_or_insert_with(Instant::now);
                if let Limit::After(limit) = timeout {
                    if since.elapsed() >= limit {
                        return Err(anyhow::Error::new(Hinted::new(format!(
                            "no echo from {peer} for {:.1} s ({{timeout}} {timeout}); {} sent \
                             came back",
                            since.elapsed().as_secs_f64(),
                            human::bytes_of(received, sent)
                        ))));
                    }
                }
                continue;
            }
            Err(err) if received == 0 && is_hang_up(&err) => {
                return Err(turned_away(peer, Some(err)))
            }
            Err(err) => {
                return Err(anyhow::Error::new(err).context(format!(
                    "connection to {peer} failed after {} sent came back",
                    human::bytes_of(received, progress.sent.load(Ordering::SeqCst))
                )))
            }
        };
        let chunk = &buf[..n];
        stalled_since = None;
        trace_chunk(peer, Direction::Received, chunk);
        checksum.update(chunk);
        received += n as u64;
        if let Err(err) = output.write_all(chunk) {
            if err.kind() == io::ErrorKind::BrokenPipe {
                return Ok(Echo {
                    received,
                    checksum: checksum.finalize(),
                    output_closed: true,
                });
            }
            return Err(anyhow::Error::new(err).context("could not write to standard output"));
        }
    }
    match output.flush() {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => {
            return Err(anyhow::Error::new(err).context("could not write to standard output"))
        }
        _ => {}
    }
    Ok(Echo {
        received,
        checksum: checksum.finalize(),
        output_closed: false,
    })
}

/// The sending side: input to socket, then a half-close.
fn send_all(
    stream: &TcpStream,
    peer: SocketAddr,
    mut input: impl Read,
    progress: &SendProgress,
    timeout: Limit,
) -> anyhow::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut checksum = crc32fast::Hasher::new();
    let mut writer = stream;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                progress.input_failed.store(true, Ordering::SeqCst);
                return Err(anyhow::Error::new(err).context("could not read the input"));
            }
        };
        let chunk = &buf[..n];
        checksum.update(chunk);
        // write_all, counting each partial write at once: the receiver times a stall from the
        // first byte outstanding, not from the end of a 64 KiB chunk.
        let mut written = 0;
        while written < n {
            match writer.write(&chunk[written..]) {
                Ok(0) => bail!("could not send to {peer}: the connection is closed"),
                Ok(part) => {
                    written += part;
                    progress.sent.fetch_add(part as u64, Ordering::SeqCst);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if is_timeout(&err) => {
                    let sent = progress.sent.load(Ordering::SeqCst);
                    return Err(anyhow::Error::new(Hinted::new(format!(
                        "could not send to {peer} for {timeout} ({{timeout}}): the server is not \
                         reading ({} sent)",
                        human::bytes(sent)
                    ))));
                }
                Err(err) => {
                    let sent = progress.sent.load(Ordering::SeqCst);
                    return Err(anyhow::Error::new(err).context(format!(
                        "could not send to {peer} after {}",
                        human::bytes(sent)
                    )));
                }
            }
        }
        trace_chunk(peer, Direction::Sent, chunk);
    }
    if let Ok(mut slot) = progress.checksum.lock() {
        *slot = Some(checksum.finalize());
    }
    progress.finished.store(true, Ordering::SeqCst);
    stream
        .shutdown(Shutdown::Write)
        .context("could not half-close the connection")
}
