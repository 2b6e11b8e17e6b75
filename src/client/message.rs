//! `soc_client -m TEXT`: one line out, one line back, compared. A health check for scripts.

use std::io::Write;
use std::net::TcpStream;

use anyhow::{bail, Context};

use super::round_trip;
use crate::limits::Limit;

/// Sends `text` as one line, writes the echo to `output` and succeeds only if it came back
/// unchanged.
pub fn message(
    stream: &TcpStream,
    text: &str,
    output: &mut impl Write,
    timeout: Limit,
) -> anyhow::Result<()> {
    let peer = stream
        .peer_addr()
        .context("could not read the server's address")?;
    let mut line = text.as_bytes().to_vec();
    line.push(b'\n');
    let mut echo = vec![0; line.len()];
    round_trip(stream, peer, &line, &mut echo, timeout)?;
    output
        .write_all(&echo)
        .and_then(|()| output.flush())
        .context("could not write the echo to standard output")?;
    if echo != line {
        bail!("the echo differs from the message sent");
    }
    Ok(())
}
