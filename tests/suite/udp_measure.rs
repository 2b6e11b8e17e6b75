//! Measuring over UDP: `ping -u` and `bench -u --rate` against an echo written here that does
//! known harm to known datagrams (drops, duplicates, holds back, delays past the timeout, flips a
//! byte), so that every counter can be held to exactly what was done; against socat's echo; and
//! against soc_server.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::common::{client_at, ClientRun, ServerProcess, STEP};
use crate::udp::SocatEcho;
use soc::limits::Limit;
use soc::measure::udp_ping::{self, UdpOutcome, UdpPingEvent, UdpPingOptions};
use soc::signals::StopFlag;
use soc::Target;

/// What the faulty echo does with the datagram it receives `n`-th (counted from 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fault {
    Echo,
    Drop,
    /// Echoed twice.
    Twice,
    /// Echoed right after the echo of the next datagram from the same socket: it arrives out of
    /// order.
    HoldForNext,
    /// Echoed this long after it came.
    Delay(Duration),
    /// Echoed with its last byte flipped.
    FlipLastByte,
    /// Echoed, and followed by 3 bytes that match no datagram.
    EchoAndStray,
}

/// A UDP echo on loopback that does `fault(n, datagram)` to its `n`-th datagram; the count of
/// datagrams it received goes to the counter returned.
pub(crate) fn faulty_echo(
    fault: impl Fn(u64, &[u8]) -> Fault + Send + 'static,
) -> (SocketAddr, Arc<AtomicU64>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&received);
    thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        let mut held: Option<(Vec<u8>, SocketAddr)> = None;
        while let Ok((len, from)) = socket.recv_from(&mut buf) {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let mut echo = buf[..len].to_vec();
            match fault(n, &echo) {
                Fault::Drop => continue,
                Fault::HoldForNext => {
                    held = Some((echo, from));
                    continue;
                }
                Fault::Delay(wait) => {
                    let sender = socket.try_clone().unwrap();
                    thread::spawn(move || {
                        thread::sleep(wait);
                        let _ = sender.send_to(&echo, from);
                    });
                    continue;
                }
                Fault::Echo => {
                    let _ = socket.send_to(&echo, from);
                }
                Fault::Twice => {
                    let _ = socket.send_to(&echo, from);
                    let _ = socket.send_to(&echo, from);
                }
                Fault::EchoAndStray => {
                    let _ = socket.send_to(&echo, from);
                    let _ = socket.send_to(b"xyz", from);
                }
                Fault::FlipLastByte => {
                    if let Some(last) = echo.last_mut() {
                        *last ^= 0xFF;
                    }
                    let _ = socket.send_to(&echo, from);
                }
            }
            if let Some((echo, to)) = held.take_if(|(_, to)| *to == from) {
                let _ = socket.send_to(&echo, to);
            }
        }
    });
    (addr, received)
}

/// The timeout of the ping runs here, and how late the delayed echo comes: three timeouts, so
/// that it is lost first and then late, well before the run ends.
const TIMEOUT: Duration = Duration::from_millis(500);
const DELAY: Duration = Duration::from_millis(1500);

/// Drops every 5th datagram, sends the 3rd twice, holds the 7th back until the 8th has been
/// echoed, delays the 2nd past the timeout, flips a byte of the 12th and follows the 16th's echo
/// with a datagram that matches no probe.
fn harm(n: u64, _: &[u8]) -> Fault {
    match n {
        _ if n % 5 == 0 => Fault::Drop,
        2 => Fault::Delay(DELAY),
        3 => Fault::Twice,
        7 => Fault::HoldForNext,
        12 => Fault::FlipLastByte,
        16 => Fault::EchoAndStray,
        _ => Fault::Echo,
    }
}

/// RFC 3550 §6.4.1's interarrival jitter, written out here from the formula: J += (|D| − J)/16,
/// D the change in transit time from one arrival to the next; in milliseconds.
fn rfc_3550_jitter_ms(transits_in_arrival_order: &[Duration]) -> f64 {
    let mut jitter = 0.0;
    for pair in transits_in_arrival_order.windows(2) {
        let d = pair[1].as_secs_f64() - pair[0].as_secs_f64();
        jitter += (d.abs() - jitter) / 16.0;
    }
    jitter * 1000.0
}

#[test]
fn each_ping_counter_counts_exactly_what_the_echo_did_and_jitter_is_rfc_3550s() {
    let (addr, _) = faulty_echo(harm);
    let options = UdpPingOptions {
        count: Some(20),
        interval: Duration::from_millis(100),
        size: 56,
        timeout: Limit::After(TIMEOUT),
        intervals: false,
    };
    let (mut events, mut strays) = (Vec::new(), Vec::new());
    let measured = udp_ping::run(
        &Target::new(vec![addr], Limit::After(STEP)),
        &options,
        &StopFlag::new(),
        |event| match event {
            UdpPingEvent::Probe { seq, outcome, .. } => events.push((*seq, *outcome)),
            UdpPingEvent::Waiting(_) => events.push((0, UdpOutcome::Lost(Limit::Never))),
            UdpPingEvent::Stray { bytes } => strays.push(*bytes),
            UdpPingEvent::Started { .. } | UdpPingEvent::NothingListening(_) => {}
        },
    )
    .unwrap();
    let report = measured.report;
    let of = |seq: u64| -> Vec<UdpOutcome> {
        events
            .iter()
            .filter(|(s, _)| *s == seq)
            .map(|(_, outcome)| *outcome)
            .collect()
    };
    // Dropped: 5, 10, 15 and 20, reported lost and never heard of again.
    for seq in [5, 10, 15, 20] {
        assert_eq!(
            of(seq),
            [UdpOutcome::Lost(Limit::After(TIMEOUT))],
            "seq {seq}"
        );
    }
    // Delayed past the timeout: lost at the timeout, then late, and how late.
    match of(2).as_slice() {
        [UdpOutcome::Lost(_), UdpOutcome::Late(after)] => {
            assert!(*after >= DELAY, "late by {after:?}")
        }
        other => panic!("seq 2: {other:?}"),
    }
    // Twice: echoed, then a duplicate.
    assert!(
        matches!(
            of(3).as_slice(),
            [
                UdpOutcome::Echoed {
                    out_of_order: false,
                    ..
                },
                UdpOutcome::Duplicate(_)
            ]
        ),
        "seq 3: {:?}",
        of(3)
    );
    // Held back: it came after 8's echo.
    assert!(
        matches!(
            of(7).as_slice(),
            [UdpOutcome::Echoed {
                out_of_order: true,
                ..
            }]
        ),
        "seq 7: {:?}",
        of(7)
    );
    assert_eq!(of(12), [UdpOutcome::Corrupted(1)]);
    assert_eq!(strays, [3], "the stray datagram after the 16th echo");
    for seq in [1, 4, 6, 8, 9, 11, 13, 14, 16, 17, 18, 19] {
        assert!(
            matches!(
                of(seq).as_slice(),
                [UdpOutcome::Echoed {
                    out_of_order: false,
                    ..
                }]
            ),
            "seq {seq}: {:?}",
            of(seq)
        );
    }
    // The wait for the dropped 20th was said.
    assert_eq!(of(0).len(), 1, "the wait for stragglers is said once");

    assert_eq!(report.sent, 20);
    assert_eq!(report.echoed, 14);
    assert_eq!(report.lost, 4);
    assert_eq!(report.late, 1);
    assert_eq!(report.duplicates, 1);
    assert_eq!(report.out_of_order, 1);
    // The altered echo and the stray datagram.
    assert_eq!(report.corrupted, 2);
    assert!((report.loss_percent - 20.0).abs() < 1e-9);
    assert!(soc::measure::report::Report::UdpPing(report.clone())
        .verdict()
        .is_err());

    // The round trips are those of the 14 echoes counted echoed, in the order they arrived; the
    // late one is not among them.
    let transits: Vec<Duration> = events
        .iter()
        .filter_map(|(_, outcome)| match outcome {
            UdpOutcome::Echoed { rtt, .. } => Some(*rtt),
            _ => None,
        })
        .collect();
    assert_eq!(transits.len(), 14);
    let rtt = report.latency_ms.unwrap();
    let most = transits.iter().max().unwrap().as_secs_f64() * 1000.0;
    assert!((rtt.max - most).abs() < 1e-9, "{} against {most}", rtt.max);
    assert!(rtt.max < DELAY.as_secs_f64() * 1000.0);
    let jitter = report.jitter_ms.unwrap();
    let expected = rfc_3550_jitter_ms(&transits);
    assert!(
        (jitter - expected).abs() < 1e-9,
        "jitter {jitter} ms, RFC 3550 gives {expected} ms"
    );
}

#[test]
fn ping_u_says_each_fault_on_its_probes_line_and_exits_one() {
    let (addr, _) = faulty_echo(|n, _| match n {
        2 => Fault::Delay(DELAY),
        3 => Fault::Twice,
        5 => Fault::Drop,
        6 => Fault::HoldForNext,
        8 => Fault::FlipLastByte,
        _ => Fault::Echo,
    });
    let run = client_at(
        addr,
        &["ping", "-u", "-c", "20", "-i", "0.1", "--timeout", "0.5"],
        Vec::new(),
    );
    let out = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{out}{}", run.stderr);
    for expected in [
        "seq=2 lost: no echo within 0.5 s (--timeout)",
        "seq=2 late: its echo came ",
        "seq=3 duplicate: another echo",
        "seq=5 lost",
        "seq=6 time=",
        " ms (out of order)",
        "seq=8 corrupted: 1 bytes differ",
        "waiting up to ",
        "20 probes sent, 17 echoed, 1 lost, 1 late, 1 duplicate, 1 out of order, 1 corrupted, \
         5.0% loss",
        ", jitter ",
    ] {
        assert!(out.contains(expected), "no {expected:?} in:\n{out}");
    }
    // The line that says seq 6 came out of order is seq 6's.
    assert!(out
        .lines()
        .any(|line| line.contains("seq=6 ") && line.ends_with("(out of order)")));
}

#[test]
fn ping_u_against_socats_udp_echo_gets_every_probe_back_and_exits_zero() {
    let Some(socat) = SocatEcho::start() else {
        return;
    };
    let run = client_at(
        socat.addr,
        &["ping", "-u", "-c", "5", "-i", "0.05", "--json"],
        Vec::new(),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["mode"], "udp-ping");
    assert_eq!(report["sent"], 5);
    assert_eq!(report["echoed"], 5);
    for counter in ["lost", "late", "duplicates", "out_of_order", "corrupted"] {
        assert_eq!(report[counter], 0, "{counter} in {report}");
    }
    assert!(report["jitter_ms"].as_f64().is_some(), "{report}");
}

/// `bench -u --rate` arguments for a short run, measured from the start.
fn udp_bench(rate: &str, extra: &[&'static str]) -> Vec<&'static str> {
    let rate: &'static str = Box::leak(rate.to_string().into_boxed_str());
    let mut args = vec![
        "bench", "-u", "--rate", rate, "-c", "4", "-d", "1", "--warmup", "0", "--json",
    ];
    args.extend_from_slice(extra);
    args
}

/// Asserts that a bench run succeeded, or failed only because the generator was itself held up
/// (on a shared machine it may be, and then the run must say so); the counters are checked
/// either way.
fn assert_measured(run: &ClientRun) {
    assert!(
        run.status.success() || run.stderr.contains("the generator itself was late"),
        "{}",
        run.stderr
    );
}

#[test]
fn bench_u_at_a_moderate_rate_loses_nothing_through_soc_server_and_reports_every_counter() {
    // Its UDP echo is on the port of its TCP one.
    let server = ServerProcess::start(&["-u"]);
    let run = client_at(server.addr, &udp_bench("2000", &[]), Vec::new());
    assert_measured(&run);
    let report = run.json();
    assert_eq!(report["mode"], "udp-rate");
    let count = |name: &str| {
        report[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no {name} in {report}"))
    };
    // 2000/s for one second: 2000 due (one either way, where the last falls on the end).
    assert!(count("due").abs_diff(2000) <= 1, "{report}");
    assert_eq!(count("sent"), count("due"));
    assert_eq!(count("echoed"), count("sent"));
    for counter in ["lost", "late", "duplicates", "out_of_order", "corrupted"] {
        assert_eq!(count(counter), 0, "{counter} in {report}");
    }
    assert_eq!(report["loss_percent"], 0.0);
    for figures in ["latency_ms", "uncorrected_latency_ms"] {
        assert!(report[figures]["p99"].as_f64().unwrap() > 0.0, "{report}");
    }
}

#[test]
fn bench_u_counts_the_loss_of_a_dropping_echo_exactly() {
    let (addr, received) = faulty_echo(|n, _| match n % 10 {
        0 => Fault::Drop,
        _ => Fault::Echo,
    });
    let run = client_at(addr, &udp_bench("1000", &["--timeout", "0.5"]), Vec::new());
    // Loss is what the run measured, not a failure of it.
    assert_measured(&run);
    let report = run.json();
    let count = |name: &str| report[name].as_u64().unwrap();
    let sent = count("sent");
    assert_eq!(
        received.load(Ordering::SeqCst),
        sent,
        "the echo got every datagram sent"
    );
    assert_eq!(count("lost"), sent / 10, "{report}");
    assert_eq!(count("echoed"), sent - sent / 10, "{report}");
    let percent = report["loss_percent"].as_f64().unwrap();
    assert!((percent - (sent / 10) as f64 / sent as f64 * 100.0).abs() < 1e-9);
    for counter in ["late", "duplicates", "out_of_order", "corrupted"] {
        assert_eq!(count(counter), 0, "{counter} in {report}");
    }
}

#[test]
fn losses_in_the_warm_up_are_not_counted() {
    // Drops every datagram whose sequence number (its first 8 bytes) is a multiple of 10: in
    // the measured datagrams of the one socket, a tenth, whatever the warm-up took.
    let (addr, _) = faulty_echo(|_, datagram| {
        let seq = u64::from_be_bytes(datagram[..8].try_into().unwrap());
        match seq % 10 {
            0 => Fault::Drop,
            _ => Fault::Echo,
        }
    });
    let args = [
        "bench",
        "-u",
        "--rate",
        "1000",
        "-c",
        "1",
        "-d",
        "1",
        "--warmup",
        "0.5",
        "--timeout",
        "0.5",
        "--json",
    ];
    let run = client_at(addr, &args, Vec::new());
    assert_measured(&run);
    let report = run.json();
    let count = |name: &str| report[name].as_u64().unwrap();
    let (sent, lost) = (count("sent"), count("lost"));
    assert!(
        lost == sent / 10 || lost == sent.div_ceil(10),
        "{lost} lost of {sent}: {report}"
    );
    assert_eq!(count("echoed") + lost, sent, "{report}");
}

#[test]
fn bench_u_counts_duplicates_reordering_and_corruption_and_fails_on_corruption() {
    let (addr, _) = faulty_echo(|n, _| match n {
        100 => Fault::Twice,
        200 => Fault::HoldForNext,
        300 => Fault::FlipLastByte,
        _ => Fault::Echo,
    });
    let run = client_at(addr, &udp_bench("1000", &["--timeout", "0.5"]), Vec::new());
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("1 echo came back corrupted"),
        "{}",
        run.stderr
    );
    let report = run.json();
    let count = |name: &str| report[name].as_u64().unwrap();
    assert_eq!(count("duplicates"), 1, "{report}");
    assert_eq!(count("out_of_order"), 1, "{report}");
    assert_eq!(count("corrupted"), 1, "{report}");
    assert_eq!(count("lost"), 0, "{report}");
    assert_eq!(count("echoed"), count("sent") - 1, "{report}");
}

#[test]
fn bench_u_without_a_rate_is_a_usage_error_that_says_why() {
    let (addr, received) = faulty_echo(|_, _| Fault::Echo);
    let run = client_at(addr, &["bench", "-u", "-d", "1"], Vec::new());
    assert_eq!(run.status.code(), Some(2));
    assert!(
        run.stderr
            .contains("closed-loop UDP makes no sense, as one lost datagram would stall"),
        "{}",
        run.stderr
    );
    let run = client_at(
        addr,
        &["ping", "-u", "--timeout", "0", "-c", "1"],
        Vec::new(),
    );
    assert_eq!(run.status.code(), Some(2));
    assert!(run.stderr.contains("--timeout 0 does not go with -u"));
    assert_eq!(received.load(Ordering::SeqCst), 0, "nothing was sent");
}

// As its TCP twin in rate.rs: the generator stopped from 0.7 s to 1.3 s into a 1 s run (timed
// from the first datagram's arrival) still owes every datagram due before the end.
#[cfg(unix)]
#[test]
fn datagrams_due_while_the_generator_was_stopped_at_the_end_still_count_as_due() {
    let (addr, received) = faulty_echo(|_, _| Fault::Echo);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(crate::common::at(addr))
        // The burst after the stop may overflow the echo's receive buffer: what it drops is
        // lost after half a second.
        .args(udp_bench("1000", &["--timeout", "0.5"]))
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _kill_if_this_test_fails = crate::common::KillOnDrop(child.id());
    let deadline = std::time::Instant::now() + STEP;
    while received.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < deadline, "no datagram came");
        thread::sleep(Duration::from_millis(1));
    }
    thread::sleep(Duration::from_millis(700));
    crate::rate::pause(child.id(), Duration::from_millis(600));
    let status = crate::common::wait_with_deadline(&mut child, STEP);
    let mut stdout = Vec::new();
    std::io::Read::read_to_end(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(status.code(), Some(1), "late, so failed: {report}");
    assert!(
        report["due"].as_u64().unwrap().abs_diff(1000) <= 1,
        "{report}"
    );
    assert_eq!(report["sent"], report["due"], "{report}");
}

/// Drops every 5th datagram, delays the 2nd past the timeout and the 4th past twice the timeout
/// (the ledger has forgotten it by then), sends the 3rd twice, holds the 7th back past the 8th,
/// flips a byte of the 12th.
pub(crate) fn one_path(n: u64, _: &[u8]) -> Fault {
    match n {
        _ if n % 5 == 0 => Fault::Drop,
        2 => Fault::Delay(Duration::from_millis(450)),
        4 => Fault::Delay(Duration::from_millis(1000)),
        3 => Fault::Twice,
        7 => Fault::HoldForNext,
        12 => Fault::FlipLastByte,
        _ => Fault::Echo,
    }
}

#[test]
fn ping_u_and_bench_u_count_the_same_datagrams_on_the_same_path_alike() {
    // Twenty datagrams a tenth of a second apart from one socket, each mode through an echo that
    // does the same to the n-th datagram it gets.
    let counters = [
        "sent",
        "echoed",
        "lost",
        "late",
        "duplicates",
        "out_of_order",
        "corrupted",
    ];
    let mut seen = Vec::new();
    for args in [
        &[
            "ping",
            "-u",
            "-c",
            "20",
            "-i",
            "0.1",
            "--timeout",
            "0.3",
            "--json",
        ][..],
        &[
            "bench",
            "-u",
            "--rate",
            "10",
            "-c",
            "1",
            "-d",
            "2",
            "--warmup",
            "0",
            "--timeout",
            "0.3",
            "--json",
        ][..],
    ] {
        let (addr, received) = faulty_echo(one_path);
        let run = client_at(addr, args, Vec::new());
        let report = run.json();
        assert_eq!(received.load(Ordering::SeqCst), 20, "{report}");
        let counts: Vec<u64> = counters
            .iter()
            .map(|name| {
                report[name]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{name}: {report}"))
            })
            .collect();
        // 4 dropped and 2 late of 20; 1 altered: 13 echoed. One duplicate, one swap.
        assert_eq!(counts, [20, 13, 4, 2, 1, 1, 1], "{args:?}: {report}");
        assert_eq!(
            report["ok"], false,
            "a corrupted echo fails either run: {report}"
        );
        seen.push(counts);
    }
    assert_eq!(seen[0], seen[1]);
}
