//! What a new user meets in the first ten minutes, with the binaries run as processes: typos and
//! other tools' habits on the command line, a full server, units and counts in messages, a
//! benchmark that measured nothing or was stopped.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use crate::common::{self, client_at, run_client, serve_each, ClientRun, ServerProcess, STEP};

/// Runs `soc_server` with `args` and `env` until it exits (for a usage error, at once).
fn server_usage_error(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_soc_server"))
        .args(args)
        .env_remove("SOC_PORT")
        .env_remove("SOC_HOST")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _kill_if_this_test_fails = common::KillOnDrop(child.id());
    let status = common::wait_with_deadline(&mut child, STEP);
    (status.code(), common::stderr_of(&mut child))
}

#[test]
fn a_mistyped_subcommand_is_a_subcommand_typo_not_a_host() {
    for (typed, typo, meant) in [
        (vec!["pnig", "-c", "3"], "pnig", "ping"),
        (vec!["benchmark"], "benchmark", "bench"),
        (vec!["-p", "9", "bnech", "-d", "1"], "bnech", "bench"),
    ] {
        let run = run_client(&typed, Vec::new());
        assert_eq!(run.status.code(), Some(2), "{typed:?}: {}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("unrecognized subcommand '{typo}'")),
            "{typed:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains(&format!("a similar subcommand exists: '{meant}'")),
            "{typed:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("'-- -c'"), "{}", run.stderr);
        assert!(!run.stderr.contains("resolve"), "{}", run.stderr);
    }
}

#[test]
fn ping_and_bench_take_the_host_and_port_after_the_subcommand_too() {
    let server = common::TestServer::start();
    let (host, port) = (server.addr.ip().to_string(), server.addr.port().to_string());
    let run = run_client(&["ping", &host, &port, "-c", "1"], Vec::new());
    assert!(run.status.success(), "{}", run.stderr);
    assert!(String::from_utf8_lossy(&run.stdout).contains("1 probe sent, 1 echoed"));
    let hostport = server.addr.to_string();
    let run = run_client(
        &["bench", &hostport, "-c", "1", "-d", "0.2", "--warmup", "0"],
        Vec::new(),
    );
    assert!(run.status.success(), "{}", run.stderr);
    // Before and after must agree.
    let run = run_client(&["127.0.0.1", "ping", "127.0.0.2", "-c", "1"], Vec::new());
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("the host is given twice"),
        "{}",
        run.stderr
    );
}

#[test]
fn negative_numbers_are_invalid_values_and_ranges_read_as_people_say_them() {
    let run = run_client(&["--port", "-1"], Vec::new());
    assert_eq!(run.status.code(), Some(2));
    assert!(
        run.stderr
            .contains("invalid value '-1' for '--port <PORT>': '-1' is not a port (1 to 65535)"),
        "{}",
        run.stderr
    );
    let run = run_client(&["ping", "-c", "0"], Vec::new());
    assert_eq!(run.status.code(), Some(2));
    assert!(
        run.stderr.contains("'0': must be at least 1"),
        "{}",
        run.stderr
    );
    let (code, stderr) = server_usage_error(&["--idle-timeout", "-1"], &[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("invalid value '-1' for '--idle-timeout <SECS>'"),
        "{stderr}"
    );
    let (code, stderr) = server_usage_error(&["--max-clients", "0"], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("'0': must be at least 1"), "{stderr}");
}

#[test]
fn a_bad_port_in_the_environment_is_named_as_the_variable() {
    let (code, stderr) = server_usage_error(&[], &[("SOC_PORT", "xyz")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("SOC_PORT=\"xyz\""), "{stderr}");
    assert!(!stderr.contains("--port <PORT>"), "{stderr}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_soc_client"));
    command
        .args(["-m", "x"])
        .env("SOC_PORT", "xyz")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SOC_PORT=\"xyz\""), "{stderr}");
}

#[test]
fn an_ipv6_address_with_a_port_stuck_on_gets_the_brackets_suggested() {
    // Refused before any connection attempt: ::1:8888 is somebody else's address.
    let run = run_client(&["::1:8888", "-m", "x"], Vec::new());
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("if 8888 is the port, write [::1]:8888"),
        "{}",
        run.stderr
    );
}

/// A soc_server that is full: `--max-clients 1`, and one client holding the place.
fn full_server() -> (ServerProcess, std::net::TcpStream) {
    let server = ServerProcess::start(&["--max-clients", "1"]);
    let first = common::connect(server.addr);
    server.expect_connected(1);
    (server, first)
}

const TURNED_AWAY: &str = "closed the connection before any echo";
const WHY: &str = "the server may have stopped or restarted, be at its client limit (soc_server \
                   --max-clients), or have timed this client out (soc_server --idle-timeout)";

#[test]
fn a_client_the_server_turns_away_is_told_why_that_may_be_piped_and_with_m() {
    let (server, _first) = full_server();
    for (args, input) in [
        (vec![], b"piped input\n".to_vec()),
        (vec!["-m", "hello"], Vec::new()),
    ] {
        let run = client_at(server.addr, &args, input);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(TURNED_AWAY), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(WHY), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
    let run = client_at(server.addr, &["ping", "-c", "1"], Vec::new());
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.contains(WHY), "{out}");
}

/// An echo server that accepts, reads and never answers.
fn never_echoing_server() -> SocketAddr {
    serve_each(|mut stream| {
        let mut buf = [0u8; 1024];
        while let Ok(1..) = stream.read(&mut buf) {}
    })
}

#[test]
fn a_bench_with_no_round_trip_says_so_and_shows_no_percentiles() {
    let addr = never_echoing_server();
    let args = [
        "bench",
        "-c",
        "3",
        "-d",
        "0.5",
        "--warmup",
        "0",
        "--timeout",
        "5",
    ];
    let run = client_at(addr, &args, Vec::new());
    let out = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{out}{}", run.stderr);
    assert!(
        out.contains("latency       none: no round trip completed"),
        "{out}"
    );
    assert!(!out.contains("p50"), "{out}");
    assert!(
        run.stderr.contains(
            "no round trip completed: the server accepted 3 connections and echoed nothing"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("some clients and not others"));
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let report = client_at(addr, &json_args, Vec::new()).json();
    assert!(report["latency_ms"].is_null(), "{report}");
    assert_eq!(report["round_trips"], 0, "{report}");
}

#[test]
fn corruption_warnings_are_rate_limited_and_the_report_has_the_total() {
    // Flips a bit of every echo, so every round trip's check fails.
    let addr = serve_each(|stream| common::echo_corrupting(stream, 0, 1));
    let run = client_at(
        addr,
        &["bench", "-c", "4", "-d", "1.5", "--warmup", "0", "--json"],
        Vec::new(),
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let warnings = run
        .stderr
        .lines()
        .filter(|line| line.contains("corrupted echo"))
        .count();
    // One a second, at most, from the one event-loop thread: 2 or 3 in 1.5 s.
    assert!(
        (1..=3).contains(&warnings),
        "{warnings} warnings:\n{}",
        run.stderr
    );
    let report = run.json();
    let total = report["errors"]["corrupted"].as_u64().unwrap();
    assert!(total > warnings as u64, "{report}");
    assert!(
        run.stderr
            .contains(&format!("{total} echoes came back corrupted")),
        "{}",
        run.stderr
    );
}

// Sends SIGINT to the binary (Unix).
#[cfg(unix)]
#[test]
fn a_bench_stopped_by_ctrl_c_says_it_was_interrupted_and_exits_130() {
    let server = common::TestServer::start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(common::at(server.addr))
        .args(["bench", "-c", "2", "-d", "30", "--warmup", "0"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _kill_if_this_test_fails = common::KillOnDrop(child.id());
    let deadline = std::time::Instant::now() + STEP;
    while server.probe.stats().active < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "bench never connected"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // SAFETY: kill(2) on the PID of the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = common::wait_with_deadline(&mut child, STEP);
    let stderr = common::stderr_of(&mut child);
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stdout.contains("ping-pong: 2 connections"), "{stdout}");
    assert!(
        stderr.contains("soc_client: interrupted after ") && stderr.contains(" of 30 s measured"),
        "{stderr}"
    );
}

#[test]
fn options_that_do_not_apply_are_usage_errors() {
    let run = run_client(
        &[
            "bench", "--stream", "1M", "-c", "10", "-d", "5", "-s", "100",
        ],
        Vec::new(),
    );
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the argument '--stream <BYTES>' cannot be used with"),
        "{}",
        run.stderr
    );
}

#[test]
fn every_size_option_takes_the_same_units() {
    let server = common::TestServer::start();
    // 16K messages, and a stream of 1.5 GiB's thousandth: 1.5M.
    let run = client_at(
        server.addr,
        &[
            "bench", "-s", "16K", "-c", "1", "-d", "0.2", "--warmup", "0", "--json",
        ],
        Vec::new(),
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.json()["message_bytes"], 16 * 1024);
    let run = client_at(
        server.addr,
        &["bench", "--stream", "1.5M", "--json"],
        Vec::new(),
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.json()["bytes_sent"], 3 << 19);
    // 1.5G is read too (and not sent here: a usage error would come first).
    let run = run_client(&["bench", "--stream", "1.5G", "-c", "2"], Vec::new());
    assert!(!run.stderr.contains("unknown unit"), "{}", run.stderr);
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
    // And what the units mean is said once, under --help.
    let help = String::from_utf8(run_client(&["bench", "--help"], Vec::new()).stdout).unwrap();
    assert!(
        help.contains("K, M, G (or KiB, MiB, GiB: 1024-based) or kB, MB, GB (1000-based)"),
        "{help}"
    );
}

#[test]
fn one_of_a_thing_is_singular() {
    let server = common::TestServer::start();
    let run = client_at(server.addr, &["ping", "-c", "1", "-q"], Vec::new());
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.contains("1 probe sent, 1 echoed"), "{out}");
    let summary = server.stop();
    assert!(
        summary.to_string().starts_with("1 client served"),
        "{summary}"
    );
}

#[test]
fn the_m_mismatch_names_the_server() {
    let addr = serve_each(|stream| common::echo_corrupting(stream, 0, 1));
    let run = client_at(addr, &["-m", "hello"], Vec::new());
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(
        run.stderr.trim(),
        format!(
            "soc_client: error: {addr} is not an echo service: it answered \"idmmn\\x0b\" to \
             the message sent"
        )
    );
}

#[test]
fn byte_counts_in_messages_read_in_binary_units_with_the_exact_count() {
    // Reads everything, echoes only the first 1 MiB, and closes at the end of the input: the
    // piped client says how much came back.
    let addr = serve_each(|mut stream| {
        let mut buf = vec![0u8; 64 * 1024];
        let mut echoed = 0;
        while let Ok(n @ 1..) = stream.read(&mut buf) {
            let n = n.min((1 << 20) - echoed);
            if stream.write_all(&buf[..n]).is_err() {
                return;
            }
            echoed += n;
        }
    });
    let run: ClientRun = client_at(addr, &[], vec![7u8; 3 << 20]);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("1.0 of 3.0 MiB (1,048,576 of 3,145,728 bytes) sent came back from"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_message_to_a_service_that_is_not_an_echo_shows_what_came_back() {
    let addr = crate::common::serve_each(|mut stream| {
        let mut request = [0u8; 64];
        let _ = std::io::Read::read(&mut stream, &mut request);
        let _ = stream.write_all(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let run = client_at(addr, &["-m", "hello"], Vec::new());
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "nothing that is not the echo is printed as if it were"
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "{addr} is not an echo service: it answered \"HTTP/1.0 400 Bad Request\\r\\nContent-Length: 0\\r\\n\\r\\n\""
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn one_connection_is_one_connection() {
    let server = crate::common::TestServer::start();
    let run = client_at(
        server.addr,
        &["bench", "-c", "1", "-d", "0.2", "--warmup", "0"],
        Vec::new(),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.contains("ping-pong: 1 connection (1 up)"), "{out}");
    assert!(
        !out.contains("with none") && !out.contains("self-connection"),
        "nothing that did not happen: {out}"
    );
}

// A closed terminal or a dropped ssh session (SIGHUP, Unix) stops the server as SIGTERM does.
#[cfg(unix)]
#[test]
fn sighup_stops_the_server_cleanly_with_its_summary() {
    let mut server = crate::common::ServerProcess::start(&[]);
    let client = crate::common::connect(server.addr);
    std::io::Write::write_all(&mut &client, b"hi\n").unwrap();
    server.expect_connected(1);
    server.signal(libc::SIGHUP);
    let status = server.wait(STEP);
    assert_eq!(status.code(), Some(0), "{status}");
    server.expect_log("SIGHUP received: shutting down");
    let summary = server.expect_log("stopped:");
    assert!(summary.contains("1 client served"), "{summary}");
    assert!(
        !summary.contains("per source"),
        "no per-source limit, nothing said of it: {summary}"
    );
}
