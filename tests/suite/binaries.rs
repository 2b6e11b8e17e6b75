//! The two binaries as a user runs them: the `listening on` line, piped mode, `-m`, errors and
//! exit codes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::thread;

use crate::common::{
    at, refused_addr, run_client, serve_once, wait_with_deadline, ServerProcess, STEP,
};
use soc::Pattern;

use crate::common::client_at as client;

#[test]
fn server_announces_the_real_address_on_one_line() {
    let server = ServerProcess::start(&[]);
    assert!(server.addr.ip().is_loopback());
    assert_ne!(
        server.addr.port(),
        0,
        "the line must carry the real port, not 0"
    );
    // And it really listens there.
    let run = client(server.addr, &["-m", "ping"], Vec::new());
    assert!(run.status.success(), "stderr: {}", run.stderr);
}

#[test]
fn server_listens_on_ipv6_loopback() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    }
    let server = ServerProcess::start(&["--host", "::1"]);
    assert_eq!(server.addr.ip().to_string(), "::1");
    let run = client(server.addr, &["-m", "over IPv6"], Vec::new());
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert_eq!(run.stdout, b"over IPv6\n");
}

#[test]
fn piped_mode_returns_a_large_random_input_identically() {
    let server = ServerProcess::start(&[]);
    let input = Pattern::new(2024).take(24 << 20);
    let run = client(server.addr, &[], input.clone());
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert_eq!(run.stdout.len(), input.len());
    assert!(run.stdout == input, "the output differs from the input");
}

#[test]
fn piped_mode_treats_exit_as_data() {
    let server = ServerProcess::start(&[]);
    let input = b"first\nexit\nquit\nlast, without newline".to_vec();
    let run = client(server.addr, &[], input.clone());
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert_eq!(run.stdout, input);
}

#[test]
fn piped_mode_with_empty_input_exits_zero() {
    let server = ServerProcess::start(&[]);
    let run = client(server.addr, &[], Vec::new());
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn message_mode_prints_the_echo_and_exits_zero() {
    let server = ServerProcess::start(&[]);
    let run = client(server.addr, &["-m", "hello, world"], Vec::new());
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert_eq!(run.stdout, b"hello, world\n");
}

/// A server that echoes with one bit flipped in every byte: proves the client checks the echo.
fn start_corrupting_server() -> SocketAddr {
    serve_once(|mut stream| {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stream.read(&mut buf) {
            buf[..n].iter_mut().for_each(|b| *b ^= 0x20);
            if stream.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    })
}

#[test]
fn message_mode_fails_when_the_echo_differs() {
    let addr = start_corrupting_server();
    let run = client(addr, &["-m", "hello"], Vec::new());
    assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
    // What came back, escaped (the newline, flipped, is a '*'); nothing on standard output.
    assert!(
        run.stderr.contains(r#"answered "HELLO*""#),
        "stderr: {}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{:?}", run.stdout);
}

#[test]
fn piped_mode_fails_when_the_echo_differs() {
    let addr = start_corrupting_server();
    let run = client(addr, &[], b"some bytes\n".repeat(1000));
    assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
    assert!(run.stderr.contains("differs"), "stderr: {}", run.stderr);
}

#[test]
fn refused_connection_gives_one_readable_line_and_exit_1() {
    let addr = refused_addr();
    let run = client(addr, &["-m", "anyone?"], Vec::new());
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(run.stderr.lines().count(), 1, "stderr: {}", run.stderr);
    assert!(
        run.stderr.contains(&format!("could not connect to {addr}")),
        "stderr: {}",
        run.stderr
    );
    assert!(run.stderr.contains("refused"), "stderr: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn unknown_host_is_a_one_line_error() {
    let run = run_client(&["--host", "no-such-host.invalid", "-m", "x"], Vec::new());
    assert_eq!(run.status.code(), Some(1));
    assert!(
        run.stderr
            .contains("could not resolve host 'no-such-host.invalid'"),
        "stderr: {}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "stderr: {}", run.stderr);
}

fn run_server_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_soc_server"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = wait_with_deadline(&mut child, STEP);
    (status.code(), reader.join().unwrap())
}

#[test]
fn port_in_use_is_a_clear_startup_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, stderr) = run_server_to_exit(&["--host", "127.0.0.1", "--port", &port]);
    assert_eq!(code, Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("could not listen on 127.0.0.1:"),
        "stderr: {stderr}"
    );
    // The system's own words differ (Windows: "Only one usage of each socket address..."); the
    // hint is soc's, given for that error kind alone.
    assert!(
        stderr.contains("(is another server already using this port?)"),
        "stderr: {stderr}"
    );
}

/// The port-hijack hazard: on Windows a socket with `SO_REUSEADDR` may bind a port that another
/// socket listens on, unless that one claimed it with `SO_EXCLUSIVEADDRUSE`, as soc_server does.
#[test]
fn no_other_socket_can_take_the_servers_port() {
    let server = ServerProcess::start(&[]);
    let port = server.addr.port().to_string();
    let (code, stderr) = run_server_to_exit(&["--host", "127.0.0.1", "--port", &port]);
    assert_eq!(
        code,
        Some(1),
        "a second soc_server must not start: {stderr}"
    );
    let intruder =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    intruder.set_reuse_address(true).unwrap();
    assert!(
        intruder.bind(&server.addr.into()).is_err(),
        "a socket with SO_REUSEADDR bound the server's port"
    );
    // The server still has its port and serves.
    let run = client(server.addr, &["-m", "still mine"], Vec::new());
    assert!(run.status.success(), "{}", run.stderr);
}

#[test]
fn unknown_or_foreign_host_is_a_clear_startup_error() {
    let (code, stderr) = run_server_to_exit(&["--host", "no-such-host.invalid", "--port", "0"]);
    assert_eq!(code, Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("could not resolve host"),
        "stderr: {stderr}"
    );
    // TEST-NET-1 (RFC 5737) is never assigned to a machine: binding to it must fail, with no
    // traffic sent anywhere.
    let (code, stderr) = run_server_to_exit(&["--host", "192.0.2.1", "--port", "0"]);
    assert_eq!(code, Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("does not belong to this machine"),
        "stderr: {stderr}"
    );
}

#[test]
fn bad_arguments_exit_with_code_2() {
    let (code, stderr) = run_server_to_exit(&["--port", "70000"]);
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert!(stderr.contains("70000"), "stderr: {stderr}");
    let run = run_client(&["--port", "not-a-port"], Vec::new());
    assert_eq!(run.status.code(), Some(2), "stderr: {}", run.stderr);
    let run = run_client(&["--timeout", "soon"], Vec::new());
    assert_eq!(run.status.code(), Some(2), "stderr: {}", run.stderr);
}

#[test]
fn closed_standard_output_ends_the_client_quietly() {
    let server = ServerProcess::start(&[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(at(server.addr))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let feeder = thread::spawn(move || {
        let _ = input.write_all(&Pattern::new(5).take(32 << 20));
    });
    // Like `| head -c 10`: read ten bytes, then close the pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 10];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = wait_with_deadline(&mut child, STEP);
    let errors = crate::common::stderr_of(&mut child);
    feeder.join().unwrap();
    assert!(status.success(), "status {status}, stderr: {errors}");
    assert_eq!(errors, "", "nothing on stderr when the output closes early");
    assert_eq!(&first[..], &Pattern::new(5).take(10)[..]);
}

#[test]
fn the_server_can_be_named_in_netcat_order() {
    let server = ServerProcess::start(&[]);
    let port = server.addr.port().to_string();
    let host_colon_port = server.addr.to_string();
    for args in [
        vec!["127.0.0.1", port.as_str(), "-m", "netcat order"],
        vec![host_colon_port.as_str(), "-m", "netcat order"],
        vec!["-m", "netcat order", "127.0.0.1", port.as_str()],
        vec!["127.0.0.1", "--port", port.as_str(), "-m", "netcat order"],
    ] {
        let run = run_client(&args, Vec::new());
        assert!(run.status.success(), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, b"netcat order\n", "{args:?}");
    }
}

#[test]
fn port_zero_clashes_and_meaningless_values_are_usage_errors() {
    for args in [
        vec!["--port", "0", "-m", "x"],
        vec!["127.0.0.1", "0", "-m", "x"],
        vec!["127.0.0.1:7", "--port", "8", "-m", "x"],
        vec!["127.0.0.1", "--host", "127.0.0.2", "-m", "x"],
        vec!["bench", "-d", "0"],
        vec!["bench", "--stream", "0"],
    ] {
        let run = run_client(&args, Vec::new());
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("error:"), "{args:?}: {}", run.stderr);
    }
}
