//! Logging that never makes the caller wait: records go through a bounded queue to one writer
//! thread, and are dropped (and counted) rather than waited for when the queue is full.
//!
//! A server's log is written to standard error, which can stop draining: a terminal paused with
//! Ctrl-S, `soc_server 2>&1 | less` left on its first page, a stalled log shipper. Written
//! directly, every client thread would then block in its next log line, and the server would stop
//! echoing. Here a full queue costs a client thread one failed `try_send`; when the writer can
//! write again, it first says how many lines were lost.
//!
//! The format, levels and `RUST_LOG` are env_logger's ([`crate::cli::Verbosity`]); only where
//! the formatted lines go differs.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::Duration;

/// Records queued at most before new ones are dropped.
pub const QUEUE_RECORDS: usize = 1024;

/// Bytes queued at most (a trace-level hex dump of a 64 KiB chunk is about 300 KiB).
pub const QUEUE_BYTES: usize = 8 << 20;

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
pub fn dropped_lines() -> u64 {
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
pub struct QueueWriter {
    queue: SyncSender<Vec<u8>>,
}

impl QueueWriter {
    /// Starts the thread that writes queued records to standard error and returns the writer
    /// that feeds it.
    pub fn to_stderr() -> io::Result<QueueWriter> {
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
