//! The terminal session: a prompt, a line typed, the line echoed, until `exit`, `quit` or end of
//! input (Ctrl-D; Ctrl-Z then Enter on Windows).

use std::collections::VecDeque;
use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;

use anyhow::{anyhow, Context};

use crate::dump::{trace_chunk, Direction};
use crate::limits::Limit;
use crate::net::{
    connect_with_timeouts, is_hang_up, send_all, turned_away, Answered, ShortRead, ShortReadCause,
    Target,
};

/// Lines that end the session instead of being sent (on their own, surrounding blanks ignored).
const QUIT_WORDS: [&str; 2] = ["exit", "quit"];

/// What the keyboard thread reports: a line typed, the end of input, or a failure.
pub(super) enum Keyboard {
    Line(Vec<u8>),
    Ended,
    Failed(io::Error),
}

/// Events the session waits for, from the keyboard thread and the connection's reader thread,
/// in one channel so that one wait sees whichever comes first.
enum Event {
    Keyboard(Keyboard),
    Echo(Vec<u8>),
    ServerClosed,
    ConnectionFailed(io::Error),
}

impl From<Keyboard> for Event {
    fn from(keyboard: Keyboard) -> Self {
        Event::Keyboard(keyboard)
    }
}

/// Events queued at most: the reader blocks beyond that, and TCP holds the rest.
const EVENT_QUEUE: usize = 16;

/// Bytes the reader thread takes from the connection at a time.
const READ_CHUNK: usize = 4096;

/// How a session waits for each echo.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// How long an echo may make no progress (an idle user is never a timeout).
    pub timeout: Limit,
}

/// Connects, then runs a line-at-a-time session: reads lines from `input`, sends each (newline
/// included) and writes its echo to `output`; the banner and prompts go to `messages`.
///
/// Each reply is gathered until as many bytes as were sent have come back, so a line split
/// across several TCP segments is still printed whole. An empty line is sent as its newline, so
/// it is echoed too rather than waiting for a reply that never comes. A line typed on a Windows
/// console ends in `\r\n`; it is sent with `\n`, as on every other system, so the same session
/// sends the same bytes everywhere. Ends with `Ok` on `exit`, `quit` or end of input, with an
/// error if the server goes away or stops answering for `timeout`.
///
/// Like netcat, and unlike the Python original, it notices a server that goes away while the
/// user is still typing: one thread reads the keyboard, another owns the connection's read side,
/// and both report to the session, which so hears at once whichever speaks first.
pub fn interactive(
    target: &Target,
    options: &SessionOptions,
    input: impl BufRead + Send + 'static,
    output: &mut impl Write,
    messages: &mut impl Write,
) -> anyhow::Result<()> {
    let timeout = options.timeout;
    let (stream, peer) = connect_with_timeouts(target, timeout)?;
    let stream = &stream;
    // The banner and prompt are courtesy output: failing to write them must not end a session.
    let _ = writeln!(
        messages,
        "connected to {peer}; type a line to send it, `exit`, `quit` or Ctrl-D to leave"
    );
    let (events, next_event) = mpsc::sync_channel(EVENT_QUEUE);
    let (permits, permit) = mpsc::channel();
    spawn_line_reader(input, events.clone(), permit)?;
    spawn_connection_reader(stream, peer, events)?;
    let mut session = Session {
        stream,
        peer,
        next_event,
        permits,
        held: VecDeque::new(),
        timeout,
        answered: Answered::Never,
    };
    let result = session
        .run(output, messages)
        .with_context(|| format!("connection to {peer} lost"));
    // Wakes the reader thread (its read returns), which then ends quietly.
    let _ = stream.shutdown(Shutdown::Both);
    result
}

struct Session<'a> {
    stream: &'a TcpStream,
    peer: SocketAddr,
    next_event: mpsc::Receiver<Event>,
    /// One permit lets the keyboard thread read one more line: it never reads ahead of the
    /// session, so a line typed while an echo is awaited waits in the terminal, not in memory.
    permits: mpsc::Sender<()>,
    /// Keyboard events that arrived while an echo was awaited (at most one, by the permits).
    held: VecDeque<Event>,
    timeout: Limit,
    /// Whether the server has echoed anything yet.
    answered: Answered,
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
            send_all(self.stream, self.peer, &line, self.timeout, self.answered)?;
            let echo = self.await_echo(line.len())?;
            output
                .write_all(&echo)
                .and_then(|()| output.flush())
                .context("could not write to standard output")?;
            if !echo.ends_with(b"\n") {
                // A last line ended by Ctrl-D rather than Enter: end it, so that what comes next
                // (the shell's prompt) starts on a line of its own.
                let _ = writeln!(messages);
            }
            let _ = self.permits.send(());
        }
    }

    /// The next line the user typed, or `None` at end of input.
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
                    // Ctrl-D: end the prompt line so that the shell's prompt starts on a fresh
                    // line.
                    let _ = writeln!(messages);
                    return Ok(None);
                }
                Event::Keyboard(Keyboard::Failed(err)) => {
                    return Err(anyhow::Error::new(err).context("could not read standard input"))
                }
                Event::ServerClosed => {
                    let _ = writeln!(messages);
                    return Err(match self.answered {
                        Answered::Never => turned_away(self.peer, None),
                        Answered::Before => anyhow!("the server closed the connection"),
                    });
                }
                Event::ConnectionFailed(err) => {
                    let _ = writeln!(messages);
                    if self.answered == Answered::Never && is_hang_up(&err) {
                        return Err(turned_away(self.peer, Some(err)));
                    }
                    return Err(anyhow::Error::new(err).context("the connection failed"));
                }
                // Bytes nobody asked for: show them, as netcat would.
                Event::Echo(bytes) => {
                    self.answered = Answered::Before;
                    output
                        .write_all(&bytes)
                        .and_then(|()| output.flush())
                        .context("could not write to standard output")?
                }
            }
        }
    }

    /// Gathers the echo until `expected` bytes are in, waiting at most `timeout` for each piece.
    fn await_echo(&mut self, expected: usize) -> anyhow::Result<Vec<u8>> {
        let mut echo = Vec::with_capacity(expected);
        while echo.len() < expected {
            let waited = match self.timeout.as_option() {
                Some(limit) => self.next_event.recv_timeout(limit),
                None => self
                    .next_event
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
            };
            let cause = match waited {
                Ok(Event::Echo(bytes)) => {
                    echo.extend_from_slice(&bytes);
                    self.answered = Answered::Before;
                    continue;
                }
                Ok(keyboard @ Event::Keyboard(_)) => {
                    self.held.push_back(keyboard);
                    continue;
                }
                Ok(Event::ServerClosed) | Err(RecvTimeoutError::Disconnected) => {
                    ShortReadCause::Closed
                }
                Ok(Event::ConnectionFailed(err)) => ShortReadCause::Failed(err),
                Err(RecvTimeoutError::Timeout) => ShortReadCause::TimedOut,
            };
            let short = ShortRead {
                received: echo.len(),
                cause,
            };
            return Err(short.describe(self.peer, expected, self.timeout, self.answered));
        }
        Ok(echo)
    }
}

/// The note for a typed line as long as the terminal passes on: what was typed beyond it was
/// dropped before soc saw it.
pub(super) fn cut_by_the_terminal(line: &[u8]) -> Option<String> {
    let limit = crate::sys::TERMINAL_LINE_LIMIT?;
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    (text.len() >= limit).then(|| {
        format!(
            "(this line is {limit} bytes, the most the terminal takes in one line: anything typed \
             beyond was dropped by the terminal; to send longer lines, pipe them: soc_client < FILE)"
        )
    })
}

/// A typed line as it is sent: a Windows console's `\r\n` becomes `\n`.
pub(super) fn typed_line(mut line: Vec<u8>) -> Vec<u8> {
    if line.ends_with(b"\r\n") {
        line.truncate(line.len() - 2);
        line.push(b'\n');
    }
    line
}

/// Reads lines on a thread of its own, one per permit, so that waiting for the keyboard never
/// keeps the session from noticing the server.
pub(super) fn spawn_line_reader<E: From<Keyboard> + Send + 'static>(
    mut input: impl BufRead + Send + 'static,
    events: mpsc::SyncSender<E>,
    permit: mpsc::Receiver<()>,
) -> anyhow::Result<()> {
    thread::Builder::new()
        .name("keyboard".into())
        .spawn(move || loop {
            let mut line = Vec::new();
            let keyboard = match input.read_until(b'\n', &mut line) {
                Ok(0) => Keyboard::Ended,
                Ok(_) => Keyboard::Line(line),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => Keyboard::Failed(err),
            };
            let last = !matches!(keyboard, Keyboard::Line(_));
            if events.send(keyboard.into()).is_err() || last || permit.recv().is_err() {
                return;
            }
        })
        .context("could not start the input thread")?;
    Ok(())
}

/// Owns the connection's read side on a thread of its own: every chunk that arrives, the close
/// and a failure become events. This works the same on every system, where waiting for a hang-up
/// without reading (poll's POLLRDHUP) is Linux's alone.
fn spawn_connection_reader(
    stream: &TcpStream,
    peer: SocketAddr,
    events: mpsc::SyncSender<Event>,
) -> anyhow::Result<()> {
    // A handle of its own, valid for the thread whatever the caller does with `stream`; the
    // session's shutdown of `stream` still wakes it, as both name one socket.
    let mut reader = stream
        .try_clone()
        .context("could not watch the connection")?;
    thread::Builder::new()
        .name("connection".into())
        .spawn(move || {
            let mut buf = vec![0; READ_CHUNK];
            loop {
                let event = match reader.read(&mut buf) {
                    Ok(0) => Event::ServerClosed,
                    Ok(n) => {
                        trace_chunk(peer, Direction::Received, &buf[..n]);
                        Event::Echo(buf[..n].to_vec())
                    }
                    // The socket's read timeout is the session's per-echo limit, which the
                    // session keeps itself; an idle user is not an error.
                    Err(err)
                        if err.kind() == io::ErrorKind::Interrupted
                            || crate::net::is_timeout(&err) =>
                    {
                        continue
                    }
                    Err(err) => Event::ConnectionFailed(err),
                };
                let last = !matches!(event, Event::Echo(_));
                if events.send(event).is_err() || last {
                    return;
                }
            }
        })
        .context("could not start the connection reader")?;
    Ok(())
}

pub(super) fn is_quit(line: &[u8]) -> bool {
    let trimmed = line.trim_ascii();
    QUIT_WORDS.iter().any(|word| trimmed == word.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::{is_quit, typed_line};

    #[test]
    fn quit_words_only_on_their_own() {
        assert!(is_quit(b"exit\n"));
        assert!(is_quit(b"  quit \r\n"));
        assert!(is_quit(b"quit"));
        assert!(!is_quit(b"exit now\n"));
        assert!(!is_quit(b"EXIT\n"));
        assert!(!is_quit(b"\n"));
    }

    #[test]
    fn a_windows_line_ending_is_sent_as_a_newline() {
        assert_eq!(typed_line(b"hello\r\n".to_vec()), b"hello\n");
        assert_eq!(typed_line(b"hello\n".to_vec()), b"hello\n");
        assert_eq!(typed_line(b"a\rb".to_vec()), b"a\rb");
        assert_eq!(typed_line(b"\r\n".to_vec()), b"\n");
    }
}
