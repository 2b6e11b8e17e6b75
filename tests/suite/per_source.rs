//! `--max-per-source`: one host cannot take every place. Connections from 127.0.0.1 against one
//! from another loopback address (127.0.0.2, where the system has it), the places given back
//! however a connection ends, and the binary's warning and summary.

use std::net::TcpStream;
use std::time::Duration;

use crate::common::sources::{connect_from, round_trip, turned_away};
use crate::common::{self, ServerProcess, TestServer, STEP};
use soc::limits::Limit;
use soc::server::ServerConfig;

fn limited_to(per_source: usize, idle_timeout: Limit) -> TestServer {
    TestServer::with_config(ServerConfig {
        max_per_source: Some(per_source),
        idle_timeout,
        ..ServerConfig::default()
    })
}

#[test]
fn a_fourth_connection_from_one_source_is_turned_away_while_another_source_is_served() {
    let server = limited_to(3, Limit::Never);
    let three: Vec<TcpStream> = (0..3).map(|_| common::connect(server.addr)).collect();
    three.iter().for_each(round_trip);
    let fourth = common::connect(server.addr);
    assert!(turned_away(&fourth), "a fourth from 127.0.0.1 was served");
    // Kept open to the end: a client of another source leaving must not be what the wait below
    // sees.
    let other = connect_from("127.0.0.2", server.addr);
    if let Some(other) = &other {
        round_trip(other);
        let stats = server.probe.stats();
        assert_eq!((stats.active, stats.sources), (4, 2));
    }
    // One of the three leaves, and only that one: the next from 127.0.0.1 is served.
    let mut three = three;
    drop(three.remove(0));
    let active = 2 + usize::from(other.is_some());
    assert!(server.probe.wait_until_active_at_most(active, STEP));
    let next = common::connect(server.addr);
    round_trip(&next);
    let stats = server.stop();
    assert_eq!(stats.rejected_per_source, 1, "{stats:?}");
    assert_eq!(stats.rejected, 0, "{stats:?}");
}

#[test]
fn resets_and_idle_timeouts_leave_the_per_source_table_empty() {
    let server = limited_to(4, Limit::After(Duration::from_millis(200)));
    for _round in 0..5 {
        // Two reset after an echo, two left idle until the server times them out, one more
        // turned away.
        let reset: Vec<TcpStream> = (0..2).map(|_| common::connect(server.addr)).collect();
        let idle: Vec<TcpStream> = (0..2).map(|_| common::connect(server.addr)).collect();
        for stream in &reset {
            round_trip(stream);
            socket2::SockRef::from(stream)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        }
        assert!(server.probe.wait_until_active_at_most(4, STEP));
        let extra = common::connect(server.addr);
        assert!(turned_away(&extra), "a fifth from the source was served");
        drop(reset);
        assert!(
            server.probe.wait_until_active_at_most(0, STEP),
            "idle ones timed out"
        );
        drop((idle, extra));
    }
    let stats = server.probe.stats();
    assert_eq!((stats.active, stats.sources), (0, 0), "{stats:?}");
    assert_eq!(stats.timed_out, 10, "{stats:?}");
    assert_eq!(stats.rejected_per_source, 5, "{stats:?}");
    let summary = server.stop();
    assert_eq!(summary.served, 20, "{summary:?}");
}

#[test]
fn the_binary_warns_naming_the_source_and_counts_it_in_the_summary() {
    #[allow(unused_mut)] // only Unix stops it
    let mut server = ServerProcess::start(&["--max-per-source", "1"]);
    let first = common::connect(server.addr);
    round_trip(&first);
    let second = common::connect(server.addr);
    assert!(turned_away(&second));
    let warning = server.expect_log("rejected");
    assert!(
        warning.contains("rejected: already serving 1 client from 127.0.0.1 (--max-per-source)"),
        "{warning}"
    );
    drop((first, second));
    // The summary comes at a clean stop, which a test sends as SIGINT (Unix).
    #[cfg(unix)]
    {
        server.signal(libc::SIGINT);
        let summary = server.expect_log("served,");
        assert!(
            summary.contains("1 client served, 0 rejected, 1 rejected per source"),
            "{summary}"
        );
        assert!(server.wait(STEP).success());
    }
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_soc_server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--max-per-source") && help.contains("IPv6 /64"),
        "{help}"
    );
}
