//! `soc_client -m TEXT`: one line out, one line back, compared. A health check for scripts.

use std::io::Write;

use anyhow::{bail, Context};

use crate::limits::Limit;
use crate::net::{connect_with_timeouts, round_trip, Target};

/// What a one-line check sends and how long it waits.
#[derive(Debug, Clone)]
pub struct MessageOptions {
    /// The line to send, without its newline.
    pub text: String,
    /// How long the echo may make no progress.
    pub timeout: Limit,
}

/// Connects, sends `options.text` as one line, writes the echo to `output` and succeeds only if
/// it came back unchanged.
pub fn message(
    target: &Target,
    options: &MessageOptions,
    output: &mut impl Write,
) -> anyhow::Result<()> {
    let (stream, peer) = connect_with_timeouts(target, options.timeout)?;
    let mut line = options.text.as_bytes().to_vec();
    line.push(b'\n');
    let mut echo = vec![0; line.len()];
    round_trip(&stream, peer, &line, &mut echo, options.timeout)?;
    output
        .write_all(&echo)
        .and_then(|()| output.flush())
        .context("could not write the echo to standard output")?;
    if echo != line {
        bail!("the echo from {peer} differs from the message sent");
    }
    Ok(())
}
