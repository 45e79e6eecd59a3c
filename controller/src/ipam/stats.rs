//! Pool usage for status and metrics. Counts are `u128` because a single
//! IPv6 /64 already holds 2^64 addresses; metrics that need `u64` take
//! [`FamilyStats::saturating_u64`].

use super::allocator::Allocator;
use super::assignment::Assignment;
use super::pool::RangeRef;
use super::range::Family;

/// Usage of one family in one pool. Shared addresses count once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FamilyStats {
    /// Addresses the pool may hand out (without .0/.255 under
    /// `avoidBuggyIPs`), saturating at `u128::MAX`.
    pub capacity: u128,
    /// Addresses held by at least one Service.
    pub assigned: u128,
    /// `capacity - assigned`.
    pub available: u128,
}

impl FamilyStats {
    /// `(capacity, assigned, available)` clamped to `u64`, for metrics.
    pub fn saturating_u64(&self) -> (u64, u64, u64) {
        let clamp = |n: u128| u64::try_from(n).unwrap_or(u64::MAX);
        (
            clamp(self.capacity),
            clamp(self.assigned),
            clamp(self.available),
        )
    }
}

/// Usage of one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// The pool.
    pub pool: String,
    /// IPv4 usage.
    pub v4: FamilyStats,
    /// IPv6 usage.
    pub v6: FamilyStats,
}

impl Allocator {
    /// Usage of every pool, by name. O(number of ranges).
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        self.pools
            .pools()
            .iter()
            .enumerate()
            .map(|(p, pool)| {
                let mut v4 = FamilyStats::default();
                let mut v6 = FamilyStats::default();
                for (r, range) in pool.ranges.iter().enumerate() {
                    let s = match range.family() {
                        Family::V4 => &mut v4,
                        Family::V6 => &mut v6,
                    };
                    let slots = self.pools.slots(RangeRef { pool: p, range: r });
                    s.capacity = s.capacity.saturating_add(slots.capacity());
                    s.assigned = s.assigned.saturating_add(self.used[p][r].len());
                }
                for s in [&mut v4, &mut v6] {
                    s.available = s.capacity.saturating_sub(s.assigned);
                }
                PoolStats {
                    pool: pool.name.clone(),
                    v4,
                    v6,
                }
            })
            .collect()
    }

    /// Services holding addresses the configuration no longer backs. O(n).
    pub fn orphans(&self) -> Vec<Assignment> {
        self.assignments().filter(Assignment::is_orphaned).collect()
    }
}
