//! The server's log never holds up its clients: with standard error going to a pipe that nobody
//! reads, every client is still served, and the lines that could not be written are counted.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{lines_of, STEP};

/// How long each client may wait for its echo.
const ECHO_LIMIT: Duration = Duration::from_secs(3);

/// Enough clients to fill the log queue and the pipe behind it several times over.
const CLIENTS: usize = 3000;

fn serves_every_client_with_an_unread_log(extra: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_soc_server"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(extra)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _kill_on_exit = crate::common::KillOnDrop(child.id());
    // Held open and not read until every client has been served.
    let unread_log = child.stderr.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let addr = crate::common::listening_addrs(&mut stdout, 1)[0];
    let started = Instant::now();
    for i in 0..CLIENTS {
        let stream = TcpStream::connect_timeout(&addr, ECHO_LIMIT).unwrap();
        stream.set_read_timeout(Some(ECHO_LIMIT)).unwrap();
        let line = format!("client {i}\n");
        (&stream).write_all(line.as_bytes()).unwrap();
        let mut echo = vec![0u8; line.len()];
        if let Err(err) = (&stream).read_exact(&mut echo) {
            panic!("client {i} got no echo within {ECHO_LIMIT:?}: {err}");
        }
        assert_eq!(echo, line.as_bytes());
    }
    eprintln!("{CLIENTS} clients served in {:?}", started.elapsed());
    // Reading the log now lets the writer go on: first it says what it had to drop.
    let log = lines_of(unread_log);
    let deadline = Instant::now() + STEP;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = log
            .recv_timeout(left)
            .expect("a line saying how many log lines were dropped");
        if line.contains("log lines dropped: standard error was not being read") {
            let count: u64 = line
                .split_whitespace()
                .find_map(|word| word.parse().ok())
                .expect("a count");
            assert!(count > 0, "{line}");
            break;
        }
    }
    // The shutdown summary counts them too.
    #[cfg(unix)]
    {
        // SAFETY: kill(2) on the PID of the child this test started.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
        let summary = log
            .iter()
            .find(|line| line.contains("stopped:"))
            .expect("a shutdown summary");
        assert!(summary.contains("log lines dropped"), "{summary}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn an_unread_log_holds_up_no_client() {
    serves_every_client_with_an_unread_log(&[]);
}

#[test]
fn an_unread_debug_log_holds_up_no_client() {
    serves_every_client_with_an_unread_log(&["-v"]);
}
