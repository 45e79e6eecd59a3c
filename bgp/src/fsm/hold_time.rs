//! The BGP hold time (RFC 4271 §4.2): zero, or at least three seconds.

use std::time::Duration;

/// A hold time that RFC 4271 §4.2 allows: 0 (no keepalives, no hold timer)
/// or 3..=65535 seconds. 1 and 2 cannot be represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HoldTime(u16);

/// A hold time of 1 or 2 seconds, which RFC 4271 §4.2 forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("hold time {0}s is not allowed: it must be 0 or at least 3 seconds")]
pub struct InvalidHoldTime(pub u16);

impl HoldTime {
    /// No hold timer and no keepalives.
    pub const DISABLED: HoldTime = HoldTime(0);
    /// The RFC 4271 §10 suggested value.
    pub const DEFAULT: HoldTime = HoldTime(90);
    /// The "large value" RFC 4271 §8.2.2 suggests while waiting for the peer's
    /// OPEN, before any hold time has been negotiated.
    pub const OPEN_SENT: HoldTime = HoldTime(240);

    /// Checks a hold time in seconds.
    pub fn new(seconds: u16) -> Result<Self, InvalidHoldTime> {
        match seconds {
            1 | 2 => Err(InvalidHoldTime(seconds)),
            s => Ok(HoldTime(s)),
        }
    }

    /// The hold time in seconds, as carried in an OPEN.
    pub fn seconds(self) -> u16 {
        self.0
    }

    /// Whether the hold timer (and with it keepalives) is off.
    pub fn is_disabled(self) -> bool {
        self.0 == 0
    }

    /// The hold time as a duration, `None` when disabled.
    pub fn duration(self) -> Option<Duration> {
        (!self.is_disabled()).then(|| Duration::from_secs(u64::from(self.0)))
    }

    /// RFC 4271 §4.2: the session uses the smaller of the two proposals.
    pub fn negotiate(self, peer: HoldTime) -> HoldTime {
        self.min(peer)
    }
}

impl Default for HoldTime {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl std::fmt::Display for HoldTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}s", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_and_two_seconds_are_rejected() {
        assert_eq!(HoldTime::new(1), Err(InvalidHoldTime(1)));
        assert_eq!(HoldTime::new(2), Err(InvalidHoldTime(2)));
        assert!(HoldTime::new(0).is_ok_and(HoldTime::is_disabled));
        assert_eq!(HoldTime::new(3).map(HoldTime::seconds), Ok(3));
    }

    #[test]
    fn negotiation_takes_the_smaller_and_zero_wins() {
        let h = |s| HoldTime::new(s).unwrap_or(HoldTime::DEFAULT);
        assert_eq!(h(90).negotiate(h(30)), h(30));
        assert_eq!(h(90).negotiate(h(0)), HoldTime::DISABLED);
        assert_eq!(HoldTime::DISABLED.duration(), None);
    }
}
