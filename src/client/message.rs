//! `soc_client -m TEXT`: one line out, one line back, compared. A health check for scripts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::Context;

use crate::dump::{trace_chunk, Direction};
use crate::limits::Limit;
use crate::net::{connect_with_timeouts, read_full, send_all, Answered, Target};

/// How much of an answer that is not the echo the error shows.
const SHOWN: usize = 80;

/// How long, after an answer that is not the echo, the rest of it is waited for, to show it.
const REST_OF_ANSWER: Duration = Duration::from_millis(200);

/// What a one-line check sends and how long it waits.
#[derive(Debug, Clone)]
pub struct MessageOptions {
    /// The line to send, without its newline.
    pub text: String,
    /// How long the echo may make no progress.
    pub timeout: Limit,
}

/// Connects, sends `options.text` as one line, and writes the echo to `output` if it came back
/// unchanged; a server that answers something else is said not to be an echo, with what it
/// answered.
pub fn message(
    target: &Target,
    options: &MessageOptions,
    output: &mut impl Write,
) -> anyhow::Result<()> {
    let (stream, peer) = connect_with_timeouts(target, options.timeout)?;
    let mut line = options.text.as_bytes().to_vec();
    line.push(b'\n');
    send_all(&stream, peer, &line, options.timeout, Answered::Never)?;
    let mut echo = vec![0; line.len()];
    let received = match read_full(&stream, &mut echo) {
        Ok(()) => echo.len(),
        Err(short) if echo[..short.received] != line[..short.received] => short.received,
        Err(short) => {
            return Err(short.describe(peer, line.len(), options.timeout, Answered::Never))
        }
    };
    trace_chunk(peer, Direction::Received, &echo[..received]);
    if echo[..received] != line[..received] {
        echo.truncate(received);
        return Err(not_an_echo(peer, answer(&stream, echo)));
    }
    output
        .write_all(&echo)
        .and_then(|()| output.flush())
        .context("could not write the echo to standard output")?;
    Ok(())
}

/// `start` of an answer, and what more of it comes at once, up to what an error shows.
fn answer(stream: &TcpStream, mut start: Vec<u8>) -> Vec<u8> {
    let mut more = [0u8; SHOWN + 1];
    if stream.set_read_timeout(Some(REST_OF_ANSWER)).is_ok() && start.len() <= SHOWN {
        if let Ok(n) = (&*stream).read(&mut more[..SHOWN + 1 - start.len()]) {
            start.extend_from_slice(&more[..n]);
        }
    }
    start
}

/// The error for a server that answered the message with something else: what it answered,
/// escaped (`HTTP/1.0 400 Bad Request\r\n`) and cut at [`SHOWN`] bytes, so that a user who
/// reached the wrong service sees which.
pub(super) fn not_an_echo(peer: SocketAddr, answer: Vec<u8>) -> anyhow::Error {
    let cut = answer.len() > SHOWN;
    let shown = &answer[..answer.len().min(SHOWN)];
    anyhow::anyhow!(
        "{peer} is not an echo service: it answered \"{}\"{} to the message sent",
        shown.escape_ascii(),
        if cut { " (and more)" } else { "" }
    )
}
