//! The server under limits, timeouts and signals, run as the built binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{connect, ServerProcess};

/// One line out and back; panics if the echo does not come.
fn round_trip(stream: &TcpStream, line: &[u8]) {
    (&*stream).write_all(line).unwrap();
    let mut echo = vec![0u8; line.len()];
    (&*stream).read_exact(&mut echo).unwrap();
    assert_eq!(echo, line);
}

/// True if the peer closed the connection (end of stream or a reset) within [`STEP`].
fn sees_end_of_stream(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match (&*stream).read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(err) => crate::common::is_disconnect(&err),
    }
}

#[test]
fn max_clients_turns_away_the_extra_client_and_serves_again_when_one_leaves() {
    let server = ServerProcess::start(&["--max-clients", "3"]);
    let served: Vec<TcpStream> = (0..3).map(|_| connect(server.addr)).collect();
    for (i, stream) in served.iter().enumerate() {
        round_trip(stream, format!("client {i}\n").as_bytes());
    }
    // Client threads log in any order; the third spawn is the one that counts three.
    server.expect_connected(3);
    let fourth = connect(server.addr);
    assert!(
        sees_end_of_stream(&fourth),
        "a fourth client must be closed at once"
    );
    server.expect_log("rejected: already serving 3 clients");

    let mut served = served;
    drop(served.pop());
    server.expect_log("disconnected: ");
    let fifth = connect(server.addr);
    round_trip(&fifth, b"served again\n");
    for stream in &served {
        round_trip(stream, b"still served\n");
    }
}

#[test]
fn idle_timeout_disconnects_silent_clients_but_not_active_ones() {
    let server = ServerProcess::start(&["--idle-timeout", "1"]);
    let silent = connect(server.addr);
    let active = connect(server.addr);
    let started = Instant::now();
    // The active client sends a line every 200 ms for 2.4 s: twice the idle timeout.
    for i in 0..12 {
        round_trip(&active, format!("tick {i}\n").as_bytes());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(started.elapsed() > Duration::from_secs(2));
    // By now the silent one was cut off...
    assert!(sees_end_of_stream(&silent));
    server.expect_log("idle (--idle-timeout)");
    // ...and the active one is still served.
    round_trip(&active, b"still here\n");
}

#[test]
fn idle_timeout_disconnects_a_client_that_never_reads_while_others_are_served() {
    let server = ServerProcess::start(&["--idle-timeout", "1"]);
    let hog = connect(server.addr);
    hog.set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    // Fill every buffer between us: the server ends up blocked writing an echo nobody reads.
    for _ in 0..1024 {
        if (&hog).write(&chunk).is_err() {
            break;
        }
    }
    // Another client keeps talking (every 200 ms for 2 s, twice the idle timeout) and is
    // served throughout.
    let other = connect(server.addr);
    for i in 0..10 {
        round_trip(&other, format!("not held up {i}\n").as_bytes());
        std::thread::sleep(Duration::from_millis(200));
    }
    let hog_addr = hog.local_addr().unwrap();
    server.expect_log(&format!("{hog_addr} disconnected after 1 s idle"));
    round_trip(&other, b"still not held up\n");
}

#[cfg(unix)]
fn shuts_down_cleanly_on(signal: i32) {
    let mut server = ServerProcess::start(&[]);
    let clients: Vec<TcpStream> = (0..20).map(|_| connect(server.addr)).collect();
    for stream in &clients {
        round_trip(stream, b"hello\n");
    }
    // One more that never reads its echo: its thread is blocked in write() at shutdown.
    let hog = connect(server.addr);
    hog.set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    for _ in 0..1024 {
        if (&hog).write(&[0u8; 65536]).is_err() {
            break;
        }
    }
    server.expect_connected(21);
    let started = Instant::now();
    server.signal(signal);
    let status = server.wait(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{status}");
    // "Within a second" with margin for a loaded CI machine; typically a few milliseconds.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    for stream in &clients {
        assert!(sees_end_of_stream(stream));
    }
    // The signal is named before the summary, in every shutdown.
    server.expect_log("received: shutting down");
    let summary = server.expect_log("stopped:");
    assert!(summary.contains("21 clients served"), "{summary}");
}

// Signals are Unix's; on every system the same stop runs through the shutdown handle
// (tests/echo_server.rs::shutdown_closes_every_client_and_returns_at_once).
#[cfg(unix)]
#[test]
fn sigterm_closes_every_client_and_exits_zero() {
    shuts_down_cleanly_on(libc::SIGTERM);
}

#[cfg(unix)]
#[test]
fn sigint_closes_every_client_and_exits_zero() {
    shuts_down_cleanly_on(libc::SIGINT);
}

/// User plus system CPU time of a process so far, from /proc.
#[cfg(target_os = "linux")]
fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no memory effects.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / per_second)
}

/// Starts the server binary with its open-file limits set to `soft` and `hard` (Unix: Windows has
/// no per-process limit on sockets).
#[cfg(unix)]
fn start_with_fd_limits(args: &[&str], soft: u64, hard: u64) -> ServerProcess {
    ServerProcess::start_with(args, |command| {
        crate::common::limit_open_files(command, soft, hard)
    })
}

// The server cannot raise its open-file limit past the hard limit of 200: it warns, and then
// announces the 136 clients (200 less 64 for everything else) it can serve, not 1000.
#[cfg(unix)]
#[test]
fn the_announced_limit_is_what_the_open_file_limit_allows() {
    let server = start_with_fd_limits(&["--max-clients", "1000"], 100, 200);
    let warning = server.expect_log("open-file limit");
    assert!(
        warning.contains(
            "the open-file limit leaves room for 136 clients at once, fewer than --max-clients \
             1000: the others wait in the listen queue"
        ),
        "{warning}"
    );
    let announced = server.expect_log("serving on");
    assert!(
        announced.contains("(at most 136 clients by the open-file limit, idle timeout"),
        "{announced}"
    );
}

// Reads the server's CPU time from /proc.
#[cfg(target_os = "linux")]
#[test]
fn running_out_of_file_descriptors_neither_kills_nor_spins_the_server() {
    const FD_LIMIT: u64 = 48;
    let server = start_with_fd_limits(&[], FD_LIMIT, FD_LIMIT);
    // Twice as many connections as the server has descriptors: the kernel completes them all
    // (the backlog), the server can accept only some.
    let flood: Vec<TcpStream> = (0..2 * FD_LIMIT).map(|_| connect(server.addr)).collect();
    let warning = server.expect_log("accept failed");
    assert!(warning.contains("Too many open files"), "{warning}");
    let before = cpu_time(server.pid());
    std::thread::sleep(Duration::from_secs(1)); // a window to measure CPU use over
    let burnt = cpu_time(server.pid()) - before;
    assert!(
        burnt < Duration::from_millis(300),
        "the server burnt {burnt:?} of CPU in 1 s"
    );
    drop(flood);
    // Descriptors are free again: a new client is served (after the queued ones, which have
    // gone away meanwhile).
    let client = connect(server.addr);
    round_trip(&client, b"served after the flood\n");
}

#[cfg(unix)]
#[test]
fn a_second_signal_ends_a_stuck_shutdown_at_once() {
    // A server whose standard error nobody reads: at trace level its log queue soon fills, and
    // a clean stop, which ends by writing out what is queued, waits for a pipe that never drains.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_soc_server"))
        .args(["--host", "127.0.0.1", "--port", "0", "-vv"])
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _kill_if_this_test_fails = crate::common::KillOnDrop(child.id());
    let _unread_stderr = child.stderr.take().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();

    // 4 MiB echoed: hex dumps of it far exceed the pipe and the queue.
    let stream = connect(addr);
    let payload = vec![b'x'; 4 << 20];
    let echoed = crate::common::echo_concurrently(stream, payload);
    assert_eq!(echoed.len(), 4 << 20);

    // SIGTERM starts a clean stop that cannot finish; SIGINT (a different signal, so the two
    // are never merged) must end the process at once with 128 + its number.
    // SAFETY: kill(2) on the PID of the child this test started.
    unsafe {
        assert_eq!(libc::kill(child.id() as i32, libc::SIGTERM), 0);
        assert_eq!(libc::kill(child.id() as i32, libc::SIGINT), 0);
    }
    let status = crate::common::wait_with_deadline(&mut child, Duration::from_secs(5));
    assert!(
        matches!(status.code(), Some(130 | 143)),
        "expected exit by the second signal, got {status}"
    );
}

#[cfg(unix)]
#[test]
fn a_low_soft_file_limit_is_raised_to_serve_max_clients() {
    // Soft limit 64, hard 4096: without raising it, only about 55 clients could be accepted.
    let server = start_with_fd_limits(&["--max-clients", "300"], 64, 4096);
    let clients: Vec<TcpStream> = (0..200).map(|_| connect(server.addr)).collect();
    for (i, stream) in clients.iter().enumerate() {
        round_trip(stream, format!("client {i}\n").as_bytes());
    }
    server.expect_connected(200);
}

#[test]
fn one_client_is_one_client_in_the_log() {
    let server = ServerProcess::start(&["--max-clients", "1"]);
    server.expect_log("(at most 1 client, idle timeout");
    let _first = connect(server.addr);
    server.expect_connected(1);
    let second = connect(server.addr);
    assert!(sees_end_of_stream(&second));
    server.expect_log("rejected: already serving 1 client (--max-clients)");
}
