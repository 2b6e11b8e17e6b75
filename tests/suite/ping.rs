//! `ping --connect` (TCP handshake times against any server) and `ping --json`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use crate::common::{self, client_at, refused_addr, ClientRun, STEP};
use soc::limits::{Limit, Setting};
use soc::measure::connect::{ConnectOptions, ConnectOutcome};
use soc::measure::output::text::connect_line;
use soc::signals::StopFlag;
use soc::Target;

/// A TCP server that accepts and holds every connection, never reading or writing a byte.
fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    addr
}

fn stdout_of(run: &ClientRun) -> String {
    String::from_utf8_lossy(&run.stdout).into_owned()
}

#[test]
fn connect_probes_time_handshakes_with_a_server_that_never_reads() {
    let addr = silent_server();
    let run = client_at(
        addr,
        &["ping", "--connect", "-c", "3", "-i", "0.05"],
        Vec::new(),
    );
    let out = stdout_of(&run);
    assert!(run.status.success(), "{out}{}", run.stderr);
    for seq in 1..=3 {
        assert!(
            out.contains(&format!("connected to {addr}: seq={seq} time=")),
            "{out}"
        );
    }
    assert!(
        out.contains(&format!("--- {addr} connect statistics ---")),
        "{out}"
    );
    assert!(
        out.contains("3 connects tried, 3 connected, 0 failed"),
        "{out}"
    );
    assert!(out.contains("rtt min/avg/max/mdev = "), "{out}");
}

#[test]
fn connect_probes_to_a_closed_port_are_counted_as_failed_and_exit_one() {
    let addr = refused_addr();
    let run = client_at(
        addr,
        &["ping", "--connect", "-c", "2", "-i", "0.05"],
        Vec::new(),
    );
    let out = stdout_of(&run);
    assert_eq!(run.status.code(), Some(1), "{out}{}", run.stderr);
    assert!(out.contains(&format!("seq=1 refused by {addr}")), "{out}");
    assert!(out.contains(&format!("seq=2 refused by {addr}")), "{out}");
    assert!(
        out.contains("2 connects tried, 0 connected, 2 failed"),
        "{out}"
    );
    assert!(!out.contains("rtt "), "no round trip, no rtt line: {out}");
}

/// What Ctrl-C does on every system (the binary's handler raises this flag): an endless connect
/// run stops and returns its summary.
#[test]
fn a_stop_request_ends_an_endless_connect_run_with_its_summary() {
    let addr = silent_server();
    let stop = StopFlag::new();
    let (probes, seen) = mpsc::channel();
    let running = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let options = ConnectOptions {
                count: None,
                interval: Duration::from_millis(10),
                intervals: false,
            };
            let target = Target::new(vec![addr], Limit::After(STEP));
            soc::measure::connect::run(&target, &options, &stop, |probe| {
                assert!(matches!(probe.outcome, ConnectOutcome::Connected(_)));
                let _ = probes.send(connect_line(probe, Setting::field));
            })
        })
    };
    for _ in 0..3 {
        let line = seen.recv_timeout(STEP).expect("probe lines");
        assert!(
            line.starts_with(&format!("connected to {addr}: seq=")),
            "{line}"
        );
    }
    stop.request();
    let report = running.join().unwrap().unwrap().report;
    assert!(report.sent >= 3, "{report:?}");
    assert_eq!(report.connected, report.sent, "{report:?}");
    assert_eq!(
        soc::measure::report::Report::Connect(report).verdict(),
        Ok(())
    );
}

// Sends SIGINT to the binary (Unix); the test above is the same stop on every system.
#[cfg(unix)]
#[test]
fn ctrl_c_ends_an_endless_connect_run_with_its_summary() {
    let addr = silent_server();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(common::at(addr))
        .args(["ping", "--connect", "-i", "0.02"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _kill_if_this_test_fails = common::KillOnDrop(child.id());
    let lines = common::lines_of(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    while !seen.iter().any(|line: &String| line.contains("seq=3 ")) && seen.len() < 10 {
        seen.push(lines.recv_timeout(STEP).expect("probe lines"));
    }
    // SAFETY: kill(2) on the PID of the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = common::wait_with_deadline(&mut child, STEP);
    seen.extend(lines.iter());
    let out = seen.join("\n");
    assert!(status.success(), "{status}: {out}");
    assert!(out.contains("connect statistics"), "{out}");
    assert!(out.contains(" 0 failed"), "{out}");
}

#[test]
fn ping_json_is_the_summary_alone_named_like_bench() {
    let server = common::TestServer::start();
    for (args, mode) in [
        (vec!["ping", "-c", "3", "-i", "0.01", "--json"], "ping"),
        (
            vec!["ping", "--connect", "-c", "3", "-i", "0.01", "--json"],
            "connect",
        ),
    ] {
        let run = client_at(server.addr, &args, Vec::new());
        assert!(run.status.success(), "{}", run.stderr);
        let out = stdout_of(&run);
        assert_eq!(out.lines().count(), 1, "no line per probe: {out}");
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["mode"], mode, "{report}");
        assert_eq!(report["server"], server.addr.to_string(), "{report}");
        assert_eq!(report["sent"], 3, "{report}");
        // One block for the round trips: ping(8)'s figures and the percentiles agree.
        assert!(report.get("rtt_ms").is_none(), "{report}");
        let rtt = &report["latency_ms"];
        let (min, mean, max) = (
            rtt["min"].as_f64().unwrap(),
            rtt["mean"].as_f64().unwrap(),
            rtt["max"].as_f64().unwrap(),
        );
        assert!(0.0 <= min && min <= mean && mean <= max, "{report}");
        for percentile in ["p50", "p90", "p99", "p999"] {
            let value = rtt[percentile].as_f64().unwrap();
            assert!(min <= value && value <= max, "{percentile} in {report}");
        }
    }
}

#[test]
fn connect_probes_send_nothing_so_a_size_is_a_usage_error() {
    let run = client_at(
        refused_addr(),
        &["ping", "--connect", "-s", "100"],
        Vec::new(),
    );
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
}

/// `soc_client ping` against `addr` with `args`, running; its standard output line by line.
fn ping_running(
    addr: std::net::SocketAddr,
    args: &[&str],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(crate::common::at(addr))
        .arg("ping")
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = crate::common::lines_of(child.stdout.take().unwrap());
    (child, lines)
}

/// Reads `lines` until one contains `needle` (within a step); returns every line read.
fn read_until(lines: &std::sync::mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) {
    loop {
        let line = lines
            .recv_timeout(STEP)
            .unwrap_or_else(|_| panic!("no line with {needle:?} after {seen:#?}"));
        seen.push(line.clone());
        if line.contains(needle) {
            return;
        }
    }
}

#[test]
fn tcp_ping_connects_again_when_the_server_restarts_and_counts_what_was_lost() {
    let mut server = crate::common::ServerProcess::start(&[]);
    let addr = server.addr;
    let (mut child, lines) = ping_running(addr, &["-c", "10", "-i", "0.2", "--timeout", "1"]);
    let _kill = crate::common::KillOnDrop(child.id());
    let mut seen = Vec::new();
    read_until(&lines, "seq=2 time=", &mut seen);
    // The server goes away (its connections with it), and the probe in flight is lost.
    let _ = server.child.kill();
    server.wait(STEP);
    read_until(&lines, " lost: ", &mut seen);
    let _restarted = crate::common::ServerProcess::start_at(addr, &[]);
    read_until(&lines, "connected again to", &mut seen);
    let status = crate::common::wait_with_deadline(&mut child, STEP);
    seen.extend(lines.iter());
    let out = seen.join("\n");
    assert_eq!(status.code(), Some(1), "a probe was lost: {out}");
    assert_eq!(out.matches("connected again to").count(), 1, "{out}");
    assert!(
        out.contains("seq=1 time=") && out.contains("seq=10 time="),
        "{out}"
    );
    let summary = seen
        .iter()
        .find(|line| line.contains("probes sent"))
        .expect(&out);
    let lost: u64 = summary
        .split(", ")
        .find_map(|part| part.strip_suffix(" lost")?.parse().ok())
        .unwrap();
    assert!(lost >= 1, "{summary}");
    assert!(
        summary.starts_with("10 probes sent") && summary.contains("1 reconnection"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("{} echoed", 10 - lost)),
        "{summary}"
    );
}

#[test]
fn udp_ping_carries_on_through_a_server_that_is_away_and_gives_its_statistics() {
    let mut server = crate::common::ServerProcess::start(&["-u"]);
    let addr = server.addr;
    let (mut child, lines) =
        ping_running(addr, &["-u", "-c", "12", "-i", "0.2", "--timeout", "0.5"]);
    let _kill = crate::common::KillOnDrop(child.id());
    let mut seen = Vec::new();
    read_until(&lines, "seq=2 time=", &mut seen);
    let _ = server.child.kill();
    server.wait(STEP);
    read_until(&lines, " lost: no echo within 0.5 s", &mut seen);
    let _restarted = crate::common::ServerProcess::start_at(addr, &["-u"]);
    let status = crate::common::wait_with_deadline(&mut child, STEP);
    seen.extend(lines.iter());
    let out = seen.join("\n");
    assert_eq!(status.code(), Some(1), "probes were lost: {out}");
    assert!(!out.contains("error"), "{out}");
    assert!(
        out.contains("seq=1 time=") && out.contains("seq=12 time="),
        "{out}"
    );
    // Where the system reports the closed port, it is said once.
    assert!(
        out.matches("nothing is listening on udp").count() <= 1,
        "{out}"
    );
    assert!(
        out.contains("--- udp ") && out.contains("12 probes sent"),
        "{out}"
    );
}
