//! The ladder in `examples/`: from the Python pair, as it is, to soc in four steps. Each step's
//! trap is shown here on the programs themselves, run as processes: present in the step that
//! has it, gone from the step that fixes it. Each test fails if either changes.

use std::io::{BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{connect, STEP};

/// How long step 4's client waits for a reply (`TIMEOUT` in examples/step4_client.rs).
const STEP4_TIMEOUT: Duration = Duration::from_secs(3);

/// An example's executable, which `cargo test` builds beside the test executables.
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let path = deps
        .parent()
        .and_then(|dir| dir.parent())
        .unwrap()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples",
        path.display()
    );
    path
}

/// An example server on an OS-chosen port, killed (by PID) on drop.
struct ExampleServer {
    child: Child,
    addr: SocketAddr,
}

impl ExampleServer {
    fn start(name: &str) -> ExampleServer {
        let mut child = Command::new(example(name))
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let addr = crate::common::listening_addrs(&mut stdout, 1)[0];
        // Keep reading what it prints (one line per client), so that its stdout never fills.
        thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        ExampleServer { child, addr }
    }
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts an example client against `addr` with `typed` as its keyboard, kept open.
fn start_client(name: &str, addr: SocketAddr, typed: &[u8]) -> Child {
    let mut child = Command::new(example(name))
        .arg(addr.port().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.as_mut().unwrap().write_all(typed).unwrap();
    child
}

/// Waits at most `limit` for `child` to exit; `None` if it is still running then.
fn exits_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    // Bounded: at most limit / 20 ms checks.
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.try_wait().unwrap()
}

fn output_of(child: &mut Child) -> (String, String) {
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (out, err)
}

/// Whether a second client waits for its echo while a first one stays connected to `server`.
fn second_client_waits(server: &str) -> bool {
    let server = ExampleServer::start(server);
    let first = connect(server.addr);
    (&first).write_all(b"first\n").unwrap();
    let mut echo = [0u8; 6];
    (&first).read_exact(&mut echo).unwrap();
    let second = connect(server.addr);
    (&second).write_all(b"second\n").unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut echo = [0u8; 7];
    let waited = (&second).read_exact(&mut echo).is_err();
    if waited {
        // It is served once the first client leaves.
        drop(first);
        second.set_read_timeout(Some(STEP)).unwrap();
        (&second).read_exact(&mut echo).unwrap();
    }
    assert_eq!(&echo, b"second\n");
    waited
}

#[test]
fn step1_server_makes_a_second_client_wait() {
    assert!(second_client_waits("step1_server"));
}

#[test]
fn step2_server_serves_a_second_client_at_once() {
    assert!(!second_client_waits("step2_server"));
}

/// A server that echoes slowly, 4 bytes at a time: one reply arrives in several pieces.
fn slow_chunked_echo_server() -> SocketAddr {
    crate::common::serve_once(|mut conn| {
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = conn.read(&mut buf) {
            for piece in buf[..n].chunks(4) {
                if conn.write_all(piece).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
    })
}

/// What an example client prints for `hello world` echoed in pieces.
fn reply_printed_by(client: &str) -> String {
    let addr = slow_chunked_echo_server();
    let mut child = start_client(client, addr, b"hello world\nexit\n");
    let status = exits_within(&mut child, STEP).expect("the client exits after `exit`");
    let (out, err) = output_of(&mut child);
    assert!(status.success(), "{status}: {err}");
    out
}

/// Step 2 still uses step 1's client.
#[test]
fn step2_client_prints_a_torn_reply() {
    let out = reply_printed_by("step1_client");
    assert!(out.contains("> hell\n"), "{out:?}");
    assert!(!out.contains("hello world"), "{out:?}");
}

#[test]
fn step3_client_prints_the_whole_reply() {
    let out = reply_printed_by("step3_client");
    assert!(out.contains("> hello world\n"), "{out:?}");
}

/// A server that accepts and reads, and never answers, for as long as a test step may last.
fn silent_server() -> SocketAddr {
    crate::common::serve_once(|mut conn| {
        let mut buf = [0u8; 1024];
        while let Ok(1..) = conn.read(&mut buf) {}
    })
}

#[test]
fn step3_client_waits_forever_on_a_silent_server() {
    let mut child = start_client("step3_client", silent_server(), b"hello\n");
    // Well past step 4's timeout, it is still waiting for its reply.
    let status = exits_within(&mut child, STEP4_TIMEOUT + Duration::from_secs(2));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, None, "step 3's client gave up; it has no timeout");
}

#[test]
fn step4_client_gives_up_on_a_silent_server() {
    let addr = silent_server();
    let started = Instant::now();
    let mut child = start_client("step4_client", addr, b"hello\n");
    let status = exits_within(&mut child, STEP).expect("step 4's client must give up");
    let took = started.elapsed();
    let (_, err) = output_of(&mut child);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        took >= STEP4_TIMEOUT && took < STEP4_TIMEOUT + Duration::from_secs(5),
        "{took:?}"
    );
    assert!(
        err.contains(&format!("no whole reply from {addr}")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn step4_client_says_a_server_that_closed_closed() {
    // Reads the line, answers nothing, closes.
    let addr = crate::common::serve_once(|mut conn| {
        let mut buf = [0u8; 64];
        let _ = conn.read(&mut buf);
    });
    let mut child = start_client("step4_client", addr, b"hello\n");
    let status = exits_within(&mut child, STEP).expect("step 4's client must end");
    let (_, err) = output_of(&mut child);
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        format!("step4_client: error: {addr} closed the connection")
    );
}

/// A client that is echoed once, then resets its connection (SO_LINGER 0) instead of closing it.
fn reset_after_one_echo(server: SocketAddr) {
    let rude = connect(server);
    (&rude).write_all(b"bye").unwrap();
    let mut echo = [0u8; 3];
    (&rude).read_exact(&mut echo).unwrap();
    socket2::SockRef::from(&rude)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(rude);
}

#[test]
fn step4_server_survives_a_client_that_resets() {
    let server = ExampleServer::start("step4_server");
    reset_after_one_echo(server.addr);
    let polite = connect(server.addr);
    (&polite).write_all(b"still there?\n").unwrap();
    let mut echo = [0u8; 13];
    (&polite).read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"still there?\n");
}

/// Steps 1's fault beside step 4's fix: an error on one connection is unhandled and ends the whole
/// server, as Python's uncaught `ConnectionResetError` does.
#[test]
fn step1_server_dies_when_a_client_resets() {
    let mut server = ExampleServer::start("step1_server");
    // Under Wine a reset sometimes reads as end of stream, which step 1 survives: up to five
    // resets, each a full one, and the server must be dead after one of them.
    let mut status = None;
    for _ in 0..5 {
        reset_after_one_echo(server.addr);
        status = exits_within(&mut server.child, Duration::from_secs(3));
        if status.is_some() {
            break;
        }
    }
    let status = status.expect("step 1's server must crash");
    assert!(!status.success(), "{status}");
}

/// Step 5's UDP server on an OS-chosen port, killed (by PID) on drop; its `listening on udp`
/// line gives the address.
fn start_udp_server() -> (Child, SocketAddr) {
    let mut child = Command::new(example("step5_udp_server"))
        .arg("0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on udp ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, addr)
}

/// A UDP socket on loopback whose receives give up after [`STEP`].
fn udp_socket() -> std::net::UdpSocket {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(STEP)).unwrap();
    socket
}

#[test]
fn step5_keeps_message_boundaries_both_ways() {
    let (mut server, addr) = start_udp_server();
    // Two sends back to back come back as two receives, each whole: where TCP's byte stream
    // glued or split them (step 2's torn reply), UDP keeps each datagram apart.
    let socket = udp_socket();
    socket.send_to(b"first", addr).unwrap();
    socket.send_to(b"second, longer", addr).unwrap();
    let mut buf = [0u8; 1024];
    let mut echoes = Vec::new();
    for _ in 0..2 {
        let (n, from) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(from, addr);
        echoes.push(buf[..n].to_vec());
    }
    assert_eq!(echoes, [b"first".to_vec(), b"second, longer".to_vec()]);

    // And the client sends each line as one datagram: a server that records what it receives
    // gets two lines as two datagrams.
    let recorder = udp_socket();
    let recorder_addr = recorder.local_addr().unwrap();
    let mut client = start_client("step5_udp_client", recorder_addr, b"one\ntwo\n");
    let mut received = Vec::new();
    for _ in 0..2 {
        let (n, from) = recorder.recv_from(&mut buf).unwrap();
        received.push(buf[..n].to_vec());
        recorder.send_to(&buf[..n], from).unwrap();
    }
    assert_eq!(received, [b"one\n".to_vec(), b"two\n".to_vec()]);
    drop(client.stdin.take());
    let status = exits_within(&mut client, STEP).expect("the client exits at end of input");
    let (out, err) = output_of(&mut client);
    assert!(status.success(), "{err}");
    assert_eq!(out, "one\ntwo\n");
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn step5_client_sends_again_when_a_datagram_is_lost() {
    // A server that drops the first datagram it receives and echoes the rest.
    let lossy = udp_socket();
    let addr = lossy.local_addr().unwrap();
    let server = thread::spawn(move || {
        let mut buf = [0u8; 1024];
        let (_, _) = lossy.recv_from(&mut buf).unwrap();
        let (n, from) = lossy.recv_from(&mut buf).unwrap();
        lossy.send_to(&buf[..n], from).unwrap();
    });
    let mut client = start_client("step5_udp_client", addr, b"are you there?\n");
    drop(client.stdin.take());
    let status = exits_within(&mut client, STEP).expect("the client exits at end of input");
    let (out, err) = output_of(&mut client);
    assert!(status.success(), "{err}");
    assert_eq!(out, "are you there?\n");
    assert!(err.contains("sending again (1 of 3)"), "{err}");
    server.join().unwrap();
}
