//! The thread cache: a client thread whose client has left waits for the next one, at most
//! `max_parked` of them, each for at most `park_limit`; an idle server goes back to its accept
//! loop alone, and a shutdown ends parked threads at once. (One test per file: it counts this
//! process's threads.)

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{connect, TestServer, STEP};
use soc::server::{ServerConfig, ThreadCacheConfig};

/// Waits (at most [`STEP`], checking every 10 ms) until `condition` holds.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + STEP;
    while !condition() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// This process's threads, where the system shows them (Linux: /proc); `None` elsewhere.
fn threads_of_this_process() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("Threads:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn round_trips(clients: usize, server: &TestServer) {
    let streams: Vec<_> = (0..clients).map(|_| connect(server.addr)).collect();
    for (i, stream) in streams.iter().enumerate() {
        let line = format!("client {i}\n");
        (&*stream).write_all(line.as_bytes()).unwrap();
        let mut echo = vec![0u8; line.len()];
        (&*stream).read_exact(&mut echo).unwrap();
        assert_eq!(echo, line.as_bytes());
    }
}

#[test]
fn parked_threads_serve_the_next_clients_then_expire_and_end_at_shutdown() {
    let server = TestServer::with_config(ServerConfig {
        thread_cache: ThreadCacheConfig {
            max_parked: 4,
            park_limit: Duration::from_millis(500),
        },
        ..ServerConfig::default()
    });
    let idle = threads_of_this_process();
    let probe = server.probe.clone();

    // Six clients at once, then gone: four threads park, the other two end.
    round_trips(6, &server);
    eventually("4 threads parked", || probe.parked_threads() == 4);
    // The next clients are served by parked threads.
    round_trips(2, &server);
    eventually("the threads back in the cache", || {
        probe.parked_threads() == 4
    });
    assert_eq!(probe.stats().served, 8);
    // Without clients, each parked thread ends after the park limit.
    eventually("every parked thread gone", || probe.parked_threads() == 0);
    if let Some(idle) = idle {
        eventually("the thread count back to its idle value", || {
            threads_of_this_process() == Some(idle)
        });
    }

    // A shutdown does not wait for parked threads to expire.
    let long_wait = TestServer::with_config(ServerConfig {
        thread_cache: ThreadCacheConfig {
            max_parked: 4,
            park_limit: Duration::from_secs(3600),
        },
        ..ServerConfig::default()
    });
    round_trips(3, &long_wait);
    let parked = long_wait.probe.clone();
    eventually("3 threads parked", || parked.parked_threads() == 3);
    let started = Instant::now();
    let stats = long_wait.stop();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((stats.served, stats.active), (3, 0));
}
