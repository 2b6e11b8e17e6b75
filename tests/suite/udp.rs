//! UDP echo: soc_server -u, and soc_client -u in its three modes, against soc_server, against
//! misbehaving echoes written here (dropping, delaying), and against socat's.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{self, client_at, ServerProcess, TestServer, STEP};
use soc::client::udp;
use soc::client::{MessageOptions, SessionOptions};
use soc::limits::Limit;
use soc::server::ServerConfig;
use soc::Pattern;
use soc::Target;

fn udp_server() -> TestServer {
    TestServer::with_config(ServerConfig {
        udp: true,
        ..ServerConfig::default()
    })
}

/// A UDP socket on `ip` whose receives give up after `limit`.
fn socket_on(ip: &str, limit: Duration) -> UdpSocket {
    let socket = UdpSocket::bind((ip, 0)).unwrap();
    socket.set_read_timeout(Some(limit)).unwrap();
    socket
}

/// The echo of `payload` from `server`, sent from `socket`.
fn echo_of(socket: &UdpSocket, server: SocketAddr, payload: &[u8]) -> Vec<u8> {
    socket.send_to(payload, server).unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, from) = socket.recv_from(&mut buf).expect("an echo");
    assert_eq!(from, server);
    buf[..n].to_vec()
}

#[test]
fn datagrams_of_every_size_come_back_unchanged_over_ipv4_and_ipv6() {
    let server = udp_server();
    let socket = socket_on("127.0.0.1", STEP);
    for size in [0, 1, 1400, 65_507] {
        let payload = Pattern::new(size as u64).take(size);
        assert!(
            echo_of(&socket, server.addr, &payload) == payload,
            "{size} bytes"
        );
    }
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped the IPv6 half: no IPv6 loopback on this machine");
        return;
    }
    let server = TestServer::with_config_on(
        "::1",
        ServerConfig {
            udp: true,
            ..ServerConfig::default()
        },
    );
    let socket = socket_on("::1", STEP);
    // The largest UDP payload over IPv6: 65 535 bytes of IPv6 payload, less 8 of UDP header.
    let payload = Pattern::new(6).take(65_527);
    assert!(echo_of(&socket, server.addr, &payload) == payload);
}

#[test]
fn datagrams_that_could_start_a_loop_are_refused_and_counted() {
    let server = udp_server();
    let mut refused = 0;
    // From the port of chargen (19), where this machine lets a test bind it (root, Windows).
    match UdpSocket::bind("127.0.0.1:19") {
        Ok(chargen) => {
            chargen.send_to(b"as if from chargen", server.addr).unwrap();
            refused += 1;
        }
        Err(err) => eprintln!("skipped source port 19: {err}"),
    }
    // From the server's own port number on another loopback address: another echo service.
    match UdpSocket::bind(("127.0.0.2", server.addr.port())) {
        Ok(other_echo) => {
            other_echo
                .send_to(b"as if from an echo", server.addr)
                .unwrap();
            refused += 1;
        }
        Err(err) => eprintln!("skipped 127.0.0.2: {err}"),
    }
    // A plain client is still served, after them (datagrams are taken in order).
    let socket = socket_on("127.0.0.1", STEP);
    assert_eq!(echo_of(&socket, server.addr, b"served"), b"served");
    // Counted after the echo went out: read once the server has stopped (its threads joined).
    let stats = server.stop().udp.expect("udp counters");
    assert_eq!((stats.refused, stats.echoed), (refused, 1), "{stats:?}");
}

#[test]
fn many_clients_at_once_each_get_exactly_their_own_datagrams() {
    const CLIENTS: u64 = 16;
    const EACH: u64 = 50;
    let server = udp_server();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let addr = server.addr;
            thread::spawn(move || {
                let socket = socket_on("127.0.0.1", STEP);
                for seq in 0..EACH {
                    let payload = Pattern::new(client * 1000 + seq).take(64 + seq as usize);
                    assert!(
                        echo_of(&socket, addr, &payload) == payload,
                        "client {client} got a datagram that is not its own"
                    );
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client failed");
    }
    let stats = server.stop();
    assert_eq!(stats.udp.unwrap().echoed, CLIENTS * EACH);
}

#[test]
fn shutdown_with_a_udp_socket_open_returns_at_once() {
    let server = udp_server();
    let socket = socket_on("127.0.0.1", STEP);
    assert_eq!(echo_of(&socket, server.addr, b"before"), b"before");
    // Typically a few milliseconds; the margin is for a loaded CI machine.
    let stats = server.stop_within(Duration::from_secs(3));
    // The wake-up datagram is not echoed, nor counted.
    assert_eq!(stats.udp.unwrap().echoed, 1);
}

/// Windows reports an earlier datagram that could not be delivered by failing the next receive
/// (WSAECONNRESET), unless switched off (src/sys/windows.rs); on every system, an echo to a
/// client that has gone must not stop the echo of the next one.
#[test]
fn an_echo_to_a_client_that_has_gone_does_not_stop_the_echo() {
    let server = udp_server();
    for _ in 0..3 {
        let gone = socket_on("127.0.0.1", STEP);
        gone.send_to(b"then gone", server.addr).unwrap();
        drop(gone);
    }
    let socket = socket_on("127.0.0.1", STEP);
    assert_eq!(
        echo_of(&socket, server.addr, b"still served"),
        b"still served"
    );
}

#[test]
fn the_server_announces_udp_after_tcp_on_the_same_port() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_soc_server"));
    command
        .args(["--host", "127.0.0.1", "--port", "0", "-u", "-q"])
        .env_remove("RUST_LOG");
    let server = ServerProcess::spawn(command);
    // ServerProcess read the first line; the UDP line follows, on the same port.
    let socket = socket_on("127.0.0.1", STEP);
    assert_eq!(echo_of(&socket, server.addr, b"same port"), b"same port");
    let run = client_at(server.addr, &["-u", "-m", "through the binary"], Vec::new());
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout, b"through the binary\n");
}

/// An echo on loopback that drops the datagrams `drop` says to drop (counted from 1) and
/// answers each other one after `delay(n)`.
fn misbehaving_echo(
    drop: impl Fn(u64) -> bool + Send + 'static,
    delay: impl Fn(u64) -> Duration + Send + 'static,
) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        let mut seen = 0;
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            seen += 1;
            if drop(seen) {
                continue;
            }
            let wait = delay(seen);
            let reply = buf[..n].to_vec();
            let sender = socket.try_clone().unwrap();
            thread::spawn(move || {
                thread::sleep(wait);
                let _ = sender.send_to(&reply, from);
            });
        }
    });
    addr
}

fn target(addr: SocketAddr) -> Target {
    Target::new(vec![addr], Limit::After(STEP))
}

#[test]
fn an_interactive_session_reports_a_lost_echo_and_goes_on() {
    // The second datagram is lost; the first echo comes after 600 ms, past a 300 ms timeout.
    let addr = misbehaving_echo(
        |n| n == 2,
        |n| match n {
            1 => Duration::from_millis(600),
            _ => Duration::ZERO,
        },
    );
    let options = SessionOptions {
        timeout: Limit::After(Duration::from_millis(300)),
    };
    // The keyboard: three lines, held open until the late echo has been shown (the messages
    // are watched as they are written), then closed: end of input.
    let (keyboard, typing) = common::stream_pair();
    {
        use std::io::Write;
        (&typing).write_all(b"first\nsecond\nthird\n").unwrap();
    }
    let (written, shown) = mpsc::channel();
    let session = thread::spawn(move || {
        let mut output = Vec::new();
        let mut messages = ChannelWriter(written);
        let reading = std::io::BufReader::new(keyboard);
        let result = udp::interactive(&target(addr), &options, reading, &mut output, &mut messages);
        (result.map_err(|err| format!("{err:#}")), output)
    });
    let mut messages = String::new();
    let deadline = Instant::now() + STEP;
    while !messages.contains("late echo of line 1") {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = shown
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no late echo shown: {messages}"));
        messages.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(typing);
    let (result, output) = session.join().unwrap();
    result.unwrap();
    messages.extend(
        shown
            .try_iter()
            .map(|chunk| String::from_utf8_lossy(&chunk).into_owned()),
    );
    assert_eq!(String::from_utf8(output).unwrap(), "third\n", "{messages}");
    assert!(
        messages.contains("no echo for line 1 within 0.3 s"),
        "{messages}"
    );
    assert!(
        messages.contains("no echo for line 2 within 0.3 s"),
        "{messages}"
    );
    assert!(messages.contains("late echo of line 1, "), "{messages}");
    assert!(!messages.contains("late echo of line 2"), "{messages}");
}

#[test]
fn a_message_is_sent_again_when_its_datagram_is_lost() {
    let addr = misbehaving_echo(|n| n == 1, |_| Duration::ZERO);
    let mut output = Vec::new();
    let options = MessageOptions {
        text: "are you there?".into(),
        timeout: Limit::After(Duration::from_millis(300)),
    };
    udp::message(&target(addr), &options, &mut output).unwrap();
    assert_eq!(output, b"are you there?\n");

    // Every datagram lost: three tries, then one line, exit 1 (the binary).
    let black_hole = misbehaving_echo(|_| true, |_| Duration::ZERO);
    let run = client_at(
        black_hole,
        &["-u", "--timeout", "0.2", "-m", "anyone?"],
        Vec::new(),
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "no echo from udp {black_hole}: 3 datagrams sent, none came back within 0.2 s \
             (--timeout)"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn a_closed_udp_port_is_reported_at_once() {
    // A port nothing listens on (bound, read, released).
    let closed = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let run = client_at(
        closed,
        &["-u", "--timeout", "1", "-m", "anyone?"],
        Vec::new(),
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    // The error is one line, and the last. Where the system reports the ICMP error at once
    // (Linux, macOS) it is the only one; where it reports it on the next operation only
    // (Windows), the first try times out and a warning says the datagram is sent again.
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("soc_client: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(run.stderr.trim_end().ends_with(errors[0]), "{}", run.stderr);
    if cfg!(target_os = "linux") {
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(
            errors[0].contains(&format!("nothing is listening on udp {closed}")),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn piped_mode_is_byte_exact_through_soc_server_and_counts_what_a_lossy_echo_drops() {
    let server = udp_server();
    let input = Pattern::new(16).take(4 << 20);
    let run = client_at(server.addr, &["-u"], input.clone());
    assert!(run.status.success(), "{}", run.stderr);
    assert!(run.stdout == input, "the output differs from the input");

    // Text: datagrams end at line ends.
    let text: Vec<u8> = (0..2000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let run = client_at(server.addr, &["-u", "-s", "100"], text.clone());
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout, text);

    // Every 10th datagram dropped: exit 1, and exactly those counted.
    let lossy = misbehaving_echo(|n| n % 10 == 0, |_| Duration::ZERO);
    let run = client_at(
        lossy,
        &["-u", "--timeout", "0.5", "-s", "1000"],
        // No line ends: every datagram is a full 1000 bytes.
        b"0123456789".repeat(10_000),
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "90 of 100 datagrams sent to udp {lossy} came back intact: 10 not echoed within 0.5 s"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout.len(), 90 * 1000);
}

/// socat's UDP echo, started as its manual shows (`UDP4-RECVFROM:PORT,fork PIPE`: a process per
/// datagram), on a free port; killed by PID when dropped.
pub(crate) struct SocatEcho {
    child: std::process::Child,
    pub(crate) addr: SocketAddr,
}

impl SocatEcho {
    /// socat's echo, or `None` (said) where socat is not installed (Windows has none).
    pub(crate) fn start() -> Option<SocatEcho> {
        let program = crate::common::peer("socat", "socat")?;
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .arg(format!("UDP4-RECVFROM:{port},bind=127.0.0.1,fork"))
            .arg("PIPE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start socat");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // Ready once a probe comes back (sent again every 100 ms, for STEP at most).
        let probe = socket_on("127.0.0.1", Duration::from_millis(100));
        let deadline = Instant::now() + STEP;
        let mut buf = [0u8; 16];
        loop {
            assert!(Instant::now() < deadline, "socat never echoed");
            probe.send_to(b"ready?", addr).unwrap();
            if probe.recv_from(&mut buf).is_ok() {
                break;
            }
        }
        Some(SocatEcho { child, addr })
    }
}

impl Drop for SocatEcho {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn soc_client_udp_against_socats_echo() {
    let Some(socat) = SocatEcho::start() else {
        return;
    };
    let run = client_at(socat.addr, &["-u", "-m", "hello, socat"], Vec::new());
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout, b"hello, socat\n");
    let text: Vec<u8> = (0..50)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let run = client_at(socat.addr, &["-u", "-s", "64"], text.clone());
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout, text);
}

#[test]
fn the_server_dumps_datagrams_at_trace_level() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_soc_server"));
    command
        .args(["--host", "127.0.0.1", "--port", "0", "-u", "-vv"])
        .env_remove("RUST_LOG");
    let server = ServerProcess::spawn(command);
    let socket = socket_on("127.0.0.1", STEP);
    let local = socket.local_addr().unwrap();
    assert_eq!(echo_of(&socket, server.addr, b"dump me"), b"dump me");
    let line = server.expect_log(&format!("< {local} 7 bytes"));
    assert!(line.contains("TRACE"), "{line}");
    server.expect_log("|dump me|");
}

/// A writer that hands each write to a channel, so a test can watch output as it is made.
struct ChannelWriter(mpsc::Sender<Vec<u8>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.send(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
