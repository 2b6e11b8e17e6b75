//! Step 1 of the ladder, the client: `soc_client.py` as it is, in Rust.
//!
//! Run: `cargo run --example step1_client -- [PORT]` (default 8888), type lines, `exit` leaves.
//! Its faults, on purpose: one `recv(1024)` is taken for the whole reply, so an echo that
//! arrives in pieces is printed torn (`tests/suite/ladder.rs::step2_client_prints_a_torn_reply`); an
//! empty line sends nothing and then waits for a reply forever; `send()` may send only part of a
//! line; nothing has a timeout. It stays the client of step 2, which changes only the server.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;

fn main() {
    let port = std::env::args().nth(1).unwrap_or("8888".into());
    // s = socket(); s.connect((HOST, PORT))
    let mut s = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    let mut keyboard = std::io::stdin().lock();
    loop {
        // msg = input('> ')
        print!("> ");
        std::io::stdout().flush().unwrap();
        let mut msg = String::new();
        if keyboard.read_line(&mut msg).unwrap() == 0 {
            break;
        }
        let msg = msg.trim_end_matches(['\r', '\n']);
        if msg == "exit" {
            break;
        }
        // s.send(msg.encode())
        #[allow(clippy::unused_io_amount)] // the fault of Python's send(), kept on purpose
        s.write(msg.as_bytes()).unwrap();
        // data = s.recv(1024): whatever has arrived so far, up to 1024 bytes.
        let mut data = [0u8; 1024];
        let n = s.read(&mut data).unwrap();
        // print(data.decode())
        println!("{}", String::from_utf8_lossy(&data[..n]));
    }
    // s.close(): when `s` goes out of scope.
}
