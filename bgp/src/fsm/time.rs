//! Time as the FSM sees it: a point handed in by the driver, never read from a clock.

use std::time::Duration;

/// A point in time, in milliseconds since an origin the driver chooses
/// (typically the moment it created its first session).
///
/// The FSM never reads a clock: every call carries `now`, which keeps the
/// machine deterministic and lets tests move time by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    /// The point `elapsed` after the origin.
    pub fn from_duration(elapsed: Duration) -> Self {
        Self(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
    }

    /// The point `d` later, saturating rather than wrapping far in the future.
    pub fn after(self, d: Duration) -> Self {
        Self(self.0.saturating_add(Self::from_duration(d).0))
    }

    /// How long after `earlier` this point lies (zero if it is not later).
    pub fn since(self, earlier: Millis) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}ms", self.0)
    }
}
