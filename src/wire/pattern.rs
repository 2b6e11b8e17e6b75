//! Reproducible pseudo-random bytes, for payloads that must be checked on the way back without
//! keeping a copy: the receiver regenerates the same stream from the same seed.

/// Length of the pseudo-random block the stream repeats: a prime, so that its repetitions never
/// line up with power-of-two chunk sizes.
const PERIOD: usize = 8191;

/// An endless stream of pseudo-random bytes, the same for the same seed however it is cut into
/// chunks. Not for cryptography: for payloads that exercise every byte value and can be checked
/// on the way back without keeping a copy.
///
/// Byte `i` is `block[i % PERIOD] ^ tweak(i / PERIOD)`: a random block, changed in every period
/// so that a lost or repeated period is still caught. Making the stream is a vectorised XOR, far
/// faster than loopback, so a load generator that checks every byte is not slowed by it.
#[derive(Debug, Clone)]
pub struct Pattern {
    block: Vec<u8>,
    seed: u64,
    position: u64,
}

impl Pattern {
    /// The stream for `seed` (any value).
    pub fn new(seed: u64) -> Self {
        let mut state = seed ^ 0x9E37_79B9_7F4A_7C15 | 1;
        let mut block = Vec::with_capacity(PERIOD + 8);
        while block.len() < PERIOD {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            block.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        block.truncate(PERIOD);
        Self {
            block,
            seed,
            position: 0,
        }
    }

    /// Fills `buf` with the next bytes of the stream.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            let period = self.position / PERIOD as u64;
            let offset = (self.position % PERIOD as u64) as usize;
            let len = (PERIOD - offset).min(buf.len() - done);
            let tweak = self.tweak(period);
            let source = &self.block[offset..offset + len];
            for (out, byte) in buf[done..done + len].iter_mut().zip(source) {
                *out = byte ^ tweak;
            }
            done += len;
            self.position += len as u64;
        }
    }

    /// The byte every value of `period` is XORed with (a splitmix64 of seed and period).
    fn tweak(&self, period: u64) -> u8 {
        let mut z = self
            .seed
            .wrapping_add(period.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as u8
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
    fn a_skipped_or_repeated_period_does_not_look_the_same() {
        let mut stream = Pattern::new(3);
        let first = stream.take(super::PERIOD);
        let second = stream.take(super::PERIOD);
        assert_ne!(first, second);
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
