//! Step 2 of the ladder: the same server, with a thread per client (Python: `threading.Thread`
//! per accepted connection, or `socketserver.ThreadingTCPServer`).
//!
//! Run: `cargo run --example step2_server -- [PORT]`; the client is still `step1_client`.
//! The one change from step 1: each accepted connection is served by `thread::spawn`, so a second
//! client is served while the first is still connected
//! (`tests/suite/ladder.rs::step2_server_serves_a_second_client_at_once`). A client's error now ends
//! only its own thread. Still to fix: the client (step 3) and timeouts (step 4).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

fn main() {
    let port = std::env::args().nth(1).unwrap_or("8888".into());
    // socket() + bind() + listen()
    let listener = TcpListener::bind(format!("127.0.0.1:{port}")).unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    loop {
        // conn, addr = s.accept()
        let (conn, addr) = listener.accept().unwrap();
        println!("Connected by {addr}");
        // threading.Thread(target=handle, args=(conn,)).start()
        thread::spawn(move || handle(conn));
    }
}

/// One client's echo loop, on its own thread: recv() and send() until the client closes.
fn handle(mut conn: TcpStream) {
    let mut data = [0u8; 1024];
    loop {
        // data = conn.recv(1024); if not data: break
        let n = conn.read(&mut data).unwrap();
        if n == 0 {
            break;
        }
        // conn.send(data): as in step 1, it may send only part (fixed in step 4).
        #[allow(clippy::unused_io_amount)] // the fault of Python's send(), kept on purpose
        conn.write(&data[..n]).unwrap();
    }
}
