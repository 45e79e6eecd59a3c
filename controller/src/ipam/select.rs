//! Choosing addresses for a Service that needs new ones, in MetalLB's order:
//! requested addresses, else the requested pool, else the pools
//! `serviceAllocation` pins to the Service (by priority), else the auto-assign
//! pools without `serviceAllocation` (by name). Within a pool, ranges are tried
//! in their configured order, and within a range the lowest address that is
//! free, or shareable under the Service's sharing key, wins.

use std::net::IpAddr;

use super::allocator::Allocator;
use super::error::AllocationError;
use super::pool::Membership;
use super::range::{Family, to_u128};
use super::request::{DualPolicy, IpFamilies, ServiceKey, ServiceRequest};
use super::sharing::SharingProfile;

impl Allocator {
    /// New addresses for `req` (which holds none right now), IPv4 first.
    pub(crate) fn allocate_fresh(
        &self,
        req: &ServiceRequest,
        profile: &SharingProfile,
    ) -> Result<Vec<IpAddr>, AllocationError> {
        if !req.requested.is_empty() {
            return self.check_requested(req, profile);
        }
        if self.pools.is_empty() {
            return Err(AllocationError::NoPools);
        }
        if let Some(name) = &req.pool {
            let p = self
                .pools
                .position(name)
                .ok_or_else(|| AllocationError::UnknownPool { pool: name.clone() })?;
            self.pools.get(p).allows(req)?;
            return self.choose(&[p], req, profile);
        }
        let pinned = self.pools.pinned_for(req);
        let fallback = self.pools.fallback();
        if pinned.is_empty() && fallback.is_empty() {
            let excluded: Vec<_> = self
                .pools
                .pools()
                .iter()
                .filter(|p| p.auto_assign)
                .filter_map(|p| p.allows(req).err())
                .collect();
            if excluded.is_empty() {
                return Err(AllocationError::NoAutoAssignPool);
            }
            return Err(AllocationError::NoEligiblePool {
                namespace: req.key.namespace().to_string(),
                excluded,
            });
        }
        // MetalLB tries the pinned pools as one group, then the rest.
        self.choose(&pinned, req, profile)
            .or_else(|_| self.choose(&fallback, req, profile))
            .map_err(|_| self.exhausted([pinned, fallback].concat(), req.families))
    }

    /// Honours requested addresses exactly, or says why not.
    fn check_requested(
        &self,
        req: &ServiceRequest,
        profile: &SharingProfile,
    ) -> Result<Vec<IpAddr>, AllocationError> {
        let mut addrs = req.requested.clone();
        addrs.sort_by_key(Family::of);
        let exact = match (req.families, addrs.as_slice()) {
            (IpFamilies::Single(f), [a]) => Family::of(a) == f,
            (IpFamilies::Dual { .. }, [a, b]) => Family::of(a) != Family::of(b),
            _ => false,
        };
        if !exact {
            return Err(AllocationError::RequestedFamilyMismatch {
                requested: req.requested.clone(),
                families: req.families,
            });
        }
        let mut found: Vec<(usize, IpAddr)> = Vec::with_capacity(2);
        for a in &addrs {
            match self.pools.membership(a) {
                Membership::Outside => return Err(AllocationError::NotInAnyPool { addr: *a }),
                Membership::Avoided(p) => {
                    return Err(AllocationError::AvoidedAddress {
                        addr: *a,
                        pool: self.pools.get(p).name.clone(),
                    });
                }
                Membership::Usable(at) => found.push((at.pool, *a)),
            }
        }
        let p = match found.as_slice() {
            [(p, _)] => *p,
            [(p, _), (q, _)] if p == q => *p,
            [(p, first), (q, second), ..] => {
                return Err(AllocationError::RequestedAcrossPools {
                    first: *first,
                    first_pool: self.pools.get(*p).name.clone(),
                    second: *second,
                    second_pool: self.pools.get(*q).name.clone(),
                });
            }
            [] => return Err(AllocationError::NoPools),
        };
        let pool = self.pools.get(p);
        pool.allows(req)?;
        if let Some(wanted) = &req.pool
            && *wanted != pool.name
        {
            return Err(AllocationError::RequestedPoolMismatch {
                addrs,
                actual: pool.name.clone(),
                requested: wanted.clone(),
            });
        }
        for a in &addrs {
            if let Some(u) = self.addresses.get(a) {
                u.check(*a, &req.key, profile)?;
            }
        }
        Ok(addrs)
    }

    /// MetalLB's pool choice over `pools`, in order: the first pool that
    /// satisfies the Service fully wins; a `PreferDualStack` Service that no
    /// pool satisfies fully settles for the first pool offering its primary
    /// family, else the first offering the other.
    fn choose(
        &self,
        pools: &[usize],
        req: &ServiceRequest,
        profile: &SharingProfile,
    ) -> Result<Vec<IpAddr>, AllocationError> {
        let mut primary_only = None;
        let mut secondary_only = None;
        for &p in pools {
            let v4 = self.first_candidate(p, Family::V4, &req.key, profile);
            let v6 = self.first_candidate(p, Family::V6, &req.key, profile);
            let of = |f: Family| if f == Family::V4 { v4 } else { v6 };
            match req.families {
                IpFamilies::Single(f) => {
                    if let Some(a) = of(f) {
                        return Ok(vec![a]);
                    }
                }
                IpFamilies::Dual { primary, policy } => {
                    if let (Some(a), Some(b)) = (v4, v6) {
                        return Ok(vec![a, b]);
                    }
                    if policy == DualPolicy::Prefer {
                        primary_only = primary_only.or(of(primary));
                        secondary_only = secondary_only.or(of(primary.other()));
                    }
                }
            }
        }
        primary_only
            .or(secondary_only)
            .map(|a| vec![a])
            .ok_or_else(|| self.exhausted(pools.to_vec(), req.families))
    }

    /// The lowest address of `family` in pool `p` that `me` may take: free, or
    /// held under its sharing key with no conflict. Ranges are tried in order.
    /// O(log n) per range, plus the addresses held under the Service's own
    /// sharing key within the range.
    pub(crate) fn first_candidate(
        &self,
        p: usize,
        family: Family,
        me: &ServiceKey,
        profile: &SharingProfile,
    ) -> Option<IpAddr> {
        let pool = self.pools.get(p);
        let shared = profile.key.as_ref().and_then(|k| self.by_key.get(k));
        for (r, range) in pool.ranges.iter().enumerate() {
            if range.family() != family {
                continue;
            }
            let slots = self
                .pools
                .slots(super::pool::RangeRef { pool: p, range: r });
            let Some(last) = slots.last() else {
                continue;
            };
            let free = self.used[p][r]
                .first_absent_from(0)
                .filter(|&s| s <= last)
                .map(|s| slots.addr_of(s));
            let shareable = shared.and_then(|set| {
                set.range(range.start()..=range.end()).copied().find(|a| {
                    slots.slot_of(a).is_some()
                        && self
                            .addresses
                            .get(a)
                            .is_some_and(|u| u.check(*a, me, profile).is_ok())
                })
            });
            let best = match (free, shareable) {
                (Some(f), Some(s)) => Some(if to_u128(s) < to_u128(f) { s } else { f }),
                (f, s) => f.or(s),
            };
            if best.is_some() {
                return best;
            }
        }
        None
    }

    /// The error for "these pools had nothing": no range of a needed family
    /// at all, or all full.
    fn exhausted(&self, mut pools: Vec<usize>, wanted: IpFamilies) -> AllocationError {
        pools.sort_unstable();
        pools.dedup();
        let names: Vec<String> = pools
            .iter()
            .map(|&p| self.pools.get(p).name.clone())
            .collect();
        let has = |f: Family| pools.iter().any(|&p| self.pools.get(p).has_family(f));
        let missing = match wanted {
            IpFamilies::Single(f) => (!has(f)).then_some(f),
            IpFamilies::Dual {
                policy: DualPolicy::Require,
                ..
            } => [Family::V4, Family::V6].into_iter().find(|&f| !has(f)),
            IpFamilies::Dual { primary, .. } => {
                (!has(primary) && !has(primary.other())).then_some(primary)
            }
        };
        match missing {
            Some(family) => AllocationError::NoRangeForFamily {
                pools: names,
                family,
            },
            None => AllocationError::Exhausted {
                pools: names,
                wanted,
            },
        }
    }
}
