//! The server as a library: what comes back, in what order, for how many clients at once.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;

use crate::common::{connect, echo_concurrently, read_to_end, TestServer};
use soc::Pattern;

#[test]
fn round_trip_of_one_line() {
    let server = TestServer::start();
    let stream = connect(server.addr);
    (&stream).write_all(b"hello, soc\n").unwrap();
    let mut echo = [0u8; 11];
    (&stream).read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"hello, soc\n");
}

#[test]
fn every_byte_value_comes_back_unchanged() {
    let server = TestServer::start();
    let all_bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let echoed = echo_concurrently(connect(server.addr), all_bytes.clone());
    assert_eq!(echoed, all_bytes);
}

#[test]
fn message_far_larger_than_any_buffer_comes_back_byte_for_byte() {
    let server = TestServer::start();
    let payload = Pattern::new(42).take(48 << 20);
    let echoed = echo_concurrently(connect(server.addr), payload.clone());
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "the echo differs from the payload");
}

#[test]
fn half_close_gets_every_byte_back_then_end_of_stream() {
    let server = TestServer::start();
    let stream = connect(server.addr);
    (&stream).write_all(b"no newline at the end").unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    // read_to_end returns only at end of stream: the server closed after echoing everything.
    assert_eq!(read_to_end(&stream), b"no newline at the end");
    let stats = server.stop();
    assert_eq!(stats.bytes_echoed, 21);
    assert_eq!(stats.served, 1);
}

#[test]
fn many_clients_at_once_each_get_exactly_their_own_bytes() {
    const CLIENTS: u64 = 128;
    let server = TestServer::start();
    // Connect every client first, so that all of them are being served at the same time.
    let streams: Vec<_> = (0..CLIENTS).map(|_| connect(server.addr)).collect();
    let workers: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(i, stream)| {
            thread::spawn(move || {
                let payload = Pattern::new(i as u64).take(10_000 + i * 97);
                let echoed = echo_concurrently(stream, payload.clone());
                assert!(
                    echoed == payload,
                    "client {i} got bytes that are not its own"
                );
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a client failed");
    }
    let stats = server.stop();
    assert_eq!(stats.served, CLIENTS);
    assert_eq!(stats.active, 0);
}

#[test]
fn a_client_that_never_reads_does_not_hold_up_others() {
    let server = TestServer::start();
    let hog = connect(server.addr);
    hog.set_write_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    // Send until our own buffers are full: the server is then blocked writing to the hog.
    let chunk = vec![7u8; 64 * 1024];
    let mut sent = 0usize;
    for _ in 0..1024 {
        match (&hog).write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(
        sent > 0 && sent < 1024 * chunk.len(),
        "the hog's writes never blocked"
    );
    // Meanwhile another client is served as usual.
    let other = connect(server.addr);
    let echoed = echo_concurrently(other, b"still here\n".to_vec());
    assert_eq!(echoed, b"still here\n");
    drop(hog);
}

/// What Ctrl-C does on every system (the binary's handler calls the same shutdown): the accept
/// loop, blocked in accept() with no client arriving, wakes; every client is closed, even one
/// whose thread is blocked writing an echo nobody reads; every thread is joined; at once.
#[test]
fn shutdown_closes_every_client_and_returns_at_once() {
    let server = TestServer::start();
    let clients: Vec<_> = (0..20).map(|_| connect(server.addr)).collect();
    for stream in &clients {
        (&*stream).write_all(b"hello\n").unwrap();
        let mut echo = [0u8; 6];
        (&*stream).read_exact(&mut echo).unwrap();
    }
    let hog = connect(server.addr);
    hog.set_write_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    for _ in 0..1024 {
        if (&hog).write(&[0u8; 64 * 1024]).is_err() {
            break;
        }
    }
    let started = std::time::Instant::now();
    let stats = server.stop();
    let took = started.elapsed();
    // Typically a few milliseconds; the margin is for a loaded CI machine.
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    assert_eq!((stats.served, stats.active, stats.failed), (21, 0, 0));
    for stream in &clients {
        let mut byte = [0u8; 1];
        match (&*stream).read(&mut byte) {
            Ok(n) => assert_eq!(n, 0, "end of stream expected"),
            Err(err) => assert!(crate::common::is_disconnect(&err), "{err}"),
        }
    }
}
