//! Step 3 of the ladder: the client reads whole replies and half-closes (the server is still
//! `step2_server`).
//!
//! Run: `cargo run --example step3_client -- [PORT]`, type lines, `exit` or Ctrl-D leaves.
//! The changes from step 1: a line goes out with its newline and `write_all` (Python's
//! `sendall`), so an empty line is sent too; the reply is read until every byte sent has come
//! back (`read_exact`), however many pieces it arrives in
//! (`tests/suite/ladder.rs::step3_client_prints_the_whole_reply`); at end of input the client
//! half-closes (`shutdown(Write)`: "no more from me") and reads until the server closes.
//! Still to fix: with no timeout, a server that stops answering leaves it waiting forever
//! (`tests/suite/ladder.rs::step3_client_waits_forever_on_a_silent_server`).

use std::io::{BufRead, Read, Write};
use std::net::{Shutdown, TcpStream};

fn main() {
    let port = std::env::args().nth(1).unwrap_or("8888".into());
    // s = socket(); s.connect((HOST, PORT))
    let mut s = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    let mut keyboard = std::io::stdin().lock();
    loop {
        print!("> ");
        std::io::stdout().flush().unwrap();
        let mut line = String::new();
        if keyboard.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.trim() == "exit" {
            break;
        }
        // s.sendall(line): every byte, newline included.
        s.write_all(line.as_bytes()).unwrap();
        // recv() until as many bytes as were sent have come back.
        let mut reply = vec![0u8; line.len()];
        s.read_exact(&mut reply).unwrap();
        print!("{}", String::from_utf8_lossy(&reply));
    }
    // s.shutdown(socket.SHUT_WR): the server sees end of stream, echoes what is left, closes.
    s.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    print!("{}", String::from_utf8_lossy(&rest));
}
