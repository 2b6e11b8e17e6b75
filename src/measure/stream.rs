//! `soc_client bench --stream`: one connection, pseudo-random bytes out and the echo verified on
//! the way back, both at once.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::Instant;

use anyhow::{anyhow, Context};

use super::report::StreamReport;
use crate::limits::{Hinted, Limit};
use crate::net::{self, Target};
use crate::wire::{self, Pattern};

/// What a stream run sends and how long it waits.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Bytes to stream.
    pub bytes: u64,
    /// How long the echo may make no progress.
    pub timeout: Limit,
}

/// Seed of the streamed bytes: any fixed value; the reader regenerates the same stream.
const STREAM_SEED: u64 = 0x50c;

/// Chunk size on both sides.
const CHUNK: usize = 64 * 1024;

/// Streams `options.bytes` pseudo-random bytes to `target`, half-closes, and verifies every
/// echoed byte against a regenerated copy of the stream while it sends.
pub fn stream(target: &Target, options: &StreamOptions) -> anyhow::Result<StreamReport> {
    let (bytes, timeout) = (options.bytes, options.timeout);
    let (connection, server) = net::connect_with_timeouts(target, timeout)?;
    let writer = connection
        .try_clone()
        .context("could not clone the connection")?;
    let started = Instant::now();
    let sender = thread::Builder::new()
        .name("stream sender".into())
        .spawn(move || -> io::Result<()> {
            let mut pattern = Pattern::new(STREAM_SEED);
            let mut chunk = vec![0u8; CHUNK];
            let mut left = bytes;
            while left > 0 {
                let len = left.min(CHUNK as u64) as usize;
                pattern.fill(&mut chunk[..len]);
                (&writer).write_all(&chunk[..len])?;
                left -= len as u64;
            }
            writer.shutdown(Shutdown::Write)
        })
        .context("could not start the sending thread")?;

    let mut expected = Pattern::new(STREAM_SEED);
    let mut buf = vec![0u8; CHUNK];
    let mut want = vec![0u8; CHUNK];
    let mut echoed: u64 = 0;
    let mut corrupted_bytes = 0;
    let mut first_corrupted_offset = None;
    let read_error = loop {
        let n = match (&connection).read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => break Some(err),
        };
        // Bytes past the end of what was sent are corrupt by definition; compare the rest.
        let comparable = (bytes.saturating_sub(echoed)).min(n as u64) as usize;
        expected.fill(&mut want[..comparable]);
        let (got, sent) = (&buf[..comparable], &want[..comparable]);
        let differing = wire::differing(got, sent);
        if differing > 0 {
            let first = got.iter().zip(sent).position(|(g, s)| g != s).unwrap_or(0);
            first_corrupted_offset.get_or_insert(echoed + first as u64);
            corrupted_bytes += differing as u64;
        }
        corrupted_bytes += (n - comparable) as u64;
        echoed += n as u64;
    };
    let seconds = started.elapsed().as_secs_f64();
    if let Some(err) = read_error {
        let what = if crate::net::is_timeout(&err) {
            anyhow::Error::new(Hinted::new(format!(
                "no echo from {server} for {timeout} ({{timeout}})"
            )))
        } else {
            anyhow::Error::new(err)
        };
        return Err(what.context(format!(
            "stream to {server} failed after {} came back",
            crate::human::bytes_of(echoed, bytes)
        )));
    }
    // The sender may have failed (a reset); what came back is reported either way.
    let _ = sender
        .join()
        .map_err(|_| anyhow!("the sending thread panicked"))?;
    Ok(StreamReport {
        server: server.to_string(),
        bytes_sent: bytes,
        bytes_echoed: echoed,
        seconds,
        mb_per_sec: if seconds > 0.0 {
            echoed as f64 / seconds / 1e6
        } else {
            0.0
        },
        corrupted_bytes,
        first_corrupted_offset,
    })
}
