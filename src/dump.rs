//! The traffic view of `-vv`: each chunk read from or written to a peer, logged at trace level as
//! a hex and ASCII dump, like `socat -x` or `ncat -x`.
//!
//! Dumps go through `log`, so they land on standard error and never touch the echoed bytes.

use std::fmt::Write as _;
use std::net::SocketAddr;

/// Which way a chunk went, seen from the program that logs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Read from the peer.
    Received,
    /// Written to the peer.
    Sent,
}

impl Direction {
    fn arrow(self) -> &'static str {
        match self {
            Direction::Received => "<",
            Direction::Sent => ">",
        }
    }
}

/// Bytes shown per dump line.
const BYTES_PER_LINE: usize = 16;

/// Logs `bytes` as a hex dump at trace level, if trace is enabled; otherwise costs one check.
pub(crate) fn trace_chunk(peer: SocketAddr, direction: Direction, bytes: &[u8]) {
    if log::log_enabled!(log::Level::Trace) {
        log::trace!(
            "{} {peer} {} bytes\n{}",
            direction.arrow(),
            bytes.len(),
            hex_dump(bytes)
        );
    }
}

/// Formats `bytes` as lines of `offset  hex bytes  |ascii|`, printable ASCII shown as itself and
/// everything else as `.`.
fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(BYTES_PER_LINE) * 80);
    for (line, chunk) in bytes.chunks(BYTES_PER_LINE).enumerate() {
        if line > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{:08x} ", line * BYTES_PER_LINE);
        for column in 0..BYTES_PER_LINE {
            if column == BYTES_PER_LINE / 2 {
                out.push(' ');
            }
            match chunk.get(column) {
                Some(byte) => {
                    let _ = write!(out, " {byte:02x}");
                }
                None => out.push_str("   "),
            }
        }
        out.push_str("  |");
        out.extend(chunk.iter().map(|&byte| {
            if byte.is_ascii_graphic() || byte == b' ' {
                byte as char
            } else {
                '.'
            }
        }));
        out.push('|');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_shows_offset_hex_and_ascii() {
        let dump = hex_dump(b"Hello, world!\n\x00\xffABC");
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "00000000  48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 0a 00 ff  |Hello, world!...|"
        );
        assert!(lines[1].starts_with("00000010  41 42 43 "), "{}", lines[1]);
        assert!(lines[1].ends_with("|ABC|"), "{}", lines[1]);
    }

    #[test]
    fn empty_chunk_dumps_nothing() {
        assert_eq!(hex_dump(b""), "");
    }
}
