//! The terminal session: a prompt, a line typed, the line echoed, until `exit`, `quit` or Ctrl-D.

use std::io::{self, BufRead, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use anyhow::{anyhow, Context};

use super::round_trip;
use crate::cli::Limit;

/// Lines that end the session instead of being sent (on their own, surrounding blanks ignored).
pub const QUIT_WORDS: [&str; 2] = ["exit", "quit"];

/// What the session waits for: a line from the user, or the server going away.
enum Event {
    Line(Vec<u8>),
    InputEnded,
    InputFailed(io::Error),
    ServerClosed,
}

/// Runs a line-at-a-time session: reads lines from `input`, sends each (newline included) and
/// writes its echo to `output`; the banner and prompts go to `messages`.
///
/// Each reply is read until as many bytes as were sent have come back, so a line split across
/// several TCP segments is still printed whole. An empty line is sent as its newline, so it is
/// echoed too rather than waiting for a reply that never comes. Ends with `Ok` on `exit`, `quit`
/// or end of input, with an error if the server goes away or stops answering for `timeout`.
///
/// Like netcat, and unlike the Python original, it notices a server that goes away while the
/// user is still typing: the keyboard and the connection are watched at the same time (on two
/// small threads), so the session ends at once instead of at the next line sent.
pub fn interactive(
    stream: &TcpStream,
    input: impl BufRead + Send + 'static,
    output: &mut impl Write,
    messages: &mut impl Write,
    timeout: Limit,
) -> anyhow::Result<()> {
    let peer = stream
        .peer_addr()
        .context("could not read the server's address")?;
    // The banner and prompt are courtesy output: failing to write them must not end a session.
    let _ = writeln!(
        messages,
        "connected to {peer}; type a line to send it, `exit`, `quit` or Ctrl-D to leave"
    );
    // One line read ahead at most: the user's next line waits in the channel, not in memory.
    let (events, next_event) = mpsc::sync_channel(1);
    spawn_line_reader(input, events.clone())?;
    let watcher = ServerWatcher::spawn(stream, events)?;
    let result = session_loop(stream, peer, &next_event, output, messages, timeout)
        .with_context(|| format!("connection to {peer} lost"));
    watcher.stop(stream);
    result
}

fn session_loop(
    stream: &TcpStream,
    peer: SocketAddr,
    next_event: &mpsc::Receiver<Event>,
    output: &mut impl Write,
    messages: &mut impl Write,
    timeout: Limit,
) -> anyhow::Result<()> {
    let mut echo = Vec::new();
    loop {
        let _ = write!(messages, "> ");
        let _ = messages.flush();
        let line = match next_event.recv() {
            Ok(Event::Line(line)) => line,
            Ok(Event::InputEnded) | Err(_) => {
                // Ctrl-D: end the prompt line so that the shell's prompt starts on a fresh line.
                let _ = writeln!(messages);
                return Ok(());
            }
            Ok(Event::InputFailed(err)) => {
                return Err(anyhow::Error::new(err).context("could not read standard input"))
            }
            Ok(Event::ServerClosed) => {
                let _ = writeln!(messages);
                return Err(anyhow!("the server closed the connection"));
            }
        };
        if is_quit(&line) {
            return Ok(());
        }
        echo.resize(line.len(), 0);
        round_trip(stream, peer, &line, &mut echo, timeout)?;
        output
            .write_all(&echo)
            .and_then(|()| output.flush())
            .context("could not write to standard output")?;
    }
}

/// Reads lines on a thread of its own, so that waiting for the keyboard never keeps the session
/// from noticing the server.
fn spawn_line_reader(
    mut input: impl BufRead + Send + 'static,
    events: mpsc::SyncSender<Event>,
) -> anyhow::Result<()> {
    thread::Builder::new()
        .name("keyboard".into())
        .spawn(move || loop {
            let mut line = Vec::new();
            let event = match input.read_until(b'\n', &mut line) {
                Ok(0) => Event::InputEnded,
                Ok(_) => Event::Line(line),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => Event::InputFailed(err),
            };
            let last = !matches!(event, Event::Line(_));
            if events.send(event).is_err() || last {
                return;
            }
        })
        .context("could not start the input thread")?;
    Ok(())
}

/// Waits on the connection for the server's close (poll for POLLRDHUP), without reading, so the
/// echoes stay for the session loop.
struct ServerWatcher {
    session_over: Arc<AtomicBool>,
}

impl ServerWatcher {
    fn spawn(stream: &TcpStream, events: mpsc::SyncSender<Event>) -> anyhow::Result<Self> {
        // A descriptor of its own, so that it stays valid for the watching thread whatever the
        // caller does with `stream`.
        let watched = stream
            .try_clone()
            .context("could not watch the connection")?;
        let session_over = Arc::new(AtomicBool::new(false));
        let over = Arc::clone(&session_over);
        thread::Builder::new()
            .name("server watch".into())
            .spawn(move || {
                if wait_for_hangup(&watched).is_ok() && !over.load(Ordering::SeqCst) {
                    let _ = events.send(Event::ServerClosed);
                }
            })
            .context("could not start the connection watcher")?;
        Ok(Self { session_over })
    }

    /// Ends the watch of `stream`: the session is over and the connection is being closed
    /// anyway.
    fn stop(self, stream: &TcpStream) {
        self.session_over.store(true, Ordering::SeqCst);
        // Wakes the watching thread's poll (POLLHUP), which then ends quietly.
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// Blocks until the peer has closed its side, the connection failed, or ours was shut down.
fn wait_for_hangup(stream: &TcpStream) -> io::Result<()> {
    let mut watch = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    loop {
        // SAFETY: poll(2) reads and writes exactly the one pollfd it is given, which lives on
        // this stack frame for the whole call; the descriptor is owned by `stream`.
        let ready = unsafe { libc::poll(&mut watch, 1, -1) };
        if ready > 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn is_quit(line: &[u8]) -> bool {
    let trimmed = line.trim_ascii();
    QUIT_WORDS.iter().any(|word| trimmed == word.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::is_quit;

    #[test]
    fn quit_words_only_on_their_own() {
        assert!(is_quit(b"exit\n"));
        assert!(is_quit(b"  quit \r\n"));
        assert!(is_quit(b"quit"));
        assert!(!is_quit(b"exit now\n"));
        assert!(!is_quit(b"EXIT\n"));
        assert!(!is_quit(b"\n"));
    }
}
