//! `soc_client bench --rate`: open-loop load, measured against servers that misbehave in known
//! ways (a stall 300 ms of every second, a server slower than asked, one that stops reading
//! until the socket buffers fill), and a generator stopped while its sockets could take more.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::{self, client_at, serve_each, serve_once, TestServer};

fn ms(report: &serde_json::Value, figures: &str, which: &str) -> f64 {
    report[figures][which]
        .as_f64()
        .unwrap_or_else(|| panic!("no {figures}.{which} in {report}"))
}

/// How long into each second the stalling server stops: 300 ms of every 1000.
const STALL: Duration = Duration::from_millis(300);

/// An echo server that neither reads nor writes for the first 300 ms of every second since it
/// started, for all its connections at once: the stall a measuring tool must not hide.
pub(crate) fn stalling_server() -> SocketAddr {
    let started = Instant::now();
    let stalled = move || {
        let into_second =
            Duration::from_nanos((started.elapsed().as_nanos() % 1_000_000_000) as u64);
        if into_second < STALL {
            std::thread::sleep(STALL - into_second);
        }
    };
    serve_each(move |mut stream: TcpStream| {
        let mut buf = [0u8; 16 * 1024];
        loop {
            stalled();
            let Ok(n @ 1..) = stream.read(&mut buf) else {
                break;
            };
            stalled();
            if stream.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    })
}

#[test]
fn a_stall_closed_loop_hides_is_in_the_open_loop_percentiles() {
    let addr = stalling_server();
    let closed = client_at(
        addr,
        &["bench", "-c", "10", "-d", "3", "--warmup", "0", "--json"],
        Vec::new(),
    );
    assert!(closed.status.success(), "{}", closed.stderr);
    let closed = closed.json();
    let open = client_at(
        addr,
        &[
            "bench", "--rate", "1000", "-c", "10", "-d", "3", "--warmup", "0", "--json",
        ],
        Vec::new(),
    );
    // A generator held up on a loaded machine (Wine's timers, say) must say so; its figures
    // still show the stall.
    assert!(
        open.status.success() || open.stderr.contains("the generator itself was late"),
        "{}",
        open.stderr
    );
    let open = open.json();
    // Three tenths of the time stalled: about three messages in ten wait up to 300 ms.
    assert!(ms(&open, "latency_ms", "p90") >= 100.0, "open loop: {open}");
    assert!(
        ms(&closed, "latency_ms", "p90") < 10.0,
        "closed loop: {closed}"
    );
    assert_eq!(open["mode"], "rate");
    assert_eq!(open["errors"]["corrupted"], 0, "{open}");
}

#[test]
fn against_a_healthy_server_the_asked_rate_is_kept_and_the_generator_reports_its_lateness() {
    let server = TestServer::start();
    for threads in ["1", "2"] {
        let run = client_at(
            server.addr,
            &[
                "bench", "--rate", "2000", "-c", "8", "-t", threads, "-d", "2", "--warmup", "0.3",
                "--json",
            ],
            Vec::new(),
        );
        let report = run.json();
        // On a shared machine the generator may itself be held up, and then the run must say
        // so (exit 1, its own lateness as the reason); anything else is a failure.
        assert!(
            run.status.success() || run.stderr.contains("the generator itself was late"),
            "{}",
            run.stderr
        );
        let asked = report["asked_rate"].as_f64().unwrap();
        assert_eq!(asked, 2000.0);
        for rate in ["sent_rate", "echoed_rate"] {
            let rate = report[rate].as_f64().unwrap();
            assert!(rate >= 0.99 * asked, "-t {threads}: {report}");
        }
        assert_eq!(report["unsent"], 0, "{report}");
        assert_eq!(report["unechoed"], 0, "{report}");
        assert_eq!(report["due"], report["round_trips"], "{report}");
        let (p50, p99, max) = (
            ms(&report, "generator_lateness_ms", "p50"),
            ms(&report, "generator_lateness_ms", "p99"),
            ms(&report, "generator_lateness_ms", "max"),
        );
        assert!(0.0 <= p50 && p50 <= p99 && p99 <= max, "{report}");
        assert!(
            ms(&report, "generator_lateness_ms", "limit") >= 1.0,
            "{report}"
        );
        for figures in ["latency_ms", "uncorrected_latency_ms"] {
            let p9999 = ms(&report, figures, "p9999");
            assert!(ms(&report, figures, "p999") <= p9999, "{report}");
            assert!(p9999 <= ms(&report, figures, "max"), "{report}");
        }
        // Each message's latency from its schedule includes the time until its first byte went.
        assert!(ms(&report, "latency_ms", "p50") >= ms(&report, "uncorrected_latency_ms", "p50"));
    }
}

#[test]
fn a_server_slower_than_asked_is_measured_and_said_not_to_keep_up() {
    // Echoes one 64-byte message every 5 ms, at most: 200 a second.
    let addr = serve_once(|mut stream| {
        let mut message = [0u8; 64];
        while stream.read_exact(&mut message).is_ok() {
            std::thread::sleep(Duration::from_millis(5));
            if stream.write_all(&message).is_err() {
                break;
            }
        }
    });
    let run = client_at(
        addr,
        &[
            "bench", "--rate", "400", "-c", "1", "-d", "1.5", "--warmup", "0",
        ],
        Vec::new(),
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", run.stderr);
    assert!(
        stdout.contains("the server did not keep up: it echoed "),
        "{stdout}"
    );
    assert!(stdout.contains("of the 400/s asked"), "{stdout}");
}

/// Stops and continues a process by its PID, to make it late by its own fault.
#[cfg(unix)]
pub(crate) fn pause(pid: u32, stopped: Duration) {
    // SAFETY: kill(2) on the PID of the child this test started; no memory is involved.
    unsafe {
        assert_eq!(libc::kill(pid as i32, libc::SIGSTOP), 0);
    }
    std::thread::sleep(stopped);
    // SAFETY: as above.
    unsafe {
        assert_eq!(libc::kill(pid as i32, libc::SIGCONT), 0);
    }
}

// Stops the generator with SIGSTOP (Unix). Its sockets stay writable meanwhile (the server reads
// on), so the lateness is the generator's own, which must fail the run.
#[cfg(unix)]
#[test]
fn a_generator_that_cannot_keep_its_schedule_fails_saying_so() {
    let server = TestServer::start();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(common::at(server.addr))
        .args([
            "bench", "--rate", "1000", "-c", "2", "-d", "3", "--warmup", "0",
        ])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _kill_if_this_test_fails = common::KillOnDrop(child.id());
    let deadline = Instant::now() + common::STEP;
    while server.probe.stats().active < 2 {
        assert!(Instant::now() < deadline, "bench never connected");
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        pause(child.id(), Duration::from_millis(200));
    }
    let status = common::wait_with_deadline(&mut child, common::STEP);
    let stderr = common::stderr_of(&mut child);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the generator itself was late"), "{stderr}");
    assert!(
        stderr.contains("(-t)") && stderr.contains("(--rate)"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

// Stops the generator from 0.7 s to 1.3 s into a 1 s run: the messages due in its last 0.3 s are
// still due (sent late, and the run fails for its lateness), not dropped from the schedule.
#[cfg(unix)]
#[test]
fn messages_due_while_the_generator_was_stopped_at_the_end_still_count_as_due() {
    let server = TestServer::start();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(common::at(server.addr))
        .args([
            "bench", "--rate", "1000", "-c", "2", "-d", "1", "--warmup", "0", "--json",
        ])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _kill_if_this_test_fails = common::KillOnDrop(child.id());
    let deadline = Instant::now() + common::STEP;
    while server.probe.stats().active < 2 {
        assert!(Instant::now() < deadline, "bench never connected");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(700));
    pause(child.id(), Duration::from_millis(600));
    let status = common::wait_with_deadline(&mut child, common::STEP);
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(status.code(), Some(1), "{report}");
    let due = report["due"].as_u64().unwrap();
    assert!(due.abs_diff(1000) <= 1, "{report}");
    assert_eq!(report["unsent"], 0, "{report}");
}

#[test]
fn a_wait_for_a_full_socket_counts_in_the_corrected_latency_only() {
    // Reads nothing for a second, long enough for 64 KiB messages to fill every buffer between
    // the two ends, then echoes.
    let addr = serve_once(|stream| {
        std::thread::sleep(Duration::from_secs(1));
        common::echo(stream);
    });
    let run = client_at(
        addr,
        &[
            "bench", "--rate", "500", "-c", "1", "-s", "65536", "-d", "2", "--warmup", "0",
            "--json",
        ],
        Vec::new(),
    );
    let report = run.json();
    assert!(report["socket_waits"].as_u64().unwrap() > 0, "{report}");
    // The messages that waited for room (most of the stalled second's) are late by their wait
    // in the corrected figure only.
    // The median, not a higher percentile: how many messages a socket's buffers take before the
    // stall, whose first byte then waits through it, is the system's (Wine's take a tenth of
    // them), and those are late in both figures.
    let corrected = ms(&report, "latency_ms", "p50");
    let uncorrected = ms(&report, "uncorrected_latency_ms", "p50");
    assert!(
        corrected > 10.0 * uncorrected && corrected - uncorrected > 100.0,
        "corrected p50 {corrected} ms, uncorrected {uncorrected} ms: {report}"
    );
}
