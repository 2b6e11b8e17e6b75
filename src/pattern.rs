//! Reproducible pseudo-random bytes, for payloads that must be checked on the way back without
//! keeping a copy: the receiver regenerates the same stream from the same seed.

/// An endless stream of pseudo-random bytes (xorshift64*), the same for the same seed however it
/// is cut into chunks. Not for cryptography: for test payloads that exercise every byte value.
#[derive(Debug, Clone)]
pub struct Pattern {
    state: u64,
    word: [u8; 8],
    used: usize,
}

impl Pattern {
    /// The stream for `seed` (any value; 0 is mapped to a non-zero state).
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed ^ 0x9E37_79B9_7F4A_7C15 | 1,
            word: [0; 8],
            used: 8,
        }
    }

    /// Fills `buf` with the next bytes of the stream.
    pub fn fill(&mut self, buf: &mut [u8]) {
        // Finish the current word byte by byte, then whole words: a few GB/s, so that a load
        // generator checking a stream is not slowed down by making its expectations.
        let mut rest = buf;
        while self.used < 8 && !rest.is_empty() {
            rest[0] = self.word[self.used];
            self.used += 1;
            rest = &mut rest[1..];
        }
        let mut words = rest.chunks_exact_mut(8);
        for word in &mut words {
            word.copy_from_slice(&self.next_word());
        }
        let tail = words.into_remainder();
        if !tail.is_empty() {
            self.word = self.next_word();
            let len = tail.len();
            tail.copy_from_slice(&self.word[..len]);
            self.used = len;
        }
    }

    fn next_word(&mut self) -> [u8; 8] {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes()
    }

    /// The next `len` bytes of the stream.
    pub fn take(&mut self, len: usize) -> Vec<u8> {
        let mut bytes = vec![0; len];
        self.fill(&mut bytes);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn same_seed_same_bytes_whatever_the_chunking() {
        let whole = Pattern::new(7).take(1000);
        let mut pieces = Pattern::new(7);
        let mut joined = Vec::new();
        for size in [1, 7, 8, 13, 300, 671] {
            joined.extend(pieces.take(size));
        }
        assert_eq!(whole, joined);
        assert_ne!(whole, Pattern::new(8).take(1000));
    }

    #[test]
    fn covers_every_byte_value() {
        let bytes = Pattern::new(1).take(1 << 16);
        let mut seen = [false; 256];
        for byte in bytes {
            seen[byte as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
