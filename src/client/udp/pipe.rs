//! Piped mode over UDP: standard input goes out as datagrams and what comes back goes to
//! standard output in the order it was sent, byte for byte when nothing was lost.
//!
//! A sending thread cuts the input into datagrams of at most the size asked, ending each at a
//! line end where there is one, and keeps a bounded window of them in flight: enough to keep it
//! fast, few enough not to overrun the socket buffers on either side. The caller's thread
//! receives the echoes, matches each to the oldest datagram in flight with the same bytes, and
//! writes them out in order; a datagram with no echo within the timeout is given up (the output
//! goes on without it). Memory stays bounded by the window, whatever the input size.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use crate::dump::{trace_chunk, Direction};
use crate::limits::{Hinted, Limit};
use crate::net::{
    connect_datagram, means_nothing_listens, NothingListening, Target, RECEIVE_BUFFER,
};

/// How a piped run over UDP cuts its input and waits.
#[derive(Debug, Clone)]
pub struct DatagramPipeOptions {
    /// How long a datagram's echo may take before the datagram is given up.
    pub timeout: Limit,
    /// The most bytes in one datagram.
    pub size: usize,
}

/// What a piped run over UDP moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DatagramPipeReport {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams whose echo came back intact (and was written out).
    pub echoed: u64,
    /// Datagrams given up: no echo within the timeout.
    pub lost: u64,
    /// Echoes that came after their datagram was given up (not written out).
    pub late: u64,
    /// Echoes that came a second time.
    pub duplicated: u64,
    /// Datagrams that came back matching nothing sent: altered on the way.
    pub altered: u64,
    /// Bytes read from the input and sent.
    pub bytes_sent: u64,
    /// Bytes written out.
    pub bytes_echoed: u64,
}

impl DatagramPipeReport {
    /// True if every datagram came back, once, intact.
    pub fn intact(&self) -> bool {
        self.echoed == self.sent && self.late + self.duplicated + self.altered == 0
    }
}

/// Datagrams in flight at most.
const WINDOW: usize = 32;

/// Bytes in flight at most (the datagrams' payload): well inside a default socket buffer.
const WINDOW_BYTES: usize = 256 * 1024;

/// Datagrams done with (echoed or given up) that an echo arriving later is still compared with.
const SETTLED: usize = 256;

/// Bytes of input read at a time.
const INPUT_CHUNK: usize = 64 * 1024;

/// One datagram sent and not yet done with.
struct InFlight {
    bytes: Vec<u8>,
    sent: Instant,
    echoed: bool,
}

/// What the two threads share.
#[derive(Default)]
struct Window {
    /// Datagrams in flight, in the order sent.
    queue: VecDeque<InFlight>,
    bytes: usize,
    sender_done: bool,
    sender_failed: Option<anyhow::Error>,
    /// The receiving side has ended: the sender stops.
    receiver_done: bool,
    report: DatagramPipeReport,
}

struct Shared {
    window: Mutex<Window>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Window> {
        self.window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Aims a UDP socket at `target` and streams `input` through it as datagrams, the echoes to
/// `output` in order; fails, saying how many, unless every datagram came back once, intact.
pub fn pipe(
    target: &Target,
    options: &DatagramPipeOptions,
    input: impl Read + Send + 'static,
    output: &mut impl Write,
) -> anyhow::Result<DatagramPipeReport> {
    let (socket, server) = connect_datagram(target)?;
    // The receive timeout is a slice of the run's timeout, so that a datagram is given up
    // within the timeout and a slice.
    let slice = match options.timeout {
        Limit::After(limit) => {
            (limit / 4).clamp(Duration::from_millis(1), Duration::from_millis(100))
        }
        Limit::Never => Duration::from_millis(100),
    };
    socket
        .set_read_timeout(Some(slice))
        .context("could not set the socket timeout")?;
    let shared = Arc::new(Shared {
        window: Mutex::new(Window::default()),
        changed: Condvar::new(),
    });
    let sender = {
        let socket = socket.try_clone().context("could not share the socket")?;
        let shared = Arc::clone(&shared);
        let size = options.size.max(1);
        thread::Builder::new()
            .name("sender".into())
            .spawn(move || {
                let sent = send_datagrams(&socket, server, input, size, &shared);
                let mut window = shared.lock();
                window.sender_done = true;
                if let Err(err) = sent {
                    window.sender_failed = Some(err);
                }
                shared.changed.notify_all();
            })
            .context("could not start the sending thread")?
    };
    let received = receive_echoes(&socket, server, options.timeout, output, &shared);
    {
        let mut window = shared.lock();
        window.receiver_done = true;
        shared.changed.notify_all();
    }
    sender
        .join()
        .map_err(|_| anyhow!("the sending thread panicked"))?;
    let mut window = shared.lock();
    received?;
    if let Some(err) = window.sender_failed.take() {
        return Err(err);
    }
    let report = window.report;
    if !report.intact() {
        return Err(anyhow::Error::new(Hinted::new(format!(
            "{} of {} sent to udp {server} came back intact: {} not echoed within {} \
             ({{timeout}}), {} echoed late, {} twice, {} altered",
            report.echoed,
            crate::human::plural(report.sent, "datagram"),
            report.lost,
            options.timeout,
            report.late,
            report.duplicated,
            report.altered
        ))));
    }
    Ok(report)
}

/// Cuts `input` into datagrams and sends them, waiting for room in the window.
fn send_datagrams(
    socket: &UdpSocket,
    server: SocketAddr,
    mut input: impl Read,
    size: usize,
    shared: &Shared,
) -> anyhow::Result<()> {
    let mut pending: Vec<u8> = Vec::with_capacity(INPUT_CHUNK + size);
    let mut chunk = vec![0u8; INPUT_CHUNK];
    let mut ended = false;
    while !ended || !pending.is_empty() {
        if !ended {
            match input.read(&mut chunk) {
                Ok(0) => ended = true,
                Ok(n) => pending.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(anyhow::Error::new(err).context("could not read the input")),
            }
        }
        while let Some(len) = next_datagram(&pending, size, ended) {
            let datagram: Vec<u8> = pending.drain(..len).collect();
            {
                let mut window = shared.lock();
                while !window.receiver_done
                    && (window.queue.len() >= WINDOW || window.bytes + len > WINDOW_BYTES)
                {
                    window = shared
                        .changed
                        .wait(window)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                if window.receiver_done {
                    return Ok(());
                }
                window.queue.push_back(InFlight {
                    bytes: datagram.clone(),
                    sent: Instant::now(),
                    echoed: false,
                });
                window.bytes += len;
                window.report.sent += 1;
                window.report.bytes_sent += len as u64;
            }
            match socket.send(&datagram) {
                Ok(_) => trace_chunk(server, Direction::Sent, &datagram),
                Err(err) if means_nothing_listens(&err) => {
                    return Err(anyhow::Error::new(NothingListening(server)))
                }
                Err(err) if crate::net::is_too_big(&err) => {
                    return Err(crate::net::too_big(
                        (&socket).into(),
                        server,
                        datagram.len(),
                    ))
                }
                Err(err) => {
                    return Err(
                        anyhow::Error::new(err).context(format!("could not send to udp {server}"))
                    )
                }
            }
        }
    }
    Ok(())
}

/// How many bytes at the start of `pending` make the next datagram: at most `size`, ending after
/// the last line end within them where there is one; `None` while more input may complete it.
fn next_datagram(pending: &[u8], size: usize, ended: bool) -> Option<usize> {
    if pending.is_empty() {
        return None;
    }
    let window = &pending[..pending.len().min(size)];
    match window.iter().rposition(|&byte| byte == b'\n') {
        Some(end) => Some(end + 1),
        None if pending.len() >= size => Some(size),
        None if ended => Some(pending.len()),
        None => None,
    }
}

/// Receives echoes, writes them out in order, and gives up datagrams whose time has run out,
/// until the sender is done and nothing is in flight.
fn receive_echoes(
    socket: &UdpSocket,
    server: SocketAddr,
    timeout: Limit,
    output: &mut impl Write,
    shared: &Shared,
) -> anyhow::Result<()> {
    let mut buffer = vec![0u8; RECEIVE_BUFFER];
    // Datagrams done with, the newest last: whether each was echoed.
    let mut settled: VecDeque<(Vec<u8>, bool)> = VecDeque::new();
    loop {
        let arrived = match socket.recv(&mut buffer) {
            Ok(len) => Some(&buffer[..len]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if crate::net::is_timeout(&err) => None,
            Err(err) if means_nothing_listens(&err) => {
                return Err(anyhow::Error::new(NothingListening(server)))
            }
            Err(err) => {
                return Err(
                    anyhow::Error::new(err).context(format!("could not receive from udp {server}"))
                )
            }
        };
        let mut ready = Vec::new();
        let finished = {
            let mut window = shared.lock();
            if let Some(echo) = arrived {
                trace_chunk(server, Direction::Received, echo);
                match window
                    .queue
                    .iter_mut()
                    .find(|datagram| !datagram.echoed && datagram.bytes == echo)
                {
                    Some(datagram) => datagram.echoed = true,
                    None => match settled.iter().rev().find(|(bytes, _)| bytes == echo) {
                        Some((_, true)) => window.report.duplicated += 1,
                        Some((_, false)) => window.report.late += 1,
                        None => window.report.altered += 1,
                    },
                }
            }
            let now = Instant::now();
            while let Some(head) = window.queue.front() {
                let given_up = !head.echoed
                    && timeout
                        .as_option()
                        .is_some_and(|limit| now.duration_since(head.sent) > limit);
                if !head.echoed && !given_up {
                    break;
                }
                let head = window.queue.pop_front().expect("a head just seen");
                window.bytes -= head.bytes.len();
                if head.echoed {
                    window.report.echoed += 1;
                    window.report.bytes_echoed += head.bytes.len() as u64;
                } else {
                    window.report.lost += 1;
                }
                if settled.len() == SETTLED {
                    settled.pop_front();
                }
                let echoed = head.echoed;
                if echoed {
                    ready.push(head.bytes.clone());
                }
                settled.push_back((head.bytes, echoed));
            }
            shared.changed.notify_all();
            window.sender_done && window.queue.is_empty()
        };
        for datagram in ready {
            output
                .write_all(&datagram)
                .context("could not write to standard output")?;
        }
        if finished {
            return output.flush().context("could not write to standard output");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::next_datagram;

    #[test]
    fn datagrams_end_at_a_line_end_where_there_is_one() {
        assert_eq!(next_datagram(b"one\ntwo\nthr", 100, false), Some(8));
        assert_eq!(next_datagram(b"one\ntwo\nthr", 5, false), Some(4));
        assert_eq!(
            next_datagram(b"a line longer than the size", 6, false),
            Some(6)
        );
        assert_eq!(next_datagram(b"partial", 100, false), None);
        assert_eq!(next_datagram(b"partial", 100, true), Some(7));
        assert_eq!(next_datagram(b"", 100, true), None);
    }
}
