//! Step 5 of the ladder, the client: each line one datagram, over UDP.
//!
//! Run: `cargo run --example step5_udp_client -- [PORT]`, type lines, `exit` or Ctrl-D leaves.
//! What changes against step 4: no `connect()` is needed (each datagram names where it goes),
//! and the reply is one datagram, whole: no loop gathering its pieces. But a datagram can be lost,
//! so a reply that does not come within `TIMEOUT` means "send it again", up to `TRIES` times
//! (`tests/suite/ladder.rs::step5_client_sends_again_when_a_datagram_is_lost`).

use std::io::BufRead;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

/// How long the client waits for each reply before it sends the line again.
const TIMEOUT: Duration = Duration::from_secs(1);

/// Datagrams sent at most for one line.
const TRIES: u32 = 3;

fn main() -> ExitCode {
    let port = std::env::args().nth(1).unwrap_or("8888".into());
    match run(&format!("127.0.0.1:{port}")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("step5_udp_client: error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(address: &str) -> Result<(), String> {
    let server: SocketAddr = address.parse().map_err(|err| format!("{address}: {err}"))?;
    // s = socket(AF_INET, SOCK_DGRAM); port 0: the system picks one for the replies to come to.
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|err| format!("socket: {err}"))?;
    socket
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|err| format!("timeout: {err}"))?;
    let mut keyboard = std::io::stdin().lock();
    let mut reply = [0u8; 65536];
    loop {
        let mut line = String::new();
        match keyboard.read_line(&mut line) {
            Ok(0) => return Ok(()),
            Ok(_) if line.trim() == "exit" => return Ok(()),
            Ok(_) => {}
            Err(err) => return Err(format!("could not read the keyboard: {err}")),
        }
        let mut answered = false;
        for attempt in 1..=TRIES {
            // s.sendto(line, server)
            socket
                .send_to(line.as_bytes(), server)
                .map_err(|err| format!("could not send to {server}: {err}"))?;
            // data, addr = s.recvfrom(65536): the whole reply in one call, or a timeout.
            match socket.recv_from(&mut reply) {
                Ok((n, from)) if from == server => {
                    print!("{}", String::from_utf8_lossy(&reply[..n]));
                    answered = true;
                    break;
                }
                Ok((_, from)) => eprintln!("ignored a datagram from {from}"),
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    eprintln!("no reply within {TIMEOUT:?}, sending again ({attempt} of {TRIES})")
                }
                Err(err) => return Err(format!("no reply from {server}: {err}")),
            }
        }
        if !answered {
            return Err(format!("no reply from {server} to {TRIES} datagrams"));
        }
    }
}
