//! `soc_client ping` and `soc_client bench`: their counts and verdicts, not their speed.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use crate::common::{
    at, echo_corrupting, serve_each, serve_once, ClientRun, ServerProcess, TestServer, STEP,
};
use soc::limits::{Limit, Setting};
use soc::measure::output::text::ping_line;
use soc::measure::ping::PingOptions;
use soc::measure::report::Report;
use soc::signals::StopFlag;
use soc::Target;

fn client(addr: SocketAddr, extra: &[&str]) -> ClientRun {
    crate::common::client_at(addr, extra, Vec::new())
}

#[test]
fn ping_library_counts_every_probe_of_an_intact_run() {
    let server = TestServer::start();
    let options = PingOptions {
        count: Some(5),
        interval: Duration::from_millis(5),
        size: 100,
        timeout: Limit::After(STEP),
        intervals: false,
    };
    let mut out = String::new();
    let target = Target::new(vec![server.addr], Limit::After(STEP));
    let summary = soc::measure::ping::run(&target, &options, &StopFlag::new(), |event| {
        out.push_str(&ping_line(event, Setting::field));
        out.push('\n');
    })
    .unwrap()
    .report;
    assert_eq!(
        (
            summary.sent,
            summary.echoed,
            summary.lost,
            summary.corrupted
        ),
        (5, 5, 0, 0)
    );
    assert_eq!(Report::Ping(summary.clone()).verdict(), Ok(()));
    let rtt = summary.latency_ms.expect("round-trip statistics");
    assert!(rtt.min <= rtt.mean && rtt.mean <= rtt.max);
    assert!(rtt.min <= rtt.p50 && rtt.p999 <= rtt.max, "{rtt:?}");
    assert!(
        out.starts_with(&format!("PING {}: connected in ", server.addr)),
        "{out}"
    );
    for seq in 1..=5 {
        assert!(
            out.contains(&format!("100 bytes from {}: seq={seq} time=", server.addr)),
            "{out}"
        );
    }
    assert_eq!(server.stop().bytes_echoed, 500);
}

#[test]
fn ping_binary_prints_a_summary_and_exits_zero() {
    let server = ServerProcess::start(&[]);
    let run = client(server.addr, &["ping", "-c", "3", "-i", "0.01"]);
    assert!(run.status.success(), "stderr: {}", run.stderr);
    let out = String::from_utf8(run.stdout).unwrap();
    assert_eq!(out.matches("56 bytes from").count(), 3, "{out}");
    assert!(
        out.contains(&format!("--- {} ping statistics ---", server.addr)),
        "{out}"
    );
    assert!(
        out.contains("3 probes sent, 3 echoed, 0 lost, 0 corrupted"),
        "{out}"
    );
    assert!(out.contains("rtt min/avg/max/mdev = "), "{out}");
}

#[test]
fn ping_reports_a_corrupted_probe_and_exits_one() {
    // One flipped bit in the second probe (bytes 56..112), nowhere else.
    let addr = serve_once(|stream| echo_corrupting(stream, 60, u64::MAX));
    let run = client(addr, &["ping", "-c", "3", "-i", "0.01"]);
    assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
    let out = String::from_utf8(run.stdout).unwrap();
    assert!(
        out.contains("seq=2 time=") && out.contains("CORRUPTED (1 bytes differ)"),
        "{out}"
    );
    assert!(
        out.contains("3 probes sent, 2 echoed, 0 lost, 1 corrupted"),
        "{out}"
    );
}

#[test]
fn ping_counts_probes_as_lost_when_the_server_stops_answering() {
    // Echoes the first probe, then reads and never answers again.
    let addr = serve_once(|mut stream| {
        let mut probe = [0u8; 56];
        if stream.read_exact(&mut probe).is_ok() && stream.write_all(&probe).is_ok() {
            let _ = std::io::copy(&mut stream, &mut std::io::sink());
        }
    });
    let run = client(addr, &["--timeout", "0.3", "ping", "-c", "3", "-i", "0.01"]);
    assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
    let out = String::from_utf8(run.stdout).unwrap();
    assert!(out.contains("seq=2 lost: no echo within 0.3 s"), "{out}");
    assert!(
        out.contains("3 probes sent, 1 echoed, 2 lost, 0 corrupted"),
        "{out}"
    );
}

#[test]
fn bench_json_counts_are_consistent_against_soc_server() {
    let server = ServerProcess::start(&[]);
    let run = client(
        server.addr,
        &[
            "bench", "-c", "8", "-s", "100", "-d", "1", "--warmup", "0.2", "--json",
        ],
    );
    assert!(run.status.success(), "stderr: {}", run.stderr);
    let report = run.json();
    assert_eq!(report["mode"], "ping-pong");
    assert_eq!(report["connections"], 8);
    assert_eq!(report["connected"], 8);
    assert_eq!(report["message_bytes"], 100);
    let round_trips = report["round_trips"].as_u64().unwrap();
    assert!(round_trips > 0, "{report}");
    let seconds = report["seconds"].as_f64().unwrap();
    let rate = report["round_trips_per_sec"].as_f64().unwrap();
    assert!(
        (rate * seconds - round_trips as f64).abs() < 1.0,
        "{report}"
    );
    let mb = report["mb_per_sec_each_way"].as_f64().unwrap();
    // Rounded to the kilobyte a second, as JSON gives megabytes.
    assert!((mb - rate * 100.0 / 1e6).abs() < 1e-3, "{report}");
    for kind in ["connect_failures", "resets", "timeouts", "corrupted"] {
        assert_eq!(report["errors"][kind], 0, "{kind}: {report}");
    }
    let latency = &report["latency_ms"];
    let (p50, p99, max) = (
        latency["p50"].as_f64().unwrap(),
        latency["p99"].as_f64().unwrap(),
        latency["max"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{latency}");
}

#[test]
fn bench_exits_non_zero_on_corrupted_echoes() {
    let addr = serve_each(|stream| echo_corrupting(stream, 1000, 5000));
    let run = client(
        addr,
        &["bench", "-c", "4", "-d", "0.5", "--warmup", "0", "--json"],
    );
    assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
    let report = run.json();
    assert!(
        report["errors"]["corrupted"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert!(run.stderr.contains("corrupted"), "{}", run.stderr);
}

#[test]
fn bench_stream_verifies_every_byte() {
    let server = ServerProcess::start(&[]);
    let run = client(server.addr, &["bench", "--stream", "16M", "--json"]);
    assert!(run.status.success(), "stderr: {}", run.stderr);
    let report = run.json();
    assert_eq!(report["mode"], "stream");
    assert_eq!(report["bytes_sent"], 16 << 20);
    assert_eq!(report["bytes_echoed"], 16 << 20);
    assert_eq!(report["corrupted_bytes"], 0);
    assert!(report["first_corrupted_offset"].is_null());

    // One flipped bit, 5 MiB in: found, and its offset reported.
    let addr = serve_once(|stream| echo_corrupting(stream, 5 << 20, u64::MAX));
    let run = client(addr, &["bench", "--stream", "16M", "--json"]);
    assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
    let report = run.json();
    assert_eq!(report["corrupted_bytes"], 1);
    assert_eq!(report["first_corrupted_offset"], 5 << 20);
}

#[test]
fn bench_against_nothing_is_a_one_line_error() {
    let addr = crate::common::refused_addr();
    let run = client(addr, &["bench", "-d", "0.2"]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("could not connect to {addr}")),
        "{}",
        run.stderr
    );
}

/// `soc_client ping` without a count, a probe every 10 ms, its output piped to the test.
fn spawn_endless_ping(addr: SocketAddr) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(at(addr))
        .args(["ping", "-i", "0.01"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// A writer that hands each write to a channel, so a test can watch output as it is made.
struct ChannelWriter(std::sync::mpsc::Sender<Vec<u8>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.send(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What Ctrl-C does on every system (the binary's handler raises this flag): an endless ping
/// stops and returns its summary.
#[test]
fn a_stop_request_ends_an_endless_ping_with_its_summary() {
    let server = TestServer::start();
    let stop = StopFlag::new();
    let (written, output) = std::sync::mpsc::channel();
    let pinging = {
        let stop = stop.clone();
        let addr = server.addr;
        std::thread::spawn(move || {
            let options = PingOptions {
                count: None,
                interval: Duration::from_millis(10),
                size: 56,
                timeout: Limit::After(STEP),
                intervals: false,
            };
            let mut out = ChannelWriter(written);
            let target = Target::new(vec![addr], Limit::After(STEP));
            soc::measure::ping::run(&target, &options, &stop, |event| {
                let _ = writeln!(out, "{}", ping_line(event, Setting::field));
            })
        })
    };
    let mut seen = String::new();
    while !seen.contains("seq=3 ") {
        let chunk = output.recv_timeout(STEP).expect("probe lines");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    stop.request();
    let summary = pinging.join().unwrap().unwrap().report;
    assert!(summary.sent >= 3, "{summary:?}");
    assert_eq!(summary.echoed, summary.sent, "{summary:?}");
    assert_eq!(Report::Ping(summary).verdict(), Ok(()));
}

// Sends SIGINT to the binary (Unix); a_stop_request_ends_an_endless_ping_with_its_summary is
// the same stop on every system.
#[cfg(unix)]
#[test]
fn ctrl_c_ends_an_endless_ping_with_its_summary() {
    let server = ServerProcess::start(&[]);
    let mut child = spawn_endless_ping(server.addr);
    let lines = crate::common::lines_of(child.stdout.take().unwrap());
    let mut seen: Vec<String> = Vec::new();
    // The banner, then probes 1 to 3: a handful of lines, each within STEP.
    for _ in 0..10 {
        seen.push(lines.recv_timeout(STEP).expect("probe lines"));
        if seen.last().is_some_and(|line| line.contains("seq=3 ")) {
            break;
        }
    }
    assert!(seen.iter().any(|line| line.contains("seq=3 ")), "{seen:?}");
    // SAFETY: kill(2) on the PID of the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = crate::common::wait_with_deadline(&mut child, STEP);
    seen.extend(lines.iter());
    let out = seen.join("\n");
    assert!(status.success(), "{status}: {out}");
    assert!(out.contains("ping statistics"), "{out}");
    assert!(out.contains("0 lost, 0 corrupted"), "{out}");
    let stderr = crate::common::stderr_of(&mut child);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_endless_ping_ends_quietly_when_its_output_closes() {
    let server = ServerProcess::start(&[]);
    let mut child = spawn_endless_ping(server.addr);
    // Like `| head -n 2`: read the banner and one probe line, then close the pipe.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    for _ in 0..2 {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    }
    drop(stdout);
    let status = crate::common::wait_with_deadline(&mut child, STEP);
    let stderr = crate::common::stderr_of(&mut child);
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(stderr, "");
}

#[cfg(unix)]
#[test]
fn bench_shows_live_progress_on_a_terminal_and_reports_on_stdout() {
    let server = ServerProcess::start(&[]);
    let (mut controller, terminal) = crate::common::open_pty();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(at(server.addr))
        .args(["bench", "-c", "2", "-d", "2.5", "--warmup", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::from(terminal))
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let status = crate::common::wait_with_deadline(&mut child, STEP);
    let mut report = String::new();
    stdout.read_to_string(&mut report).unwrap();
    assert!(status.success(), "{status}");
    assert!(
        report.starts_with("ping-pong: 2 connections (2 up)"),
        "{report}"
    );
    // The child has exited and closed the terminal: what it wrote there is buffered for us, and
    // once that is read the controller side reports an error (EIO).
    let mut screen = Vec::new();
    let mut chunk = [0u8; 4096];
    for _ in 0..100 {
        match controller.read(&mut chunk) {
            Ok(n @ 1..) => screen.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    let screen = String::from_utf8_lossy(&screen);
    assert!(screen.contains("round trips/s"), "{screen:?}");
    assert!(screen.contains("0 errors"), "{screen:?}");
}

#[cfg(unix)]
#[test]
fn bench_raises_a_low_soft_file_limit_to_open_its_connections() {
    let server = ServerProcess::start(&["--max-clients", "1000"]);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_soc_client"));
    command
        .args(at(server.addr))
        .args(["bench", "-c", "200", "-d", "0.3", "--warmup", "0", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // Soft limit 64, hard 4096: 200 connections fit only if bench raises the soft limit.
    crate::common::limit_open_files(&mut command, 64, 4096);
    let output = command.output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // Whether every one of 200 connections also completed a round trip in 0.3 s is up to the
    // machine's load (and the run says so when not): what is shown here is that all were made.
    assert_eq!(report["connected"], 200, "{report}");
    assert_eq!(report["errors"]["connect_failures"], 0, "{report}");
}

/// A server that serves one connection at a time, like the Python seed: the others wait.
fn one_at_a_time_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            stream.set_read_timeout(Some(STEP)).unwrap();
            let mut buf = [0u8; 1024];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                if stream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    addr
}

#[test]
fn bench_fails_naming_the_connections_a_server_never_served() {
    let run = client(
        one_at_a_time_server(),
        &["bench", "-c", "5", "-d", "1", "--warmup", "0.2"],
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("4 of 5 connections completed no round trip in the measured time"),
        "{}",
        run.stderr
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("(4 with none)"), "{stdout}");
}

#[test]
fn bench_stops_at_once_when_its_server_goes_away() {
    let mut server = ServerProcess::start(&[]);
    let mut bench = std::process::Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(crate::common::at(server.addr))
        .args(["bench", "-c", "10", "-d", "30", "--warmup", "0.1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    server.expect_connected(10);
    let _ = server.child.kill();
    let _ = server.child.wait();
    let killed = std::time::Instant::now();
    let status = crate::common::wait_with_deadline(&mut bench, STEP);
    let took = killed.elapsed();
    let mut stdout = String::new();
    bench
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let stderr = crate::common::stderr_of(&mut bench);
    assert_eq!(status.code(), Some(1), "{stdout}{stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?} to notice");
    assert!(stderr.contains("the server went away"), "{stderr}");
    assert!(stdout.contains("PARTIAL"), "{stdout}");
}

#[test]
fn a_clean_bench_leaves_no_failed_client_on_the_server() {
    let server = TestServer::start();
    let options = soc::measure::pingpong::PingPongOptions {
        connections: 20,
        duration: Duration::from_secs(1),
        warmup: Duration::from_millis(200),
        size: 64,
        timeout: Limit::After(STEP),
        threads: 1,
        intervals: false,
    };
    let target = Target::new(vec![server.addr], Limit::After(STEP));
    let report = soc::measure::pingpong::ping_pong(&target, &options, &StopFlag::new(), |_| {})
        .unwrap()
        .report;
    let report = Report::PingPong(report);
    assert_eq!(report.verdict(), Ok(()), "{report}");
    let stats = server.stop();
    assert_eq!(
        (stats.served, stats.active, stats.failed),
        (20, 0, 0),
        "{stats:?}"
    );
}

#[test]
fn ping_q_prints_only_the_summary_as_ping8_does() {
    let server = TestServer::start();
    let run = client(server.addr, &["ping", "-c", "3", "-i", "0.01", "-q"]);
    assert!(run.status.success(), "{}", run.stderr);
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.starts_with("--- "), "{out}");
    assert!(out.contains("3 probes sent, 3 echoed"), "{out}");
    assert!(!out.contains("seq="), "{out}");
    // And its help says so, not only that the logging is quieter.
    let help = crate::common::run_client(&["ping", "--help"], Vec::new());
    let help = String::from_utf8_lossy(&help.stdout);
    let quiet = help.lines().find(|line| line.contains("--quiet")).unwrap();
    assert!(
        quiet.contains("print only their summaries, as ping(8) -q does"),
        "{quiet}"
    );
}

#[test]
fn bench_beyond_the_servers_client_limit_fails_with_a_hint() {
    let server = ServerProcess::start(&["--max-clients", "2"]);
    let run = client(
        server.addr,
        &["bench", "-c", "4", "-d", "0.5", "--warmup", "0.2"],
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("--max-clients"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}
