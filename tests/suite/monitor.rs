//! `soc_client monitor`: many targets probed continuously. Its counts through a faulty UDP echo
//! (held to the test's own count, in the metrics and in the NDJSON records alike), a TCP target
//! that goes down and comes back, a name that does not resolve, and how it stops.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

use crate::common::{
    http_get, lines_of, metrics_addr, sample, Reaped, ServerProcess, TempFile, STEP,
};
use crate::udp_measure::{faulty_echo, one_path};

/// `soc_client monitor ARGS` running; its standard output line by line.
pub(crate) fn monitor_running(args: &[&str]) -> (Reaped, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .arg("monitor")
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    (Reaped(child), lines)
}

/// Reads `lines` until one contains both `target` and `needle`; returns it.
pub(crate) fn wait_for_line(lines: &Receiver<String>, target: &str, needle: &str) -> String {
    let mut seen = Vec::new();
    loop {
        let line = lines
            .recv_timeout(STEP)
            .unwrap_or_else(|_| panic!("no line with {target:?} and {needle:?} in {seen:#?}"));
        if line.contains(target) && line.contains(needle) {
            return line;
        }
        seen.push(line);
    }
}

#[test]
fn through_a_faulty_echo_the_metrics_the_records_and_the_tests_count_agree() {
    let (echo, received) = faulty_echo(one_path);
    let records = TempFile::new("probes.ndjson");
    let target = format!("udp://{echo}");
    let (_monitor, lines) = monitor_running(&[
        &target,
        "-c",
        "20",
        "-i",
        "0.1",
        "--timeout",
        "0.3",
        "--metrics",
        "127.0.0.1:0",
        "--ndjson",
        records.arg(),
    ]);
    let metrics = metrics_addr(&lines.recv_timeout(STEP).unwrap());
    // The summary says probing is done; the final counts stay served.
    let summary = wait_for_line(&lines, "probes sent", "");
    assert_eq!(received.load(Ordering::SeqCst), 20);
    let (_, exposition) = http_get(metrics, "/metrics", &[]);
    let metric = |name: &str| {
        sample(
            &exposition,
            &format!("{name}{{target=\"{echo}\",proto=\"udp\"}}"),
        )
        .unwrap_or_else(|| panic!("no {name} in {exposition}"))
    };
    let mut from_records: BTreeMap<String, u64> = BTreeMap::new();
    let mut out_of_order = 0;
    for line in records.read().lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(record["target"], echo.to_string(), "{record}");
        assert_eq!(record["proto"], "udp", "{record}");
        *from_records
            .entry(record["outcome"].as_str().unwrap().to_string())
            .or_default() += 1;
        out_of_order += u64::from(record["out_of_order"] == true);
    }
    // What the echo did: of 20, 4 dropped and 2 late (each lost at its timeout first), 1
    // altered, 13 echoed, one of them after a later one; one echoed twice.
    let expected = [
        ("echoed", 13),
        ("lost", 6),
        ("late", 2),
        ("duplicate", 1),
        ("corrupted", 1),
    ];
    for (outcome, count) in expected {
        assert_eq!(
            from_records.get(outcome).copied().unwrap_or(0),
            count,
            "{outcome}: {from_records:?}"
        );
    }
    assert_eq!(out_of_order, 1);
    for (name, count) in [
        ("soc_probe_sent_total", 20),
        ("soc_probe_echoed_total", 13),
        ("soc_probe_lost_total", 6),
        ("soc_probe_late_total", 2),
        ("soc_probe_duplicates_total", 1),
        ("soc_probe_out_of_order_total", 1),
        ("soc_probe_corrupted_total", 1),
        ("soc_probe_rtt_seconds_count", 13),
    ] {
        assert_eq!(metric(name), count as f64, "{name}: {exposition}");
    }
    // The summary keeps ping -u's counts: a late probe is late, not lost.
    assert!(
        summary.starts_with(
            "20 probes sent, 13 echoed, 4 lost, 2 late, 1 duplicate, 1 out of order, 1 corrupted"
        ),
        "{summary}"
    );
}

#[test]
fn a_tcp_target_goes_down_when_its_server_stops_and_up_when_one_listens_again() {
    let mut server = ServerProcess::start(&[]);
    let addr = server.addr;
    let tcp = format!("tcp://{addr}");
    let (_monitor, lines) = monitor_running(&[
        &tcp,
        "nosuch.invalid:7",
        "-i",
        "0.1",
        "--down-after",
        "3",
        "--timeout",
        "0.5",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let metrics = metrics_addr(&lines.recv_timeout(STEP).unwrap());
    let up = |metrics| {
        let (_, text) = http_get(metrics, "/metrics", &[]);
        let series = |name: &str| {
            sample(&text, &format!("{name}{{target=\"{addr}\",proto=\"tcp\"}}")).unwrap()
        };
        (series("soc_probe_up"), series("soc_probe_outages_total"))
    };
    // A name that does not resolve is said, and does not hold the other target up.
    wait_for_line(&lines, "nosuch.invalid", "could not resolve");
    wait_for_line(&lines, &tcp, "seq=3 time=");
    assert_eq!(up(metrics), (1.0, 0.0));
    let _ = server.child.kill();
    server.wait(STEP);
    wait_for_line(&lines, &tcp, "DOWN after 3 failed probes");
    assert_eq!(up(metrics), (0.0, 1.0));
    let _restarted = ServerProcess::start_at(addr, &[]);
    wait_for_line(&lines, &tcp, "UP again after");
    wait_for_line(&lines, &tcp, " time=");
    assert_eq!(up(metrics), (1.0, 1.0));
}

/// Waits until the writer of `pipe` is blocked: the pipe holds bytes and takes no more in a
/// tenth of a second (a monitor at 2 000 lines a second would add some 200 lines meanwhile).
#[cfg(unix)]
fn wait_until_blocked_writing(pipe: &impl std::os::fd::AsRawFd) {
    let held = || {
        let mut bytes: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int, ours, about a pipe this process holds open.
        let rc = unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut bytes) };
        assert_eq!(rc, 0, "FIONREAD");
        bytes
    };
    let deadline = std::time::Instant::now() + STEP;
    let mut before = held();
    while std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let now = held();
        if now > 0 && now == before {
            return;
        }
        before = now;
    }
    panic!("the monitor's output pipe never filled ({before} bytes in it)");
}

// SIGTERM and SIGINT are Unix's; Windows' console events cannot be sent to a test's child.
#[cfg(unix)]
#[test]
fn sigterm_ends_a_monitor_with_its_summaries_and_a_second_signal_at_once() {
    let server = ServerProcess::start(&["-u"]);
    let udp = format!("udp://{}", server.addr);
    let (mut monitor, lines) = monitor_running(&[&server.addr.to_string(), &udp, "-i", "0.05"]);
    wait_for_line(&lines, &udp, "seq=3 time=");
    assert_eq!(
        unsafe { libc::kill(monitor.0.id() as i32, libc::SIGTERM) },
        0
    );
    let status = crate::common::wait_with_deadline(&mut monitor.0, STEP);
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = lines.iter().collect();
    let text = rest.join("\n");
    assert!(text.contains(&format!("{udp}: up, 0 outages")), "{text}");
    assert!(
        text.contains("--- udp ") && text.contains("ping statistics"),
        "{text}"
    );

    // A monitor whose output nobody reads blocks writing it; the first signal cannot end it
    // cleanly then, and the second ends it at once.
    let mut stuck = Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(["monitor", &udp, &udp, &udp, &udp, "-i", "0.002"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _kill = crate::common::KillOnDrop(stuck.id());
    wait_until_blocked_writing(stuck.stdout.as_ref().unwrap());
    for signal in [libc::SIGTERM, libc::SIGINT] {
        assert_eq!(unsafe { libc::kill(stuck.id() as i32, signal) }, 0);
    }
    let status = crate::common::wait_with_deadline(&mut stuck, STEP);
    // 128 + the second signal's number (the two may be taken in either order).
    assert!(matches!(status.code(), Some(130 | 143)), "{status}");
}

#[test]
fn targets_are_read_from_a_file_and_a_bad_line_is_named() {
    let server = ServerProcess::start(&[]);
    let file = TempFile::new("targets.txt");
    std::fs::write(
        file.path(),
        format!(
            "# the lab\n{}  # its echo\n\nconnect://{}\n",
            server.addr, server.addr
        ),
    )
    .unwrap();
    let run = crate::common::run_client(
        &["monitor", "--targets", file.arg(), "-c", "2", "-i", "0.05"],
        Vec::new(),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        out.contains(&format!("connect://{}: seq=2 time=", server.addr)),
        "{out}"
    );
    assert!(
        out.contains(&format!("tcp://{}: seq=2 time=", server.addr)),
        "{out}"
    );
    std::fs::write(file.path(), "127.0.0.1:7\nnonsense\n").unwrap();
    let run = crate::common::run_client(&["monitor", "--targets", file.arg()], Vec::new());
    assert_eq!(run.status.code(), Some(2));
    assert!(
        run.stderr.contains(&format!(
            "{}:2: 'nonsense': a port is needed (HOST:PORT)",
            file.arg()
        )),
        "{}",
        run.stderr
    );
}

/// `monitor | head -1`: once nobody reads its lines, the monitor ends quietly (exit 0) with no
/// panic over its summaries, as ping(8) ends on SIGPIPE.
#[test]
fn a_monitor_whose_reader_goes_away_ends_quietly() {
    let server = ServerProcess::start(&["-u"]);
    let udp = format!("udp://{}", server.addr);
    let mut child = Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(["monitor", &udp, "-i", "0.05", "--metrics", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert!(line.starts_with("metrics on "), "{line}");
    // The reader goes away: the next line the monitor writes fails.
    drop(stdout);
    let status = crate::common::wait_with_deadline(&mut child, STEP);
    let stderr = crate::common::stderr_of(&mut child);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn monitor_q_prints_only_the_summaries_as_ping8_does() {
    let server = ServerProcess::start(&[]);
    let target = format!("connect://{}", server.addr);
    let run = crate::common::run_client(
        &["monitor", &target, "-c", "2", "-i", "0.05", "-q"],
        Vec::new(),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(!out.contains("seq="), "no probe's line: {out}");
    assert!(
        out.contains(&format!("--- {} connect statistics ---", server.addr))
            && out.contains("2 connects tried, 2 connected"),
        "its summary: {out}"
    );
}
