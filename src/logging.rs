//! Logging that never makes the caller wait: records go through a bounded queue to one writer
//! thread, and are dropped (and counted) rather than waited for when the queue is full.
//!
//! A server's log is written to standard error, which can stop draining: a terminal paused with
//! Ctrl-S, `soc_server 2>&1 | less` left on its first page, a stalled log shipper. Written
//! directly, every client thread would then block in its next log line, and the server would stop
//! echoing. Here a full queue costs a client thread one failed `try_send`; when the writer can
//! write again, it first says how many lines were lost.
//!
//! The format, levels and `RUST_LOG` are env_logger's ([`init`]); only where the formatted lines
//! go differs. A warning that may repeat many times a second goes through `RateLimited`.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Where [`init`] sends log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Written to standard error by the thread that logs: fine for a client, whose one user
    /// reads its terminal.
    Direct,
    /// Queued to one writer thread (`QueueWriter`), so that a log line never makes the caller
    /// wait for standard error: what a server needs, whose log nobody may be reading.
    Queued,
}

/// Sets up env_logger on standard error at `level`; `RUST_LOG`, when set, wins.
pub fn init(level: log::LevelFilter, output: Output) -> io::Result<()> {
    let mut builder = env_logger::Builder::new();
    builder
        .filter_level(level)
        .parse_env("RUST_LOG")
        .format_target(false);
    if output == Output::Queued {
        let queue = QueueWriter::to_stderr()?;
        builder
            .target(env_logger::Target::Pipe(Box::new(queue)))
            // The writer thread strips colours where standard error does not show them.
            .write_style(env_logger::WriteStyle::Always);
    }
    builder.init();
    Ok(())
}

/// Records queued at most before new ones are dropped.
const QUEUE_RECORDS: usize = 1024;

/// Bytes queued at most (a trace-level hex dump of a 64 KiB chunk is about 300 KiB).
const QUEUE_BYTES: usize = 8 << 20;

/// Lines dropped since the process started (0 when the queue is not in use).
static DROPPED_TOTAL: AtomicU64 = AtomicU64::new(0);

/// Lines dropped since the writer last said so.
static DROPPED_UNREPORTED: AtomicU64 = AtomicU64::new(0);

/// Records and bytes in the queue, and a signal when it empties (for [`flush`]).
static QUEUED: Queued = Queued {
    records: Mutex::new(0),
    emptied: Condvar::new(),
    bytes: AtomicUsize::new(0),
};

struct Queued {
    records: Mutex<usize>,
    emptied: Condvar,
    bytes: AtomicUsize,
}

/// How many log lines were dropped because standard error was not being read.
pub(crate) fn dropped_lines() -> u64 {
    DROPPED_TOTAL.load(Ordering::Relaxed)
}

/// Waits until every queued line is written, or `limit` has passed (standard error may never
/// drain); returns whether the queue emptied.
pub fn flush(limit: Duration) -> bool {
    let records = QUEUED
        .records
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (records, _) = QUEUED
        .emptied
        .wait_timeout_while(records, limit, |queued| *queued > 0)
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *records == 0
}

/// The writer env_logger formats into (one `write_all` per record): it queues, never blocks.
struct QueueWriter {
    queue: SyncSender<Vec<u8>>,
}

impl QueueWriter {
    /// Starts the thread that writes queued records to standard error and returns the writer
    /// that feeds it.
    fn to_stderr() -> io::Result<QueueWriter> {
        let (queue, records) = mpsc::sync_channel::<Vec<u8>>(QUEUE_RECORDS);
        thread::Builder::new()
            .name("log writer".into())
            .spawn(move || {
                // Colours as env_logger would choose them for standard error (none when it is not a
                // terminal, Windows consoles included).
                let mut stderr = anstream::AutoStream::auto(io::stderr());
                for record in records {
                    let dropped = DROPPED_UNREPORTED.swap(0, Ordering::Relaxed);
                    if dropped > 0 {
                        let _ = writeln!(
                            stderr,
                            "[soc] {dropped} log lines dropped: standard error was not being read"
                        );
                    }
                    let _ = stderr.write_all(&record).and_then(|()| stderr.flush());
                    QUEUED.bytes.fetch_sub(record.len(), Ordering::Relaxed);
                    let mut queued = QUEUED
                        .records
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    *queued -= 1;
                    if *queued == 0 {
                        QUEUED.emptied.notify_all();
                    }
                }
            })?;
        Ok(QueueWriter { queue })
    }

    fn drop_record(&self) {
        DROPPED_TOTAL.fetch_add(1, Ordering::Relaxed);
        DROPPED_UNREPORTED.fetch_add(1, Ordering::Relaxed);
    }
}

impl Write for QueueWriter {
    fn write(&mut self, record: &[u8]) -> io::Result<usize> {
        if QUEUED.bytes.fetch_add(record.len(), Ordering::Relaxed) + record.len() > QUEUE_BYTES {
            QUEUED.bytes.fetch_sub(record.len(), Ordering::Relaxed);
            self.drop_record();
            return Ok(record.len());
        }
        *QUEUED
            .records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) += 1;
        match self.queue.try_send(record.to_vec()) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                QUEUED.bytes.fetch_sub(record.len(), Ordering::Relaxed);
                let mut queued = QUEUED
                    .records
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                *queued -= 1;
                self.drop_record();
            }
        }
        // Whole or dropped, the record is done with: a short count would make env_logger's
        // write_all call again with the rest.
        Ok(record.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How often a warning that can repeat (an accept error, a rejected client, a refused datagram,
/// a corrupted echo) is logged at most.
pub(crate) const WARNING_INTERVAL: Duration = Duration::from_secs(1);

/// A warning that may repeat quickly (once per accept attempt, per rejected client, per corrupted
/// echo), logged at most once per interval with a count of the ones in between.
pub(crate) struct RateLimited {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    /// A warning logged at most once per `interval`.
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// Logs the message `make(again)` builds, where `again` says how many were held back since
    /// the last one, or counts it as held back.
    pub(crate) fn warn(&mut self, make: impl FnOnce(&str) -> String) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            self.suppressed += 1;
            return;
        }
        let again = match self.suppressed {
            0 => String::new(),
            n => format!(" ({n} more like this since the last warning)"),
        };
        let message = make(&again);
        log::warn!("{message}");
        self.last = Some(now);
        self.suppressed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_warnings_are_rate_limited() {
        let mut limited = RateLimited::new(Duration::from_secs(3600));
        let mut logged = Vec::new();
        for _ in 0..5 {
            limited.warn(|again| {
                logged.push(again.to_string());
                String::new()
            });
        }
        assert_eq!(
            logged,
            vec![String::new()],
            "only the first of five is logged"
        );
        assert_eq!(limited.suppressed, 4);
    }
}
