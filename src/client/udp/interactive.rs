//! The terminal session over UDP: each line typed goes out as one datagram and its echo is
//! printed. A datagram may be lost: when no echo comes within the timeout, one line says so and
//! the session goes on. An echo that comes after that is shown as late, for the line it belongs
//! to, never as the answer to another line.

use std::collections::VecDeque;
use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::client::interactive::{
    cut_by_the_terminal, is_quit, spawn_line_reader, typed_line, Keyboard,
};
use crate::client::SessionOptions;
use crate::dump::{trace_chunk, Direction};
use crate::human;
use crate::net::{
    connect_datagram, means_nothing_listens, NothingListening, Target, RECEIVE_BUFFER,
};

/// Events queued at most: the reader blocks beyond that, and the system holds the rest.
const EVENT_QUEUE: usize = 16;

/// Lines whose echo did not come in time, kept so that a late echo can still be recognised.
const REMEMBERED: usize = 64;

/// How often the reader thread looks whether the session is over.
const READER_CHECK: Duration = Duration::from_millis(100);

/// What the session waits for: the keyboard, or the socket.
enum Event {
    Keyboard(Keyboard),
    Datagram(Vec<u8>, Instant),
    NothingListens,
    Failed(io::Error),
}

impl From<Keyboard> for Event {
    fn from(keyboard: Keyboard) -> Self {
        Event::Keyboard(keyboard)
    }
}

/// A line sent whose echo has not come (yet).
struct Awaited {
    number: u64,
    bytes: Vec<u8>,
    sent: Instant,
}

/// Aims a UDP socket at `target`, then runs a line-at-a-time session: each line from `input`
/// (newline included) is one datagram, its echo goes to `output`; the banner, prompts and what
/// became of lost and late echoes go to `messages`. Ends with `Ok` on `exit`, `quit` or end of
/// input, with an error where the system reports that nothing listens on the server's port.
pub fn interactive(
    target: &Target,
    options: &SessionOptions,
    input: impl BufRead + Send + 'static,
    output: &mut impl Write,
    messages: &mut impl Write,
) -> anyhow::Result<()> {
    let (socket, server) = connect_datagram(target)?;
    let _ = writeln!(
        messages,
        "sending to udp {server}: each line one datagram; `exit`, `quit` or Ctrl-D to leave"
    );
    let (events, next_event) = mpsc::sync_channel(EVENT_QUEUE);
    let (permits, permit) = mpsc::channel();
    spawn_line_reader(input, events.clone(), permit)?;
    let done = Arc::new(AtomicBool::new(false));
    spawn_datagram_reader(&socket, server, events, Arc::clone(&done))?;
    let mut session = Session {
        socket: &socket,
        server,
        timeout: options.timeout.as_option(),
        next_event,
        permits,
        held: VecDeque::new(),
        awaited: VecDeque::new(),
        lines: 0,
    };
    let result = session.run(output, messages);
    done.store(true, Ordering::SeqCst);
    result
}

struct Session<'a> {
    socket: &'a UdpSocket,
    server: SocketAddr,
    timeout: Option<Duration>,
    next_event: mpsc::Receiver<Event>,
    permits: mpsc::Sender<()>,
    /// Keyboard events that arrived while an echo was awaited.
    held: VecDeque<Event>,
    /// Lines sent and not echoed, the oldest first.
    awaited: VecDeque<Awaited>,
    lines: u64,
}

/// What a datagram that arrived is.
enum Belongs {
    /// The echo of the line now awaited.
    Answer,
    /// The echo of an earlier line, whose time ran out.
    Late(Awaited),
    /// Nothing sent looks like it (a duplicate, or an echo altered on the way).
    Nowhere,
}

impl Session<'_> {
    fn run(&mut self, output: &mut impl Write, messages: &mut impl Write) -> anyhow::Result<()> {
        loop {
            let _ = write!(messages, "> ");
            let _ = messages.flush();
            let Some(line) = self.next_line(output, messages)? else {
                return Ok(());
            };
            if is_quit(&line) {
                return Ok(());
            }
            if let Some(note) = cut_by_the_terminal(&line) {
                let _ = writeln!(messages, "{note}");
            }
            self.send(line)?;
            self.await_echo(output, messages)?;
            let _ = self.permits.send(());
        }
    }

    fn send(&mut self, line: Vec<u8>) -> anyhow::Result<()> {
        self.lines += 1;
        match self.socket.send(&line) {
            Ok(_) => trace_chunk(self.server, Direction::Sent, &line),
            Err(err) if means_nothing_listens(&err) => bail!(NothingListening(self.server)),
            Err(err) if crate::net::is_too_big(&err) => {
                return Err(crate::net::too_big(
                    (&self.socket).into(),
                    self.server,
                    line.len(),
                ))
            }
            Err(err) => {
                return Err(anyhow::Error::new(err)
                    .context(format!("could not send to udp {}", self.server)))
            }
        }
        if self.awaited.len() == REMEMBERED {
            self.awaited.pop_front();
        }
        self.awaited.push_back(Awaited {
            number: self.lines,
            bytes: line,
            sent: Instant::now(),
        });
        Ok(())
    }

    /// The next line typed, or `None` at end of input; echoes that come meanwhile are late.
    fn next_line(
        &mut self,
        output: &mut impl Write,
        messages: &mut impl Write,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        loop {
            let event = match self.held.pop_front() {
                Some(event) => event,
                None => self
                    .next_event
                    .recv()
                    .unwrap_or(Event::Keyboard(Keyboard::Ended)),
            };
            match event {
                Event::Keyboard(Keyboard::Line(line)) => return Ok(Some(typed_line(line))),
                Event::Keyboard(Keyboard::Ended) => {
                    let _ = writeln!(messages);
                    return Ok(None);
                }
                Event::Keyboard(Keyboard::Failed(err)) => {
                    return Err(anyhow::Error::new(err).context("could not read standard input"))
                }
                Event::Datagram(bytes, arrived) => {
                    self.place(bytes, arrived, None, output, messages)?;
                }
                Event::NothingListens => bail!(NothingListening(self.server)),
                Event::Failed(err) => {
                    return Err(anyhow::Error::new(err)
                        .context(format!("could not receive from udp {}", self.server)))
                }
            }
        }
    }

    /// Waits for the echo of the line just sent, for the timeout at most.
    fn await_echo(
        &mut self,
        output: &mut impl Write,
        messages: &mut impl Write,
    ) -> anyhow::Result<()> {
        let current = self.lines;
        let sent = Instant::now();
        loop {
            let waited = match self.timeout {
                Some(limit) => match limit.checked_sub(sent.elapsed()) {
                    Some(left) => self.next_event.recv_timeout(left),
                    None => Err(mpsc::RecvTimeoutError::Timeout),
                },
                None => self
                    .next_event
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            match waited {
                Ok(Event::Datagram(bytes, arrived)) => {
                    if self.place(bytes, arrived, Some(current), output, messages)? {
                        return Ok(());
                    }
                }
                Ok(keyboard @ Event::Keyboard(_)) => self.held.push_back(keyboard),
                Ok(Event::NothingListens) => bail!(NothingListening(self.server)),
                Ok(Event::Failed(err)) => {
                    return Err(anyhow::Error::new(err)
                        .context(format!("could not receive from udp {}", self.server)))
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let limit = self.timeout.unwrap_or_default();
                    let _ = writeln!(
                        messages,
                        "no echo for line {current} within {}: it may have been lost (an echo \
                         that comes later is shown as late)",
                        human::secs(limit)
                    );
                    return Ok(());
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
    }

    /// Shows a datagram for what it is; true when it answers line `current`.
    fn place(
        &mut self,
        bytes: Vec<u8>,
        arrived: Instant,
        current: Option<u64>,
        output: &mut impl Write,
        messages: &mut impl Write,
    ) -> anyhow::Result<bool> {
        match self.belongs(&bytes, current) {
            Belongs::Answer => {
                output
                    .write_all(&bytes)
                    .and_then(|()| output.flush())
                    .context("could not write to standard output")?;
                if !bytes.ends_with(b"\n") {
                    let _ = writeln!(messages);
                }
                Ok(true)
            }
            Belongs::Late(line) => {
                let _ = writeln!(
                    messages,
                    "late echo of line {}, {:.3} s after it was sent: {}",
                    line.number,
                    arrived.duration_since(line.sent).as_secs_f64(),
                    String::from_utf8_lossy(&bytes).trim_end()
                );
                Ok(false)
            }
            Belongs::Nowhere => {
                let _ = writeln!(
                    messages,
                    "a datagram that matches no line awaited (a duplicate, or altered on the \
                     way): {}",
                    String::from_utf8_lossy(&bytes).trim_end()
                );
                Ok(false)
            }
        }
    }

    /// Which line sent a datagram echoes: the oldest awaited line with those bytes (datagrams
    /// mostly arrive in the order they were sent).
    fn belongs(&mut self, bytes: &[u8], current: Option<u64>) -> Belongs {
        let Some(at) = self.awaited.iter().position(|line| line.bytes == bytes) else {
            return Belongs::Nowhere;
        };
        let line = self.awaited.remove(at).expect("an index found just now");
        match Some(line.number) == current {
            true => Belongs::Answer,
            false => Belongs::Late(line),
        }
    }
}

/// Receives datagrams on a thread of its own, as events, until the session is over.
fn spawn_datagram_reader(
    socket: &UdpSocket,
    server: SocketAddr,
    events: mpsc::SyncSender<Event>,
    done: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let reader = socket.try_clone().context("could not watch the socket")?;
    reader
        .set_read_timeout(Some(READER_CHECK))
        .context("could not set the socket timeout")?;
    thread::Builder::new()
        .name("datagrams".into())
        .spawn(move || {
            let mut buffer = vec![0u8; RECEIVE_BUFFER];
            while !done.load(Ordering::SeqCst) {
                let event = match reader.recv(&mut buffer) {
                    Ok(len) => {
                        trace_chunk(server, Direction::Received, &buffer[..len]);
                        Event::Datagram(buffer[..len].to_vec(), Instant::now())
                    }
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) if crate::net::is_timeout(&err) => continue,
                    Err(err) if means_nothing_listens(&err) => Event::NothingListens,
                    Err(err) => Event::Failed(err),
                };
                let last = !matches!(event, Event::Datagram(..));
                if events.send(event).is_err() || last {
                    return;
                }
            }
        })
        .context("could not start the datagram reader")?;
    Ok(())
}
