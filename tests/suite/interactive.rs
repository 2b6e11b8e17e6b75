//! Interactive mode: the session loop over in-memory input and output, and one end-to-end run
//! of the binary on a pseudo-terminal.

use std::io::{Cursor, Write};
use std::sync::mpsc;
use std::thread;

use crate::common::{TestServer, STEP};
use soc::client::{interactive, SessionOptions, Target};
use soc::limits::Limit;

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
    assert!(err.contains("the server closed the connection"), "{err}");
    session.join().unwrap();
    drop(typing);
}

// Pseudo-terminals are Unix's; Windows consoles cannot be driven from a test this way.
#[cfg(unix)]
#[test]
fn interactive_session_on_a_real_terminal() {
    use crate::common::{at, open_pty, wait_with_deadline, ServerProcess};
    use std::io::Read;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    let server = ServerProcess::start(&[]);
    let (mut controller, terminal) = open_pty();
    let mut child = Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(at(server.addr))
        .env_remove("RUST_LOG")
        .stdin(Stdio::from(terminal.try_clone().unwrap()))
        .stdout(Stdio::from(terminal.try_clone().unwrap()))
        .stderr(Stdio::from(terminal))
        .spawn()
        .unwrap();
    let (screen_tx, screen) = mpsc::channel::<Vec<u8>>();
    let mut reader = controller.try_clone().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with an error (EIO) once the client has exited and the terminal side is closed.
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if screen_tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let mut wait_for = |needle: &str| {
        let deadline = Instant::now() + STEP;
        while !seen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = screen
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("never saw {needle:?} on the terminal: {seen:?}"));
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        std::mem::take(&mut seen)
    };
    let banner = wait_for("> ");
    assert!(
        banner.contains(&format!("connected to {}", server.addr)),
        "{banner}"
    );
    controller.write_all(b"typed by hand\n").unwrap();
    // The terminal echoes what was typed, then the client prints the server's echo.
    let after = wait_for("> ");
    assert_eq!(after.matches("typed by hand").count(), 2, "{after:?}");
    controller.write_all(b"quit\n").unwrap();
    let status = wait_with_deadline(&mut child, STEP);
    assert!(status.success(), "{status}");
}
