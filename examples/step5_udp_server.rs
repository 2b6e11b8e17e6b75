//! Step 5 of the ladder, the server: the same echo over UDP. No connection, so no `listen()` and
//! no `accept()`: one socket receives every client's datagrams and answers each to its sender.
//!
//! Run: `cargo run --example step5_udp_server -- [PORT]` (default 8888; 0 lets the system choose).
//! What changes against step 4: a datagram keeps its boundaries (one `send_to` arrives as one
//! `recv_from`, never in pieces nor glued to the next: the opposite of TCP's trap), and there is
//! no per-client thread to start, since there are no connections to keep. What UDP does not give:
//! delivery. A datagram may be lost on the way, and nobody tells the sender.

use std::net::UdpSocket;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = std::env::args().nth(1).unwrap_or("8888".into());
    // s = socket(AF_INET, SOCK_DGRAM); s.bind(...): std does both in one call.
    let socket = UdpSocket::bind(format!("127.0.0.1:{port}"))?;
    println!("listening on udp {}", socket.local_addr()?);
    // Large enough for the largest datagram UDP carries, so that none is cut short.
    let mut data = [0u8; 65536];
    loop {
        // data, addr = s.recvfrom(65536): one whole datagram, and who sent it.
        match socket.recv_from(&mut data) {
            Ok((n, addr)) => {
                println!("{n} bytes from {addr}");
                // s.sendto(data, addr): the answer goes to whoever the datagram says sent it.
                if let Err(err) = socket.send_to(&data[..n], addr) {
                    eprintln!("{addr}: {err}");
                }
            }
            // One datagram's error (Windows reports an earlier one that could not be delivered
            // this way) must not end the server.
            Err(err) => eprintln!("recv_from failed: {err}"),
        }
    }
}
