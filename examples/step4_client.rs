//! Step 4 of the ladder, the client: timeouts and errors. No `unwrap()` on the network.
//!
//! Run: `cargo run --example step4_client -- [PORT]`, type lines, `exit` or Ctrl-D leaves.
//! The changes from step 3: connecting gives up after `TIMEOUT` (`s.settimeout()` before
//! `connect()`), and so does waiting for a reply or for room to send, so a server that stops
//! answering ends the client with an error instead of a hang
//! (`tests/suite/ladder.rs::step4_client_gives_up_on_a_silent_server`); every error is one line with
//! its cause and the server's address, exit code 1, never a panic.

use std::io::{BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// The longest the client waits to connect, to send, or for each reply.
const TIMEOUT: Duration = Duration::from_secs(3);

fn main() -> ExitCode {
    let port = std::env::args().nth(1).unwrap_or("8888".into());
    match run(&format!("127.0.0.1:{port}")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("step4_client: error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(address: &str) -> Result<(), String> {
    let server: SocketAddr = address.parse().map_err(|err| format!("{address}: {err}"))?;
    let fail = |what: &str, err: std::io::Error| format!("{what} {server}: {err}");
    let mut s = TcpStream::connect_timeout(&server, TIMEOUT)
        .map_err(|err| fail("could not connect to", err))?;
    s.set_read_timeout(Some(TIMEOUT))
        .map_err(|err| fail("timeout on", err))?;
    s.set_write_timeout(Some(TIMEOUT))
        .map_err(|err| fail("timeout on", err))?;
    let mut keyboard = std::io::stdin().lock();
    loop {
        print!("> ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        match keyboard.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) if line.trim() == "exit" => break,
            Ok(_) => {}
            Err(err) => return Err(format!("could not read the keyboard: {err}")),
        }
        s.write_all(line.as_bytes())
            .map_err(|err| fail("could not send to", err))?;
        let mut reply = vec![0u8; line.len()];
        s.read_exact(&mut reply).map_err(|err| match err.kind() {
            // read_exact's own words would be "failed to fill whole buffer".
            std::io::ErrorKind::UnexpectedEof => format!("{server} closed the connection"),
            _ => fail("no whole reply from", err),
        })?;
        print!("{}", String::from_utf8_lossy(&reply));
    }
    s.shutdown(Shutdown::Write)
        .map_err(|err| fail("could not half-close", err))?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)
        .map_err(|err| fail("no end of stream from", err))?;
    print!("{}", String::from_utf8_lossy(&rest));
    Ok(())
}
