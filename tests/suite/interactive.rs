//! Interactive mode: the session loop over in-memory input and output, and one end-to-end run
//! of the binary on a pseudo-terminal.

use std::io::{Cursor, Write};
use std::sync::mpsc;
use std::thread;

use crate::common::{TestServer, STEP};
use soc::client::{interactive, SessionOptions};
use soc::limits::Limit;
use soc::Target;

fn target(addr: std::net::SocketAddr) -> Target {
    Target::new(vec![addr], Limit::After(STEP))
}

const OPTIONS: SessionOptions = SessionOptions {
    timeout: Limit::After(STEP),
};

fn session(input: &[u8]) -> (anyhow::Result<()>, Vec<u8>, String) {
    let server = TestServer::start();
    let mut output = Vec::new();
    let mut messages = Vec::new();
    let result = interactive(
        &target(server.addr),
        &OPTIONS,
        Cursor::new(input.to_vec()),
        &mut output,
        &mut messages,
    );
    (result, output, String::from_utf8(messages).unwrap())
}

#[test]
fn each_line_comes_back_and_exit_ends_the_session() {
    let (result, output, messages) = session(b"hello\n\nsecond line\nexit\nnot sent\n");
    result.unwrap();
    // The empty line is sent as its newline and echoed; nothing after `exit` is sent.
    assert_eq!(output, b"hello\n\nsecond line\n");
    assert!(
        messages.starts_with("connected to 127.0.0.1:"),
        "{messages}"
    );
    assert!(
        messages.contains("exit"),
        "the banner says how to leave: {messages}"
    );
    assert_eq!(
        messages.matches("> ").count(),
        4,
        "one prompt per line read: {messages}"
    );
}

#[test]
fn quit_and_end_of_input_end_the_session_too() {
    let (result, output, _) = session(b"one\nquit\ntwo\n");
    result.unwrap();
    assert_eq!(output, b"one\n");
    // End of input (Ctrl-D) in the middle of a line: the partial line is still sent.
    let (result, output, _) = session(b"one\npartial");
    result.unwrap();
    assert_eq!(output, b"one\npartial");
}

#[test]
fn a_server_that_goes_away_ends_the_session_with_an_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // A server that accepts and closes at once.
    let closer = thread::spawn(move || drop(listener.accept().unwrap()));
    let mut output = Vec::new();
    let result = interactive(
        &target(addr),
        &OPTIONS,
        Cursor::new(b"anyone?\n".to_vec()),
        &mut output,
        &mut Vec::new(),
    );
    closer.join().unwrap();
    let err = format!("{:#}", result.unwrap_err());
    assert!(err.contains(&format!("connection to {addr} lost")), "{err}");
    assert!(output.is_empty());
}

#[test]
fn a_server_that_goes_away_is_noticed_while_the_user_is_still_typing() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The keyboard: a line that is never finished, its other end held open by the test (a
    // loopback connection, a stream that blocks like a terminal on every system).
    let (keyboard, typing) = crate::common::stream_pair();
    (&typing).write_all(b"half a li").unwrap();
    let (done_tx, done) = mpsc::channel();
    let session = thread::spawn(move || {
        let mut messages = Vec::new();
        let result = interactive(
            &target(addr),
            &OPTIONS,
            std::io::BufReader::new(keyboard),
            &mut Vec::new(),
            &mut messages,
        );
        let _ = done_tx.send(result.map_err(|err| format!("{err:#}")));
    });
    // The session connects; its server accepts (within STEP, or the test fails).
    let (accepted_tx, accepted_rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = accepted_tx.send(listener.accept().map(|(stream, _)| stream));
    });
    let accepted = accepted_rx
        .recv_timeout(STEP)
        .expect("the session connects")
        .unwrap();
    // The server goes away while the user is mid-line.
    drop(accepted);
    let result = done
        .recv_timeout(STEP)
        .expect("the session must end when the server closes, without waiting for input");
    let err = result.unwrap_err();
    assert!(err.contains("closed the connection"), "{err}");
    session.join().unwrap();
    drop(typing);
}

/// soc_client running on a pseudo-terminal, as a user at a keyboard runs it. Pseudo-terminals
/// are Unix's; Windows consoles cannot be driven from a test this way.
#[cfg(unix)]
struct Terminal {
    child: std::process::Child,
    controller: std::fs::File,
    /// The terminal side, kept open after the client exits to see what it left unread.
    terminal: std::os::fd::OwnedFd,
    screen: mpsc::Receiver<Vec<u8>>,
    seen: String,
    _kill_if_the_test_fails: crate::common::KillOnDrop,
}

#[cfg(unix)]
impl Terminal {
    fn start(args: &[String]) -> Terminal {
        use std::io::Read;
        use std::process::{Command, Stdio};
        let (controller, terminal) = crate::common::open_pty();
        let child = Command::new(env!("CARGO_BIN_EXE_soc_client"))
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::from(terminal.try_clone().unwrap()))
            .stdout(Stdio::from(terminal.try_clone().unwrap()))
            .stderr(Stdio::from(terminal.try_clone().unwrap()))
            .spawn()
            .unwrap();
        let (screen_tx, screen) = mpsc::channel::<Vec<u8>>();
        let mut reader = controller.try_clone().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                if screen_tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            _kill_if_the_test_fails: crate::common::KillOnDrop(child.id()),
            child,
            controller,
            terminal,
            screen,
            seen: String::new(),
        }
    }

    /// What the screen showed up to and including `needle`'s first appearance.
    /// What the terminal showed up to and including the first `needle`; what came after it, in
    /// the same read, is kept for the next wait (on a busy machine one read can carry a message
    /// and the echo after it).
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + STEP;
        while !self.seen.contains(needle) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let chunk = self.screen.recv_timeout(left).unwrap_or_else(|_| {
                panic!("never saw {needle:?} on the terminal: {:?}", self.seen)
            });
            self.seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        let end = self.seen.find(needle).unwrap() + needle.len();
        let rest = self.seen.split_off(end);
        std::mem::replace(&mut self.seen, rest)
    }

    fn type_keys(&mut self, keys: &[u8]) {
        self.controller.write_all(keys).unwrap();
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        crate::common::wait_with_deadline(&mut self.child, STEP)
    }

    /// The next line the terminal gives its next reader (the shell, once the client is gone),
    /// after Enter is pressed.
    fn next_line_read(&mut self) -> String {
        use std::os::fd::AsRawFd;
        self.type_keys(b"\n");
        let mut poll = libc::pollfd {
            fd: self.terminal.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll(2) on one valid descriptor, and read(2) into a local buffer.
        let line = unsafe {
            assert_eq!(
                libc::poll(&mut poll, 1, STEP.as_millis() as i32),
                1,
                "no line"
            );
            let mut buf = [0u8; 256];
            let n = libc::read(
                self.terminal.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            );
            assert!(n >= 0, "{}", std::io::Error::last_os_error());
            buf[..n as usize].to_vec()
        };
        String::from_utf8_lossy(&line).into_owned()
    }
}

#[cfg(unix)]
#[test]
fn interactive_session_on_a_real_terminal() {
    let server = crate::common::ServerProcess::start(&[]);
    let mut terminal = Terminal::start(&crate::common::at(server.addr));
    let banner = terminal.wait_for("> ");
    assert!(
        banner.contains(&format!("connected to {}", server.addr)),
        "{banner}"
    );
    terminal.type_keys(b"typed by hand\n");
    // The terminal echoes what was typed, then the client prints the server's echo.
    let after = terminal.wait_for("> ");
    assert_eq!(after.matches("typed by hand").count(), 2, "{after:?}");
    terminal.type_keys(b"quit\n");
    assert!(terminal.wait().success());
}

// The server goes away while a line is half typed: the client says so, exits 1, and the half
// line does not stay in the terminal for the shell to run.
#[cfg(unix)]
#[test]
fn a_line_half_typed_when_the_server_goes_away_does_not_reach_the_shell() {
    let (release, released) = mpsc::channel::<()>();
    let addr = crate::common::serve_once(move |stream| {
        // Echoes nothing, and closes when the test says.
        let _ = released.recv_timeout(STEP);
        drop(stream);
    });
    let mut terminal = Terminal::start(&crate::common::at(addr));
    terminal.wait_for("> ");
    terminal.type_keys(b"typing-halfclear");
    // The terminal echoes the keys as they are typed: the half line is in its input queue.
    terminal.wait_for("typing-halfclear");
    release.send(()).unwrap();
    let said = terminal.wait_for("closed the connection");
    assert_eq!(terminal.wait().code(), Some(1), "{said}");
    assert_eq!(
        terminal.next_line_read(),
        "\n",
        "the half line was left for the shell"
    );
}

// A server that turns the client away (soc_server --max-clients 1, full) closes a fresh
// connection before any echo: the session says why that may be.
#[cfg(unix)]
#[test]
fn a_session_the_server_turns_away_says_it_may_be_full() {
    let server = crate::common::ServerProcess::start(&["--max-clients", "1"]);
    let _first = crate::common::connect(server.addr);
    server.expect_connected(1);
    let mut terminal = Terminal::start(&crate::common::at(server.addr));
    let said = terminal.wait_for("idle-timeout)");
    assert!(
        said.contains(
            "closed the connection before any echo: the server may have stopped or restarted, be \
             at its client limit (soc_server --max-clients), or have timed this client out \
             (soc_server --idle-timeout)"
        ),
        "{said}"
    );
    assert_eq!(terminal.wait().code(), Some(1), "{said}");
}

// Linux's terminal driver passes on 4095 bytes and the newline of a longer typed line, and drops
// the rest: the session says so (and still sends what it got).
#[cfg(target_os = "linux")]
#[test]
fn a_line_the_terminal_cut_short_is_said_to_be() {
    let server = crate::common::ServerProcess::start(&[]);
    let mut terminal = Terminal::start(&crate::common::at(server.addr));
    terminal.wait_for("> ");
    let mut long = vec![b'a'; 5000];
    long.push(b'\n');
    terminal.type_keys(&long);
    let said = terminal.wait_for("to send longer lines, pipe them");
    assert!(
        said.contains("(this line is 4095 bytes, the most the terminal takes in one line"),
        "{said}"
    );
    // The 4095 bytes still went, and came back.
    let echoed = terminal.wait_for("> ");
    assert!(echoed.contains(&"a".repeat(4095)), "{echoed}");
    terminal.type_keys(b"quit\n");
    assert!(terminal.wait().success());
}
