//! Who may use the service (`--allow`, `--deny`) over TCP and UDP, IPv4 and IPv6, and
//! `--udp-rate-per-source`. Clients come from other loopback addresses (127.0.0.2, 127.0.0.3);
//! where the system has only 127.0.0.1 (macOS), those parts say so and are skipped.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::sources::{connect_from, datagrams_from, round_trip, turned_away};
use crate::common::{http_get, metrics_addr, sample, ServerProcess, TestServer, STEP};
use soc::server::{parse_range, Access, ServerConfig, StatsSnapshot};

fn ranges(texts: &[&str]) -> Vec<ipnet::IpNet> {
    texts
        .iter()
        .map(|text| parse_range(text).unwrap())
        .collect()
}

fn guarded(host: &str, allow: &[&str], deny: &[&str]) -> TestServer {
    TestServer::with_config_on(
        host,
        ServerConfig {
            udp: true,
            access: Access::new(ranges(allow), ranges(deny)),
            ..ServerConfig::default()
        },
    )
}

/// Sends `text` from `socket` to `server` and waits for its echo.
fn echoed(socket: &UdpSocket, server: SocketAddr, text: &[u8]) {
    socket.send_to(text, server).unwrap();
    let mut buffer = [0u8; 64];
    let (len, from) = socket.recv_from(&mut buffer).expect("an echo");
    assert_eq!((&buffer[..len], from.port()), (text, server.port()));
}

/// Datagrams waiting on `socket` now (it is left non-blocking).
fn waiting(socket: &UdpSocket) -> usize {
    socket.set_nonblocking(true).unwrap();
    let mut buffer = [0u8; 2048];
    let mut count = 0;
    loop {
        match socket.recv_from(&mut buffer) {
            Ok(_) => count += 1,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return count,
            Err(err) => panic!("{err}"),
        }
    }
}

/// Where a client from `source` reaches `server`: its own address, or for a server on `::`,
/// the loopback address of the source's family.
fn reach(server: SocketAddr, source: &str) -> SocketAddr {
    let source: std::net::IpAddr = source.parse().unwrap();
    match (server.ip().is_unspecified(), source) {
        (false, _) => server,
        (true, std::net::IpAddr::V4(_)) => SocketAddr::from(([127, 0, 0, 1], server.port())),
        (true, std::net::IpAddr::V6(_)) => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, server.port()))
        }
    }
}

/// `served` gets its TCP and UDP echoes and `refused` is closed at once and gets no echo: its
/// datagram is sent first, so that by the time the served source's echo comes, the one echo
/// thread has already dropped it. Returns the server's counters.
fn served_and_refused(server: TestServer, served: &str, refused: &str) -> Option<StatsSnapshot> {
    let (to_served, to_refused) = (reach(server.addr, served), reach(server.addr, refused));
    let (Some(good), Some(bad)) = (
        connect_from(served, to_served),
        connect_from(refused, to_refused),
    ) else {
        return None;
    };
    round_trip(&good);
    assert!(turned_away(&bad), "{refused} was served");
    let (good, bad) = (datagrams_from(served)?, datagrams_from(refused)?);
    bad.send_to(b"not for you", to_refused).unwrap();
    echoed(&good, to_served, b"for you");
    assert_eq!(waiting(&bad), 0, "{refused} got an echo");
    Some(server.stop_within(STEP))
}

fn assert_one_denied_each(stats: &StatsSnapshot) {
    let udp = stats.udp.as_ref().unwrap();
    assert_eq!((stats.denied, udp.denied, udp.echoed), (1, 1, 1), "{stats}");
    assert!(stats.to_string().contains(", 1 denied"), "{stats}");
}

#[test]
fn with_an_allow_only_its_source_is_served_over_tcp_and_udp() {
    let server = guarded("127.0.0.1", &["127.0.0.1/32"], &[]);
    if let Some(stats) = served_and_refused(server, "127.0.0.1", "127.0.0.2") {
        assert_one_denied_each(&stats);
    }
}

#[test]
fn a_deny_refuses_its_source_and_wins_over_an_allow() {
    let server = guarded("127.0.0.1", &[], &["127.0.0.2/32"]);
    if let Some(stats) = served_and_refused(server, "127.0.0.1", "127.0.0.2") {
        assert_one_denied_each(&stats);
    }
    let server = guarded("127.0.0.1", &["127.0.0.0/8"], &["127.0.0.1"]);
    if let Some(stats) = served_and_refused(server, "127.0.0.2", "127.0.0.1") {
        assert_one_denied_each(&stats);
    }
}

/// A dual-stack listener sees an IPv4 client as `::ffff:127.0.0.1`, which the rules read as
/// 127.0.0.1.
#[test]
fn ipv6_rules_hold_and_an_ipv4_client_of_a_dual_stack_listener_is_judged_as_ipv4() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this system has no IPv6 loopback");
        return;
    }
    for (allow, deny, served, refused) in [
        (&["::1/128"][..], &[][..], "::1", "127.0.0.1"),
        (&[], &["::1"], "127.0.0.1", "::1"),
        (&["127.0.0.0/8"], &[], "127.0.0.1", "::1"),
        (&[], &["127.0.0.1/32"], "::1", "127.0.0.1"),
    ] {
        let server = guarded("::", allow, deny);
        let stats = served_and_refused(server, served, refused).expect("both sources bind");
        assert_one_denied_each(&stats);
    }
}

/// The flags, the metrics and the summary of the binary itself.
#[test]
fn the_binary_counts_its_denials_in_its_metrics() {
    let server = ServerProcess::start(&["-u", "--allow", "127.0.0.1", "--metrics", "127.0.0.1:0"]);
    server.expect_output("listening on udp ");
    let metrics = metrics_addr(&server.expect_output("metrics on "));
    server.expect_log("serving only 127.0.0.1/32");
    let (Some(bad), Some(bad_udp)) = (
        connect_from("127.0.0.2", server.addr),
        datagrams_from("127.0.0.2"),
    ) else {
        return;
    };
    assert!(turned_away(&bad));
    let good = datagrams_from("127.0.0.1").unwrap();
    bad_udp.send_to(b"x", server.addr).unwrap();
    echoed(&good, server.addr, b"y");
    server.expect_log("127.0.0.2");
    let (_, body) = http_get(metrics, "/metrics", &[]);
    assert_eq!(
        sample(&body, "soc_server_clients_denied_total"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "soc_server_datagrams_denied_total"),
        Some(1.0),
        "{body}"
    );
    #[cfg(unix)]
    {
        let mut server = server;
        server.signal(libc::SIGTERM);
        let summary = server.expect_log("stopped:");
        assert!(summary.contains(", 1 denied"), "{summary}");
        assert!(server.wait(STEP).success());
    }
}

#[test]
fn ranges_and_rates_that_do_not_read_are_usage_errors() {
    for args in [
        &["--allow", "lab"][..],
        &["--allow", "10.0.0.0/33"],
        &["--deny", ""],
        &["--deny", "::1/129"],
        &["--udp-rate-per-source", "0"],
        &["--udp-rate-per-source", "lots"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_soc_server"))
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(args[0]) && stderr.lines().count() <= 6,
            "{args:?}: {stderr}"
        );
    }
}

/// 2 000 datagrams over a second from 127.0.0.2 against `--udp-rate-per-source 100`: the burst
/// of 100 and then 100 a second are echoed, the rest dropped and counted; 127.0.0.3, sending 50
/// at the same time, has every one echoed.
#[test]
fn a_flood_from_one_source_is_held_to_its_rate_while_another_gets_every_echo() {
    const RATE: u32 = 100;
    let server = TestServer::with_config(ServerConfig {
        udp: true,
        udp_rate_per_source: Some(RATE),
        ..ServerConfig::default()
    });
    let addr = server.addr;
    let (Some(flood), Some(calm)) = (datagrams_from("127.0.0.2"), datagrams_from("127.0.0.3"))
    else {
        return;
    };
    socket2::SockRef::from(&flood)
        .set_recv_buffer_size(1 << 20)
        .unwrap();
    let start = Instant::now();
    let calm_thread = std::thread::spawn(move || {
        for n in 0..50u32 {
            echoed(&calm, addr, &n.to_be_bytes());
            std::thread::sleep(Duration::from_millis(20));
        }
        calm
    });
    for batch in 0..20u32 {
        for n in 0..100u32 {
            flood
                .send_to(&(batch * 100 + n).to_be_bytes(), addr)
                .unwrap();
        }
        // Paced: a batch each 50 ms, so that the 2 000 take a second.
        let due = start + Duration::from_millis(50 * u64::from(batch + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    let calm = calm_thread.join().expect("all 50 of 127.0.0.3's echoed");
    // The echo thread takes datagrams in order: once this one is back, the flood was judged.
    echoed(&calm, addr, b"last");
    let elapsed = start.elapsed().as_secs_f64();
    let echoes = waiting(&flood) as u64;
    eprintln!("{echoes} of 2000 echoed to 127.0.0.2 over {elapsed:.2} s");
    let stats = server.stop_within(STEP);
    let udp = stats.udp.as_ref().unwrap();
    // The bucket's own rule: the burst, and the rate over the time the flood was judged in.
    let most = u64::from(RATE) + (f64::from(RATE) * elapsed).ceil() as u64;
    assert!(
        (u64::from(RATE)..=most).contains(&echoes),
        "{echoes} echoes over {elapsed:.2} s, expected {RATE} to {most}"
    );
    assert_eq!(udp.rate_limited + echoes, 2000, "{stats}");
    assert_eq!(udp.echoed, echoes + 51, "{stats}");
    assert!(
        stats
            .to_string()
            .contains(&format!("{} over the rate per source", udp.rate_limited)),
        "{stats}"
    );
}

/// A sender that cycles through 100 000 source addresses (all of 127.0.0.0/8 is loopback on
/// Linux) leaves the table of allowances at its bound. Linux only: macOS has only 127.0.0.1,
/// and the bound itself, on every platform, is shown by the unit test in source_rates.rs.
#[cfg(target_os = "linux")]
#[test]
fn a_hundred_thousand_invented_sources_leave_the_table_bounded() {
    let server = TestServer::with_config(ServerConfig {
        udp: true,
        udp_rate_per_source: Some(10_000),
        ..ServerConfig::default()
    });
    let marker = datagrams_from("127.0.0.1").unwrap();
    for n in 0..100_000u32 {
        let source = std::net::Ipv4Addr::from(0x7F01_0000 + n);
        let socket = UdpSocket::bind((source, 0)).unwrap();
        socket.send_to(b"spoofed", server.addr).unwrap();
        // Every hundredth, the echo thread is caught up with (it takes datagrams in order), so
        // that no receive buffer overflows and every source reaches the table.
        if n % 100 == 99 {
            echoed(&marker, server.addr, b"caught up?");
        }
    }
    let udp = server.probe.stats().udp.unwrap();
    // Every invented source reached the table: echoed, or refused (a source port that happened
    // to be the server's own), beside the 1 000 markers (an echo is counted before it goes).
    assert_eq!(udp.echoed + udp.refused, 101_000, "{udp:?}");
    let tracked = udp.sources_tracked.unwrap();
    // 65 536: the table's bound (MOST_SOURCES in src/server/source_rates.rs, docs/service.md).
    assert!((1..=65_536).contains(&tracked), "{tracked} sources tracked");
    server.stop_within(STEP);
}
