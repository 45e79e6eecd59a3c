//! Address pools as the allocator sees them, validated into a [`PoolSet`]
//! (unique names, no address in two pools) with an O(log n) address-to-pool
//! index.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use ferrolb_crds::selector::{LabelSelector, SelectorError};

use super::range::{AddressRange, Family, Slots, is_buggy, to_u128};
use super::request::ServiceRequest;

/// `IPAddressPool.spec.serviceAllocation`: which Services a pool is pinned to,
/// and how strongly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAllocation {
    /// Lower number = higher priority; 0 (unset) comes after every set
    /// priority, as in MetalLB.
    pub priority: u32,
    /// Namespaces allowed by name.
    pub namespaces: BTreeSet<String>,
    /// Namespaces allowed by label (ORed with `namespaces`).
    pub namespace_selectors: Vec<LabelSelector>,
    /// Services allowed by label (ORed among themselves, ANDed with the
    /// namespace restriction).
    pub service_selectors: Vec<LabelSelector>,
}

/// One address pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// `metadata.name`.
    pub name: String,
    /// `spec.addresses`, in order: allocation tries them in this order.
    pub ranges: Vec<AddressRange>,
    /// `spec.autoAssign` (default true): whether Services that name neither
    /// this pool nor one of its addresses may get addresses from it.
    pub auto_assign: bool,
    /// `spec.avoidBuggyIPs`: never use IPv4 addresses ending in .0 or .255.
    pub avoid_buggy_ips: bool,
    /// `spec.serviceAllocation`.
    pub service_allocation: Option<ServiceAllocation>,
}

impl Pool {
    /// An auto-assign pool over `ranges` with no other options.
    pub fn new(name: impl Into<String>, ranges: Vec<AddressRange>) -> Self {
        Pool {
            name: name.into(),
            ranges,
            auto_assign: true,
            avoid_buggy_ips: false,
            service_allocation: None,
        }
    }

    /// Whether the pool has a range of `family`.
    pub fn has_family(&self, family: Family) -> bool {
        self.ranges.iter().any(|r| r.family() == family)
    }

    /// Whether `serviceAllocation` lets this pool serve `req`.
    pub fn allows(&self, req: &ServiceRequest) -> Result<(), NotAllowed> {
        let Some(sa) = &self.service_allocation else {
            return Ok(());
        };
        let restricts_namespaces = !sa.namespaces.is_empty() || !sa.namespace_selectors.is_empty();
        if restricts_namespaces
            && !sa.namespaces.iter().any(|n| n == req.key.namespace())
            && !sa
                .namespace_selectors
                .iter()
                .any(|s| s.matches(&req.namespace_labels))
        {
            return Err(NotAllowed::Namespace {
                pool: self.name.clone(),
                namespace: req.key.namespace().to_string(),
            });
        }
        if !sa.service_selectors.is_empty()
            && !sa.service_selectors.iter().any(|s| s.matches(&req.labels))
        {
            return Err(NotAllowed::ServiceLabels {
                pool: self.name.clone(),
            });
        }
        Ok(())
    }

    /// Sort key for pinned pools: set priorities ascending, then unset (0),
    /// then by name so that equal priorities still give one answer.
    fn pin_order(&self) -> (Reverse<bool>, u32, &str) {
        let priority = self.service_allocation.as_ref().map_or(0, |sa| sa.priority);
        (Reverse(priority != 0), priority, &self.name)
    }
}

/// Why a pool's `serviceAllocation` excludes a Service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAllowed {
    /// The namespace is neither listed nor selected.
    #[error("pool {pool} does not allow namespace {namespace}")]
    Namespace {
        /// The pool.
        pool: String,
        /// The Service's namespace.
        namespace: String,
    },
    /// No service selector matches the Service's labels.
    #[error("the service's labels match none of pool {pool}'s serviceSelectors")]
    ServiceLabels {
        /// The pool.
        pool: String,
    },
}

/// Why a set of pools is not a valid configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Two pools share a name.
    #[error("duplicate definition of pool {name:?}")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// A pool without a name.
    #[error("a pool has an empty name")]
    EmptyName,
    /// A `serviceAllocation` selector the API server would reject.
    #[error("pool {pool:?}: serviceAllocation: {error}")]
    InvalidSelector {
        /// The pool.
        pool: String,
        /// What is wrong.
        error: SelectorError,
    },
    /// Two ranges overlap (within a pool or across pools).
    #[error("range {range} of pool {pool:?} overlaps range {other_range} of pool {other_pool:?}")]
    Overlap {
        /// One pool.
        pool: String,
        /// Its range.
        range: AddressRange,
        /// The other pool (may be the same).
        other_pool: String,
        /// Its range.
        other_range: AddressRange,
    },
}

/// Where a range sits: pool index and range index in that pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RangeRef {
    pub(crate) pool: usize,
    pub(crate) range: usize,
}

/// Where an address falls in a [`PoolSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Membership {
    /// In this range of this pool, and usable.
    Usable(RangeRef),
    /// In a range of this pool, but the pool avoids .0/.255 addresses.
    Avoided(usize),
    /// In no pool.
    Outside,
}

/// A validated set of pools: names unique, no address in two ranges. Pools
/// are kept sorted by name, which is also the order fallback (auto-assign,
/// no `serviceAllocation`) pools are tried in.
#[derive(Debug, Clone, Default)]
pub struct PoolSet {
    pools: Vec<Pool>,
    /// Per family: first address of each range -> (last address, where).
    index: [BTreeMap<u128, (u128, RangeRef)>; 2],
}

fn family_slot(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

impl PoolSet {
    /// Validates `pools` (MetalLB rejects overlapping pools the same way).
    pub fn new(mut pools: Vec<Pool>) -> Result<Self, PoolError> {
        pools.sort_by(|a, b| a.name.cmp(&b.name));
        for pair in pools.windows(2) {
            if pair[0].name == pair[1].name {
                return Err(PoolError::DuplicateName {
                    name: pair[0].name.clone(),
                });
            }
        }
        if pools.iter().any(|p| p.name.is_empty()) {
            return Err(PoolError::EmptyName);
        }
        for p in &pools {
            let selectors = p
                .service_allocation
                .iter()
                .flat_map(|sa| sa.namespace_selectors.iter().chain(&sa.service_selectors));
            for selector in selectors {
                selector
                    .validate()
                    .map_err(|error| PoolError::InvalidSelector {
                        pool: p.name.clone(),
                        error,
                    })?;
            }
        }
        let mut index: [BTreeMap<u128, (u128, RangeRef)>; 2] = Default::default();
        for (pi, pool) in pools.iter().enumerate() {
            for (ri, range) in pool.ranges.iter().enumerate() {
                let map = &mut index[family_slot(range.family())];
                let (start, end) = range.bounds().into_inner();
                // Only the neighbours in start order can overlap a range.
                let below = map.range(..=start).next_back();
                let above = map.range(start..).next();
                for (&s, &(e, at)) in below.into_iter().chain(above) {
                    if s <= end && start <= e {
                        let other = &pools[at.pool];
                        return Err(PoolError::Overlap {
                            pool: pool.name.clone(),
                            range: *range,
                            other_pool: other.name.clone(),
                            other_range: other.ranges[at.range],
                        });
                    }
                }
                map.insert(
                    start,
                    (
                        end,
                        RangeRef {
                            pool: pi,
                            range: ri,
                        },
                    ),
                );
            }
        }
        Ok(PoolSet { pools, index })
    }

    /// The pools, sorted by name.
    pub fn pools(&self) -> &[Pool] {
        &self.pools
    }

    /// Whether there is no pool at all.
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }

    /// The index of the pool called `name`.
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        self.pools
            .binary_search_by(|p| p.name.as_str().cmp(name))
            .ok()
    }

    /// The pool at `index`.
    pub(crate) fn get(&self, index: usize) -> &Pool {
        &self.pools[index]
    }

    /// The pool called `name`.
    pub fn by_name(&self, name: &str) -> Option<&Pool> {
        self.position(name).map(|i| &self.pools[i])
    }

    /// Where `ip` falls.
    pub(crate) fn membership(&self, ip: &IpAddr) -> Membership {
        let n = to_u128(*ip);
        let map = &self.index[family_slot(Family::of(ip))];
        match map.range(..=n).next_back() {
            Some((_, &(end, at))) if n <= end => {
                if self.pools[at.pool].avoid_buggy_ips && is_buggy(ip) {
                    Membership::Avoided(at.pool)
                } else {
                    Membership::Usable(at)
                }
            }
            _ => Membership::Outside,
        }
    }

    /// The slot numbering of a range.
    pub(crate) fn slots(&self, at: RangeRef) -> Slots {
        let pool = &self.pools[at.pool];
        Slots::new(&pool.ranges[at.range], pool.avoid_buggy_ips)
    }

    /// Pools that `serviceAllocation` pins to `req`, best first: auto-assign
    /// pools with a `serviceAllocation` that allows the Service, by priority.
    pub(crate) fn pinned_for(&self, req: &ServiceRequest) -> Vec<usize> {
        let mut pinned: Vec<usize> = (0..self.pools.len())
            .filter(|&i| {
                let p = &self.pools[i];
                p.auto_assign && p.service_allocation.is_some() && p.allows(req).is_ok()
            })
            .collect();
        pinned.sort_by(|&a, &b| self.pools[a].pin_order().cmp(&self.pools[b].pin_order()));
        pinned
    }

    /// Pools any Service may get addresses from without asking: auto-assign
    /// pools without `serviceAllocation`, by name.
    pub(crate) fn fallback(&self) -> Vec<usize> {
        (0..self.pools.len())
            .filter(|&i| self.pools[i].auto_assign && self.pools[i].service_allocation.is_none())
            .collect()
    }
}

impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::request::ServiceKey;

    fn pool(name: &str, ranges: &[&str]) -> Pool {
        Pool::new(name, ranges.iter().map(|r| r.parse().unwrap()).collect())
    }

    fn pinned(name: &str, priority: u32) -> Pool {
        Pool {
            service_allocation: Some(ServiceAllocation {
                priority,
                ..Default::default()
            }),
            ..pool(name, &[])
        }
    }

    #[test]
    fn rejects_duplicates_and_overlaps() {
        let dup = PoolSet::new(vec![
            pool("a", &["10.0.0.0/24"]),
            pool("a", &["10.0.1.0/24"]),
        ]);
        assert!(matches!(dup, Err(PoolError::DuplicateName { .. })));
        let overlap = PoolSet::new(vec![
            pool("a", &["10.0.0.0/24"]),
            pool("b", &["10.0.0.200-10.0.1.4"]),
        ]);
        let err = overlap.unwrap_err();
        assert!(matches!(err, PoolError::Overlap { .. }), "{err}");
        let inner = PoolSet::new(vec![pool("a", &["10.0.0.0/24", "10.0.0.7"])]);
        assert!(matches!(inner, Err(PoolError::Overlap { .. })));
        let ok = PoolSet::new(vec![
            pool("a", &["10.0.0.0/24", "::/0"]),
            pool("b", &["10.0.1.0/24"]),
        ]);
        assert!(ok.is_ok());
    }

    #[test]
    fn rejects_invalid_selectors() {
        use ferrolb_crds::selector::{Operator, Requirement};
        let bad = LabelSelector {
            match_expressions: vec![Requirement {
                key: "k".into(),
                operator: Operator::In,
                values: vec![],
            }],
            ..Default::default()
        };
        let p = Pool {
            service_allocation: Some(ServiceAllocation {
                service_selectors: vec![bad],
                ..Default::default()
            }),
            ..pool("p", &[])
        };
        assert!(matches!(
            PoolSet::new(vec![p]),
            Err(PoolError::InvalidSelector { .. })
        ));
    }

    #[test]
    fn membership_respects_avoid_buggy_ips() {
        let mut a = pool("a", &["10.0.0.0/24"]);
        a.avoid_buggy_ips = true;
        let set = PoolSet::new(vec![a, pool("b", &["10.0.1.0/24"])]).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(matches!(
            set.membership(&ip("10.0.0.5")),
            Membership::Usable(RangeRef { pool: 0, .. })
        ));
        assert_eq!(set.membership(&ip("10.0.0.255")), Membership::Avoided(0));
        assert!(matches!(
            set.membership(&ip("10.0.1.255")),
            Membership::Usable(_)
        ));
        assert_eq!(set.membership(&ip("10.0.2.1")), Membership::Outside);
    }

    #[test]
    fn pinned_pools_sort_by_priority_then_unset_then_name() {
        let set = PoolSet::new(vec![
            pinned("z-unset", 0),
            pinned("b-10", 10),
            pinned("a-unset", 0),
            pinned("c-1", 1),
            pinned("a-10", 10),
        ])
        .unwrap();
        let req = ServiceRequest::new(ServiceKey::new("ns", "svc"), Family::V4);
        let names: Vec<&str> = set
            .pinned_for(&req)
            .into_iter()
            .map(|i| set.get(i).name.as_str())
            .collect();
        assert_eq!(names, ["c-1", "a-10", "b-10", "a-unset", "z-unset"]);
    }

    #[test]
    fn service_allocation_filters() {
        use ferrolb_crds::selector::Labels;
        let sel: LabelSelector = LabelSelector {
            match_labels: Labels::from([("team".to_string(), "web".to_string())]),
            match_expressions: vec![],
        };
        let p = Pool {
            service_allocation: Some(ServiceAllocation {
                namespaces: BTreeSet::from(["prod".to_string()]),
                namespace_selectors: vec![sel.clone()],
                service_selectors: vec![sel.clone()],
                ..Default::default()
            }),
            ..pool("p", &[])
        };
        let mut req = ServiceRequest::new(ServiceKey::new("dev", "svc"), Family::V4);
        assert!(matches!(p.allows(&req), Err(NotAllowed::Namespace { .. })));
        req.namespace_labels = sel.match_labels.clone();
        assert!(matches!(
            p.allows(&req),
            Err(NotAllowed::ServiceLabels { .. })
        ));
        req.labels = sel.match_labels.clone();
        assert!(p.allows(&req).is_ok());
        req.key = ServiceKey::new("prod", "svc");
        req.namespace_labels.clear();
        assert!(p.allows(&req).is_ok());
    }
}
