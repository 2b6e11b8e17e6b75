//! Step 4 of the ladder, the server: timeouts and errors. No `unwrap()` on the network.
//!
//! Run: `cargo run --example step4_server -- [PORT]`.
//! The changes from step 2: every error is reported with its cause and the client's address and
//! ends only that client (Python: `try/except OSError` around the loop); a client that sends
//! nothing for `IDLE` is disconnected (`settimeout`), so a silent client cannot hold a thread
//! forever; echoes are sent whole (`write_all`, Python's `sendall`); an accept() error is
//! reported and the loop goes on. What soc_server adds beyond this is in README's ladder table.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// How long a client may stay silent (or leave its echo unread) before it is disconnected.
const IDLE: Duration = Duration::from_secs(60);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = std::env::args().nth(1).unwrap_or("8888".into());
    let address = format!("127.0.0.1:{port}");
    let listener = TcpListener::bind(&address)
        .map_err(|err| format!("could not listen on {address}: {err}"))?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        match listener.accept() {
            Ok((conn, addr)) => {
                println!("Connected by {addr}");
                thread::spawn(move || match handle(&conn) {
                    Ok(bytes) => println!("{addr} left after {bytes} bytes"),
                    Err(err) => eprintln!("{addr}: {err}"),
                });
            }
            // One failed connection (or a moment without free sockets) must not end the server.
            Err(err) => eprintln!("accept failed: {err}"),
        }
    }
}

/// Echoes until the client closes; returns how many bytes went back.
fn handle(mut conn: &TcpStream) -> io::Result<u64> {
    conn.set_read_timeout(Some(IDLE))?;
    conn.set_write_timeout(Some(IDLE))?;
    let mut data = [0u8; 1024];
    let mut echoed = 0;
    loop {
        let n = conn.read(&mut data)?;
        if n == 0 {
            return Ok(echoed);
        }
        conn.write_all(&data[..n])?;
        echoed += n as u64;
    }
}
