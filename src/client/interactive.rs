//! The terminal session: a prompt, a line typed, the line echoed, until `exit`, `quit` or Ctrl-D.

use std::io::{BufRead, Write};
use std::net::TcpStream;

use anyhow::Context;

use super::round_trip;
use crate::cli::Limit;

/// Lines that end the session instead of being sent (on their own, surrounding blanks ignored).
pub const QUIT_WORDS: [&str; 2] = ["exit", "quit"];

/// Runs a line-at-a-time session: reads lines from `input`, sends each (newline included) and
/// writes its echo to `output`; the banner and prompts go to `messages`.
///
/// Each reply is read until as many bytes as were sent have come back, so a line split across
/// several TCP segments is still printed whole. An empty line is sent as its newline, so it is
/// echoed too rather than waiting for a reply that never comes. Ends with `Ok` on `exit`, `quit`
/// or end of input, with an error if the server goes away or stops answering for `timeout`.
pub fn interactive(
    stream: &TcpStream,
    input: &mut impl BufRead,
    output: &mut impl Write,
    messages: &mut impl Write,
    timeout: Limit,
) -> anyhow::Result<()> {
    let peer = stream
        .peer_addr()
        .context("could not read the server's address")?;
    // The banner and prompt are courtesy output: failing to write them must not end a session.
    let _ = writeln!(
        messages,
        "connected to {peer}; type a line to send it, `exit`, `quit` or Ctrl-D to leave"
    );
    let mut line = Vec::new();
    let mut echo = Vec::new();
    loop {
        let _ = write!(messages, "> ");
        let _ = messages.flush();
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .context("could not read standard input")?;
        if read == 0 {
            // Ctrl-D: end the prompt line so that the shell's prompt starts on a fresh line.
            let _ = writeln!(messages);
            return Ok(());
        }
        if is_quit(&line) {
            return Ok(());
        }
        echo.resize(line.len(), 0);
        round_trip(stream, &line, &mut echo, timeout)
            .with_context(|| format!("connection to {peer} lost"))?;
        output
            .write_all(&echo)
            .and_then(|()| output.flush())
            .context("could not write to standard output")?;
    }
}

fn is_quit(line: &[u8]) -> bool {
    let trimmed = line.trim_ascii();
    QUIT_WORDS.iter().any(|word| trimmed == word.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::is_quit;

    #[test]
    fn quit_words_only_on_their_own() {
        assert!(is_quit(b"exit\n"));
        assert!(is_quit(b"  quit \r\n"));
        assert!(is_quit(b"quit"));
        assert!(!is_quit(b"exit now\n"));
        assert!(!is_quit(b"EXIT\n"));
        assert!(!is_quit(b"\n"));
    }
}
