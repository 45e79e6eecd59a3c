//! Capped exponential backoff with seeded jitter for reconnection attempts.

use std::time::Duration;

use super::config::BackoffConfig;

/// Counts consecutive failed attempts (RFC 4271's ConnectRetryCounter) and
/// turns the count into a delay. Jitter comes from a generator seeded by the
/// driver, so the FSM stays deterministic and tests can replay it.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    config: BackoffConfig,
    failures: u32,
    rng: SplitMix64,
}

impl Backoff {
    pub(crate) fn new(config: BackoffConfig, seed: u64) -> Self {
        Self {
            config,
            failures: 0,
            rng: SplitMix64(seed),
        }
    }

    pub(crate) fn set_config(&mut self, config: BackoffConfig) {
        self.config = config;
    }

    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    pub(crate) fn record_failure(&mut self) {
        self.failures = self.failures.saturating_add(1);
    }

    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// A session that was up for `uptime` was refused by the peer: if it
    /// was up long enough to count as healthy, the failures before it are
    /// forgotten; if not, the refusal counts as one more failure.
    pub(crate) fn session_ended(&mut self, uptime: Duration) {
        if uptime >= self.config.forget_after {
            self.reset();
        }
    }

    /// The delay before the next attempt: `base * 2^(failures-1)`, capped,
    /// then scaled by a jitter factor. Never zero, so a timer always moves
    /// time forward.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let doublings = self.failures.saturating_sub(1).min(31);
        let unjittered = self
            .config
            .base
            .saturating_mul(1u32 << doublings)
            .min(self.config.cap);
        let floor = u64::from(self.config.min_jitter_percent.min(100));
        let percent = floor + self.rng.next() % (101 - floor);
        let millis = u64::try_from(unjittered.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis((millis / 100).saturating_mul(percent).max(1))
    }
}

/// SplitMix64: tiny, fast and good enough to spread reconnection times.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_within_jitter() {
        let mut b = Backoff::new(BackoffConfig::default(), 7);
        for failures in 0..12u32 {
            let expected = 1000u64 << failures.saturating_sub(1).min(31);
            let expected = expected.min(60_000);
            let d = u64::try_from(b.next_delay().as_millis()).unwrap_or(0);
            assert!(d >= expected * 75 / 100 && d <= expected, "{failures}: {d}");
            b.record_failure();
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }
}
