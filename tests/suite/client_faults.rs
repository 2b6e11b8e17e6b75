//! soc_client against servers that fail it: every fault is one clear line and exit 1, never a
//! panic, and never a wrong exit 0.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use crate::common::{serve_once, ClientRun};
use soc::Pattern;
use socket2::SockRef;

use crate::common::client_at as client;

fn assert_one_line_failure(run: &ClientRun, expected: &str) {
    assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "stderr: {}", run.stderr);
    assert!(
        run.stderr.starts_with("soc_client: error: "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(expected),
        "wanted {expected:?} in: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

/// Echoes `limit` bytes, then hands the connection to `then`.
fn echo_some_then(limit: usize, then: fn(TcpStream)) -> SocketAddr {
    serve_once(move |mut stream| {
        let mut buf = vec![0u8; limit];
        if stream.read_exact(&mut buf).is_ok() && stream.write_all(&buf).is_ok() {
            then(stream);
        }
    })
}

#[test]
fn reset_by_the_server_mid_stream() {
    let addr = echo_some_then(64 * 1024, |stream| {
        SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    });
    let run = client(addr, &[], Pattern::new(1).take(8 << 20));
    assert_one_line_failure(&run, &addr.to_string());
    assert!(run.stdout.len() < 8 << 20);
}

#[test]
fn server_closing_before_the_input_ends() {
    let addr = echo_some_then(1000, |stream| {
        let _ = stream.shutdown(Shutdown::Write);
        // Keep reading, so that the close is a clean FIN and not a reset.
        let _ = std::io::copy(&mut &stream, &mut std::io::sink());
    });
    let run = client(addr, &[], Pattern::new(2).take(4 << 20));
    assert_one_line_failure(&run, "closed the connection");
    assert_eq!(
        run.stdout.len(),
        1000,
        "what did come back is still written out"
    );
}

#[test]
fn server_echoing_too_little_after_half_close() {
    let addr = echo_some_then(10, |stream| {
        let _ = std::io::copy(&mut &stream, &mut std::io::sink());
    });
    let run = client(addr, &[], b"twenty bytes of data".to_vec());
    assert_one_line_failure(&run, "10 of 20 bytes sent came back");
}

#[test]
fn stalled_echo_times_out_in_piped_and_message_modes() {
    // Reads everything, answers nothing, and keeps the connection open well past the timeout.
    let swallow = |stream: TcpStream| {
        let _ = std::io::copy(&mut &stream, &mut std::io::sink());
        std::thread::sleep(Duration::from_secs(5));
    };
    let run = client(
        serve_once(swallow),
        &["--timeout", "1"],
        b"hello?\n".to_vec(),
    );
    assert_one_line_failure(&run, "no echo from");
    assert!(run.stderr.contains("(--timeout 1 s)"), "{}", run.stderr);

    // The error names the server, as every client error does.
    let addr = serve_once(swallow);
    let run = client(addr, &["--timeout", "0.5", "-m", "hello?"], Vec::new());
    assert_one_line_failure(
        &run,
        &format!("no echo from {addr} for 0.5 s (--timeout); 0 of 7 bytes came back"),
    );
}

#[test]
fn server_that_closes_at_once_fails_a_message() {
    let addr = serve_once(drop);
    let run = client(addr, &["-m", "hello"], Vec::new());
    assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "stderr: {}", run.stderr);
}

#[test]
fn write_side_fault_reports_instead_of_hanging() {
    // A server that never reads and never writes: once the buffers fill, our sends block and
    // the echo never comes; --timeout must end it rather than the sending thread hanging.
    let addr = serve_once(|stream| {
        std::thread::sleep(Duration::from_secs(5));
        drop(stream);
    });
    let run = client(addr, &["--timeout", "1"], Pattern::new(3).take(16 << 20));
    assert_one_line_failure(&run, "no echo from");
}

// A directory as standard input: Unix opens it and fails each read; Windows cannot open it at all.
#[cfg(unix)]
#[test]
fn unreadable_input_is_reported_instead_of_waiting_forever() {
    let server = crate::common::ServerProcess::start(&[]);
    // A directory opens for reading but every read fails (EISDIR).
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(crate::common::at(server.addr))
        .stdin(std::fs::File::open("/").unwrap())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = crate::common::wait_with_deadline(&mut child, crate::common::STEP);
    let stderr = crate::common::stderr_of(&mut child);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("could not read the input"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// A server stopped dead (as by SIGSTOP): it neither reads nor writes. Piped mode gives up
/// within --timeout plus a small margin, not after twice that.
#[test]
fn piped_mode_gives_up_within_its_timeout_on_a_stopped_server() {
    let addr = serve_once(|stream| {
        std::thread::sleep(Duration::from_secs(10));
        drop(stream);
    });
    let input = Pattern::new(5).take(48 << 20);
    let started = std::time::Instant::now();
    let run = client(addr, &["--timeout", "2"], input);
    let took = started.elapsed();
    // Whichever side notices first: no echo while bytes are outstanding, or (as on Windows) no
    // room to send; both name the server and the real time.
    let stalled = format!("no echo from {addr} for 2.");
    let blocked = format!("could not send to {addr} for 2 s (--timeout)");
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&stalled) || run.stderr.contains(&blocked),
        "{}",
        run.stderr
    );
    assert!(took < Duration::from_secs(3), "gave up after {took:?}");
}

#[test]
fn a_server_closing_before_the_input_ends_is_reported_without_guesswork() {
    // Depending on timing the close is seen while sending or while reading: either way one line
    // that states what is known, never "0 of at least 0 bytes".
    let run = client(serve_once(drop), &[], vec![b'x'; 1 << 20]);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(!run.stderr.contains("at least"), "{}", run.stderr);
}
