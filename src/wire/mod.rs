//! The wire format: everything soc puts in a measuring payload, written and read back in this one
//! place, so that every mode (`ping`, `ping -u`, `bench` in all its modes, `monitor`) agrees on
//! what an echo says. `docs/wire.md` describes the bytes for other tools.
//!
//! A message is the flow's pattern ([`Pattern`], seeded with the flow's number: a connection, a
//! socket, a monitored target) with a stamp written over its first bytes, all integers
//! big-endian (network byte order):
//!
//! | bytes | what | layouts |
//! |---|---|---|
//! | 0..8 | the message's sequence number in its flow | all (a stream message shorter than 8 bytes carries as much of it as fits) |
//! | 8..16 | when it was sent, in nanoseconds since its flow began | [`Layout::Timed`] |
//! | the rest | the flow's pattern, from the same offset | all |
//!
//! An echo is intact when every byte is what was sent: the stamp names the message, the pattern
//! tells the flow and catches any altered byte.

mod pattern;

pub use pattern::Pattern;

/// Bytes of the sequence number.
const SEQ_BYTES: usize = 8;

/// Bytes of the sequence number and the send time.
const TIMED_BYTES: usize = 16;

/// The largest UDP payload over IPv4 (65 535 − 8 bytes of UDP header − 20 of IPv4 header).
pub(crate) const MAX_DATAGRAM: usize = 65_507;

/// The largest message `ping` and `bench` send over TCP: 16 MiB, so that a flow's buffers stay
/// bounded.
pub(crate) const MAX_STREAM_MESSAGE: usize = 16 << 20;

/// What a message carries before its pattern, by how it travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// On a byte stream (TCP `ping` and `bench`): the sequence number, as much of it as fits. A
    /// stream keeps order, so even a 1-byte message is checked against the right one.
    Stream,
    /// A datagram of an open-loop run (`bench -u --rate`): the whole sequence number, since
    /// datagrams come back in any order, or twice.
    Numbered,
    /// A probe datagram (`ping -u`, `monitor`'s UDP targets): the sequence number and the send
    /// time, so that an echo can be placed and timed even after its record is forgotten.
    Timed,
}

impl Layout {
    /// The fewest bytes a message of this layout may have.
    pub(crate) fn min_size(self) -> usize {
        match self {
            Layout::Stream => 1,
            Layout::Numbered => SEQ_BYTES,
            Layout::Timed => TIMED_BYTES,
        }
    }

    /// The most bytes a message of this layout may have.
    pub(crate) fn max_size(self) -> usize {
        match self {
            Layout::Stream => MAX_STREAM_MESSAGE,
            Layout::Numbered | Layout::Timed => MAX_DATAGRAM,
        }
    }

    /// Whether `size` bytes make a message of this layout; the error says why not, in a phrase
    /// that follows the size ("-s 4: …").
    pub(crate) fn check_size(self, size: usize) -> Result<(), String> {
        let why = match self {
            Layout::Stream => "a message",
            Layout::Numbered => "a datagram here (its sequence number)",
            Layout::Timed => "a UDP probe (its sequence number and send time)",
        };
        if size < self.min_size() {
            return Err(format!("{why} needs at least {} bytes", self.min_size()));
        }
        if size > self.max_size() {
            let what = match self {
                Layout::Stream => "a message",
                Layout::Numbered | Layout::Timed => "a UDP datagram (over IPv4)",
            };
            return Err(format!("{what} holds at most {} bytes", self.max_size()));
        }
        Ok(())
    }

    /// The stamp an echo of this layout carries, if it is long enough to carry one.
    pub(crate) fn read(self, echo: &[u8]) -> Option<Stamp> {
        let field = |range: std::ops::Range<usize>| {
            echo.get(range)
                .map(|bytes| u64::from_be_bytes(bytes.try_into().expect("an 8-byte range")))
        };
        let seq = field(0..SEQ_BYTES)?;
        let sent = match self {
            Layout::Timed => Some(field(SEQ_BYTES..TIMED_BYTES)?),
            Layout::Stream | Layout::Numbered => None,
        };
        Some(Stamp { seq, sent })
    }

    fn stamp_len(self) -> usize {
        match self {
            Layout::Stream | Layout::Numbered => SEQ_BYTES,
            Layout::Timed => TIMED_BYTES,
        }
    }
}

/// What a message's first bytes say: which message it is and, for a probe, when it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) seq: u64,
    /// Nanoseconds from the flow's start to the send ([`Layout::Timed`] only).
    pub(crate) sent: Option<u64>,
}

/// One flow's messages: its pattern, and the stamp that makes each message its own.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    layout: Layout,
    /// The last message made: the pattern with the last stamp over its first bytes.
    bytes: Vec<u8>,
    /// The pattern under the stamp, to tell an altered stamp from the pattern.
    pattern: Vec<u8>,
}

impl Message {
    /// Messages of `size` bytes for flow `flow` (its number picks its pattern, so that an echo
    /// sent to the wrong flow never passes). The size must pass [`Layout::check_size`].
    pub(crate) fn new(layout: Layout, flow: u64, size: usize) -> Message {
        debug_assert!(
            layout.check_size(size).is_ok(),
            "{size} bytes for {layout:?}"
        );
        let pattern = Pattern::new(flow).take(size);
        Message {
            layout,
            bytes: pattern.clone(),
            pattern,
        }
    }

    /// Bytes in each message.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Message `seq`, sent `sent` nanoseconds into its flow (ignored but by [`Layout::Timed`]).
    pub(crate) fn stamped(&mut self, seq: u64, sent: u64) -> &[u8] {
        Self::stamp(self.layout, &mut self.bytes, seq, sent);
        &self.bytes
    }

    /// Writes message `seq` (sent `sent` nanoseconds into its flow) into `out`, as long as it.
    pub(crate) fn write(&self, out: &mut [u8], seq: u64, sent: u64) {
        out.copy_from_slice(&self.pattern);
        Self::stamp(self.layout, out, seq, sent);
    }

    fn stamp(layout: Layout, bytes: &mut [u8], seq: u64, sent: u64) {
        let seq = seq.to_be_bytes();
        let len = seq.len().min(bytes.len());
        bytes[..len].copy_from_slice(&seq[..len]);
        if layout == Layout::Timed {
            bytes[SEQ_BYTES..TIMED_BYTES].copy_from_slice(&sent.to_be_bytes());
        }
    }

    /// How many bytes of `echo` differ from this flow's pattern after the stamp, a length that
    /// differs counting each byte missing or extra: 0 for an echo of one of this flow's messages,
    /// whatever its stamp says.
    pub(crate) fn altered(&self, echo: &[u8]) -> usize {
        let from = self
            .layout
            .stamp_len()
            .min(echo.len())
            .min(self.pattern.len());
        differing(&echo[from..], &self.pattern[from..]) + echo.len().abs_diff(self.pattern.len())
    }
}

/// How many bytes of `got` differ from `sent`, compared as far as both go: the one byte
/// comparison of every mode.
pub(crate) fn differing(got: &[u8], sent: &[u8]) -> usize {
    // A plain comparison first (memcmp, vectorised); the byte-by-byte count only on a miss.
    if got == sent {
        return 0;
    }
    got.iter().zip(sent).filter(|(g, s)| g != s).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_is_big_endian_and_read_back_as_written() {
        let mut message = Message::new(Layout::Timed, 7, 20);
        let bytes = message.stamped(258, 1_000_000_007).to_vec();
        assert_eq!(bytes[..8], 258u64.to_be_bytes());
        assert_eq!(bytes[8..16], 1_000_000_007u64.to_be_bytes());
        assert_eq!(bytes[16..], Pattern::new(7).take(20)[16..]);
        assert_eq!(
            Layout::Timed.read(&bytes),
            Some(Stamp {
                seq: 258,
                sent: Some(1_000_000_007)
            })
        );
        assert_eq!(message.altered(&bytes), 0);
        let mut written = vec![0; 20];
        message.write(&mut written, 258, 1_000_000_007);
        assert_eq!(written, bytes);
    }

    #[test]
    fn a_short_stream_message_carries_what_fits_of_its_number() {
        let mut message = Message::new(Layout::Stream, 0, 3);
        assert_eq!(message.stamped(u64::MAX, 0), [0xFF; 3]);
        assert_eq!(Layout::Stream.read(&[0xFF; 3]), None);
        assert_eq!(
            Layout::Numbered
                .read(&[0, 0, 0, 0, 0, 0, 1, 2, 9])
                .unwrap()
                .seq,
            258
        );
    }

    #[test]
    fn an_altered_byte_a_wrong_flow_and_a_wrong_length_are_told() {
        let mut message = Message::new(Layout::Numbered, 1, 64);
        let mut echo = message.stamped(5, 0).to_vec();
        assert_eq!(message.altered(&echo), 0);
        echo[40] ^= 1;
        assert_eq!(message.altered(&echo), 1);
        let other = Message::new(Layout::Numbered, 2, 64).stamped(5, 0).to_vec();
        assert!(message.altered(&other) > 0, "another flow's message");
        let mut short = message.stamped(5, 0).to_vec();
        short.truncate(60);
        assert_eq!(message.altered(&short), 4);
        assert_eq!(message.altered(&[1, 2, 3]), 64 - 3);
    }

    #[test]
    fn sizes_are_checked_against_the_layout_with_the_reason() {
        assert!(Layout::Stream.check_size(1).is_ok());
        assert_eq!(
            Layout::Timed.check_size(15).unwrap_err(),
            "a UDP probe (its sequence number and send time) needs at least 16 bytes"
        );
        assert!(Layout::Numbered.check_size(8).is_ok());
        assert_eq!(
            Layout::Numbered.check_size(65_508).unwrap_err(),
            "a UDP datagram (over IPv4) holds at most 65507 bytes"
        );
        assert!(Layout::Stream.check_size(16 << 20).is_ok());
        assert!(Layout::Stream.check_size((16 << 20) + 1).is_err());
    }

    #[test]
    fn differing_bytes_are_counted() {
        assert_eq!(differing(b"hello", b"hello"), 0);
        assert_eq!(differing(b"hallo", b"hello"), 1);
        assert_eq!(differing(b"HELLO", b"hello"), 5);
    }
}
