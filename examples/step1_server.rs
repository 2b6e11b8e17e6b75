//! Step 1 of the ladder, the server: `soc_server.py` as it is, in Rust. One client at a time.
//!
//! Run: `cargo run --example step1_server -- [PORT]` (default 8888; 0 lets the system choose).
//! Its fault, on purpose: while one client is connected, every other client waits; the next is
//! accepted only when this one leaves. (And a client that resets its connection crashes the
//! server: `unwrap()` on the error ends the program, as Python's uncaught exception does.)
//! The trap is shown by `tests/suite/ladder.rs::step1_server_makes_a_second_client_wait`.

use std::io::{Read, Write};
use std::net::TcpListener;

fn main() {
    let port = std::env::args().nth(1).unwrap_or("8888".into());
    // socket() + bind() + listen(): std does all three in one call.
    let listener = TcpListener::bind(format!("127.0.0.1:{port}")).unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    loop {
        // conn, addr = s.accept()
        let (mut conn, addr) = listener.accept().unwrap();
        println!("Connected by {addr}");
        let mut data = [0u8; 1024];
        loop {
            // data = conn.recv(1024)
            let n = conn.read(&mut data).unwrap();
            // if not data: break
            if n == 0 {
                break;
            }
            // conn.send(data): like send(), write() may send only part of it.
            #[allow(clippy::unused_io_amount)] // the fault of Python's send(), kept on purpose
            conn.write(&data[..n]).unwrap();
        }
        // conn.close(): the socket closes when `conn` goes out of scope here.
    }
}
