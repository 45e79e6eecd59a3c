//! Time as the state machine sees it: handed in, never read from a clock.

use std::time::Duration;

/// A point in time in microseconds since an origin the shell chooses.
/// Microseconds because BFD's intervals are carried in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Micros(pub u64);

impl Micros {
    /// The point `elapsed` after the origin.
    pub fn from_duration(elapsed: Duration) -> Micros {
        Micros(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX))
    }

    /// The point `us` microseconds later, saturating.
    pub fn plus(self, us: u64) -> Micros {
        Micros(self.0.saturating_add(us))
    }

    /// As a duration since the origin.
    pub fn as_duration(self) -> Duration {
        Duration::from_micros(self.0)
    }
}

impl std::fmt::Display for Micros {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}us", self.0)
    }
}
