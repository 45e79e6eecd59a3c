//! The transmit jitter of RFC 5880 §6.8.7, from a seed the shell chooses.

/// A small deterministic generator (xorshift64*): the shell seeds it from
/// something that differs between sessions and speakers, so that periodic
/// packets do not self-synchronize, and tests seed it by hand.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    /// A generator seeded with `seed` (zero is replaced: xorshift sticks at it).
    pub fn new(seed: u64) -> Jitter {
        Jitter(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `interval_us` reduced by a random 0–25 % (§6.8.7), or by 10–25 %
    /// when the local Detect Mult is 1, so that one late packet cannot
    /// expire the peer's detection time.
    pub fn apply(&mut self, interval_us: u64, detect_mult: u8) -> u64 {
        // Percent of the interval kept: 75..=100, or 75..=90.
        let span = if detect_mult == 1 { 16 } else { 26 };
        let keep = 75 + self.next() % span;
        interval_us.saturating_mul(keep) / 100
    }
}
