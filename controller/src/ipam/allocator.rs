//! The allocator's state and its public operations. Choosing addresses lives
//! in `select.rs`; this file keeps the books.
//!
//! Policy, in one place:
//! - a Service keeps its addresses as long as its own spec allows (families,
//!   requested addresses, requested pool, sharing); pool changes never move
//!   it: it is reported as [`Placement::Orphaned`] instead;
//! - a refused `assign` changes nothing, except when the Service's own sharing
//!   settings conflict with its co-tenants: it must then give its address up
//!   ([`AllocationError::LostSharing`]);
//! - no two Services ever hold one address unless the sharing rules allow it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use super::assignment::{
    Assignment, Change, MoveReason, OrphanReason, Placement, PoolChange, RebuildRejection,
};
use super::error::AllocationError;
use super::interval::IntervalSet;
use super::pool::{Membership, PoolSet};
use super::range::Family;
use super::request::{DualPolicy, IpFamilies, ServiceKey, ServiceRequest};
use super::sharing::{AddressUse, SharingProfile};
use ferrolb_crds::compact::Growth;

/// A Service's current addresses and the request they were last checked
/// against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    pub(crate) request: ServiceRequest,
    /// IPv4 first; one or two addresses of distinct families.
    pub(crate) addrs: Vec<IpAddr>,
}

/// Assigns LoadBalancer addresses from pools to Services. Pure: no I/O, no
/// clock, no randomness; the same calls in the same order give the same
/// answers.
#[derive(Debug, Clone, Default)]
pub struct Allocator {
    pub(crate) pools: PoolSet,
    /// Per pool, per range: slots with at least one user.
    pub(crate) used: Vec<Vec<IntervalSet>>,
    /// Every held address (orphans included) and its users.
    pub(crate) addresses: BTreeMap<IpAddr, AddressUse>,
    /// Sharing key -> addresses held under it, to find shareable addresses
    /// without scanning pools.
    pub(crate) by_key: HashMap<String, BTreeSet<IpAddr>>,
    /// Boxed: a request is some 200 bytes, and a B-tree node keeps room
    /// for eleven values however many it holds.
    pub(crate) services: BTreeMap<ServiceKey, Box<Held>>,
    /// New keys in `addresses` and `services` since they were rebuilt
    /// with full nodes ([`ferrolb_crds::compact`]).
    addresses_growth: Growth,
    services_growth: Growth,
}

impl Allocator {
    /// An allocator over `pools`, holding nothing.
    pub fn new(pools: PoolSet) -> Self {
        let mut a = Allocator {
            pools,
            ..Allocator::default()
        };
        a.reindex();
        a
    }

    /// The current pools.
    pub fn pools(&self) -> &PoolSet {
        &self.pools
    }

    /// Replaces the pools. No Service loses or changes an address; those whose
    /// standing changed (orphaned, back in a pool, in a renamed pool) are
    /// reported, sorted by Service.
    pub fn set_pools(&mut self, pools: PoolSet) -> Vec<PoolChange> {
        let before: Vec<Placement> = self.services.values().map(|h| self.placement(h)).collect();
        self.pools = pools;
        self.reindex();
        self.services
            .iter()
            .zip(before)
            .filter_map(|((key, held), before)| {
                let after = self.placement(held);
                (after != before).then(|| PoolChange {
                    key: key.clone(),
                    addresses: held.addrs.clone(),
                    before,
                    after,
                })
            })
            .collect()
    }

    /// Gives `req` addresses, or confirms the ones it has. See the module
    /// documentation for when a Service keeps, changes or loses addresses.
    pub fn assign(&mut self, req: &ServiceRequest) -> Result<Assignment, AllocationError> {
        let profile = SharingProfile::of(req);
        // Taken out of the books while deciding: its own addresses then count
        // as free for it, and a refusal puts them back.
        let Some(previous) = self.detach(&req.key) else {
            let addrs = self.allocate_fresh(req, &profile)?;
            self.attach(req.clone(), addrs);
            return Ok(self.report(&req.key, Change::New));
        };
        let Some(reason) = self.review(&previous, req, &profile) else {
            return Ok(self.keep(previous.addrs, req));
        };
        match self.allocate_fresh(req, &profile) {
            Ok(addrs) => {
                self.attach(req.clone(), addrs);
                let change = Change::Moved {
                    previous: previous.addrs,
                    reason,
                };
                Ok(self.report(&req.key, change))
            }
            Err(error) => match reason {
                // Its address now breaks the sharing rules: it cannot stay.
                MoveReason::SharingConflict(conflict) => Err(AllocationError::LostSharing {
                    previous: previous.addrs,
                    conflict: Box::new(conflict),
                    then: Box::new(error),
                }),
                // Otherwise keep serving on the old addresses until the new
                // request can be met.
                _ => {
                    self.attach(previous.request, previous.addrs);
                    Err(error)
                }
            },
        }
    }

    /// Frees a Service's addresses; returns them.
    pub fn release(&mut self, key: &ServiceKey) -> Option<Vec<IpAddr>> {
        self.detach(key).map(|h| h.addrs)
    }

    /// Forgets every Service and adopts recorded assignments (the addresses
    /// in each Service's status), in Service order, without moving anything:
    /// orphans stay orphans. Records that cannot be adopted are returned.
    /// Rebuilding from what [`assignments`](Self::assignments) reports gives
    /// back the same state.
    pub fn rebuild(
        &mut self,
        recorded: impl IntoIterator<Item = (ServiceRequest, Vec<IpAddr>)>,
    ) -> Vec<RebuildRejection> {
        self.services.clear();
        self.addresses.clear();
        self.by_key.clear();
        self.reindex();
        let mut records: Vec<(ServiceRequest, Vec<IpAddr>)> = recorded.into_iter().collect();
        records.sort_by(|a, b| a.0.key.cmp(&b.0.key));
        let mut rejected = Vec::new();
        for (req, mut addrs) in records {
            if addrs.is_empty() {
                continue;
            }
            if self.services.contains_key(&req.key) {
                rejected.push(RebuildRejection::Duplicate { key: req.key });
                continue;
            }
            addrs.sort_by_key(Family::of);
            let distinct = addrs.len() == 1
                || (addrs.len() == 2 && Family::of(&addrs[0]) != Family::of(&addrs[1]));
            if !distinct {
                rejected.push(RebuildRejection::Malformed {
                    key: req.key,
                    addresses: addrs,
                });
                continue;
            }
            let profile = SharingProfile::of(&req);
            let conflict = addrs.iter().find_map(|a| {
                self.addresses
                    .get(a)
                    .and_then(|u| u.check(*a, &req.key, &profile).err())
            });
            if let Some(conflict) = conflict {
                rejected.push(RebuildRejection::Conflict {
                    key: req.key,
                    conflict,
                });
                continue;
            }
            self.attach(req, addrs);
        }
        rejected
    }

    /// The Service's current assignment.
    pub fn assignment(&self, key: &ServiceKey) -> Option<Assignment> {
        self.services
            .contains_key(key)
            .then(|| self.report(key, Change::Unchanged))
    }

    /// Every assignment, by Service.
    pub fn assignments(&self) -> impl Iterator<Item = Assignment> + '_ {
        self.services
            .keys()
            .map(|k| self.report(k, Change::Unchanged))
    }

    /// What `rebuild` needs to restore the current state: each Service's
    /// request and addresses.
    pub fn recorded(&self) -> impl Iterator<Item = (ServiceRequest, Vec<IpAddr>)> + '_ {
        self.services
            .values()
            .map(|h| (h.request.clone(), h.addrs.clone()))
    }

    /// The Services holding `addr`.
    pub fn holders(&self, addr: &IpAddr) -> Vec<ServiceKey> {
        self.addresses
            .get(addr)
            .map(|u| u.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Decides whether a held Service must change addresses, and why.
    fn review(
        &self,
        held: &Held,
        req: &ServiceRequest,
        profile: &SharingProfile,
    ) -> Option<MoveReason> {
        let families: Vec<Family> = held.addrs.iter().map(Family::of).collect();
        if !req.families.accepts(&families) {
            return Some(MoveReason::FamiliesChanged);
        }
        if !req.requested.is_empty() && !same_addresses(&req.requested, &held.addrs) {
            return Some(MoveReason::RequestedAddresses);
        }
        if let Some(wanted) = &req.pool {
            // An address in no pool proves nothing about the request (the
            // pool may just have shrunk), so only an address in another
            // pool moves the Service.
            let actual = self.placement(held);
            if let Some(actual) = actual.pool()
                && actual != wanted
            {
                return Some(MoveReason::RequestedPool);
            }
        }
        held.addrs.iter().find_map(|a| {
            let conflict = self.addresses.get(a)?.check(*a, &req.key, profile).err()?;
            Some(MoveReason::SharingConflict(conflict))
        })
    }

    /// Keeps a Service's (detached) addresses under its (maybe updated) request, and
    /// gives a `PreferDualStack` Service its missing family when its pool
    /// has one free, as MetalLB does.
    fn keep(&mut self, mut addrs: Vec<IpAddr>, req: &ServiceRequest) -> Assignment {
        let mut change = Change::Unchanged;
        let wants_other = matches!(
            req.families,
            IpFamilies::Dual {
                policy: DualPolicy::Prefer,
                ..
            }
        ) && addrs.len() == 1
            // Requested addresses are honoured exactly: extending them would
            // contradict the request at the next call (MetalLB flaps here).
            && req.requested.is_empty();
        if wants_other
            && let Placement::InPool(pool) = self.placement_of(req, &addrs)
            && let Some(p) = self.pools.position(&pool)
        {
            let other = Family::of(&addrs[0]).other();
            let profile = SharingProfile::of(req);
            if let Some(added) = self.first_candidate(p, other, &req.key, &profile) {
                addrs.push(added);
                addrs.sort_by_key(Family::of);
                change = Change::Extended { added };
            }
        }
        self.attach(req.clone(), addrs);
        self.report(&req.key, change)
    }

    fn report(&self, key: &ServiceKey, change: Change) -> Assignment {
        let held = &self.services[key];
        Assignment {
            key: key.clone(),
            addresses: held.addrs.clone(),
            placement: self.placement(held),
            change,
        }
    }

    pub(crate) fn placement(&self, held: &Held) -> Placement {
        self.placement_of(&held.request, &held.addrs)
    }

    /// Where `addrs` stand for `req` under the current pools.
    fn placement_of(&self, req: &ServiceRequest, addrs: &[IpAddr]) -> Placement {
        let mut pools = BTreeSet::new();
        for a in addrs {
            match self.pools.membership(a) {
                Membership::Outside => return Placement::Orphaned(OrphanReason::NotInAnyPool),
                Membership::Avoided(p) => {
                    let pool = self.pools.get(p).name.clone();
                    return Placement::Orphaned(OrphanReason::AvoidedAddress { pool });
                }
                Membership::Usable(at) => {
                    pools.insert(at.pool);
                }
            }
        }
        let names: Vec<String> = pools
            .iter()
            .map(|&p| self.pools.get(p).name.clone())
            .collect();
        let [name] = names.as_slice() else {
            return Placement::Orphaned(OrphanReason::SplitAcrossPools { pools: names });
        };
        match pools.first().map(|&p| self.pools.get(p).allows(req)) {
            Some(Err(why)) => Placement::Orphaned(OrphanReason::NotAllowed(why)),
            _ => Placement::InPool(name.clone()),
        }
    }

    /// Records that `req` holds `addrs`.
    fn attach(&mut self, req: ServiceRequest, addrs: Vec<IpAddr>) {
        let profile = SharingProfile::of(&req);
        for a in &addrs {
            let first_user = !self.addresses.contains_key(a);
            let entry = self.addresses.entry(*a).or_default();
            entry.insert(req.key.clone(), profile.clone());
            if first_user {
                self.addresses_growth.inserted(&mut self.addresses);
                self.mark(a, true);
                if let Some(k) = &profile.key {
                    self.by_key.entry(k.clone()).or_default().insert(*a);
                }
            }
        }
        let held = Box::new(Held {
            request: req,
            addrs,
        });
        if self
            .services
            .insert(held.request.key.clone(), held)
            .is_none()
        {
            self.services_growth.inserted(&mut self.services);
        }
    }

    /// Forgets that `key` holds anything; returns what it held.
    fn detach(&mut self, key: &ServiceKey) -> Option<Held> {
        let held = *self.services.remove(key)?;
        for a in &held.addrs {
            let Some(entry) = self.addresses.get_mut(a) else {
                continue;
            };
            entry.remove(key);
            if entry.is_empty() {
                self.addresses.remove(a);
                self.mark(a, false);
                if let Some(k) = held.request.sharing_key.as_ref().filter(|k| !k.is_empty())
                    && let Some(set) = self.by_key.get_mut(k)
                {
                    set.remove(a);
                    if set.is_empty() {
                        self.by_key.remove(k);
                    }
                }
            }
        }
        Some(held)
    }

    /// Marks `a` used or free in the range that holds it, if any.
    fn mark(&mut self, a: &IpAddr, used: bool) {
        if let Membership::Usable(at) = self.pools.membership(a)
            && let Some(slot) = self.pools.slots(at).slot_of(a)
        {
            let set = &mut self.used[at.pool][at.range];
            if used {
                set.insert(slot);
            } else {
                set.remove(slot);
            }
        }
    }

    /// Recomputes the per-range used sets from the held addresses.
    fn reindex(&mut self) {
        self.used = self
            .pools
            .pools()
            .iter()
            .map(|p| vec![IntervalSet::default(); p.ranges.len()])
            .collect();
        let held: Vec<IpAddr> = self.addresses.keys().copied().collect();
        for a in &held {
            self.mark(a, true);
        }
    }
}

/// Whether two address lists hold the same addresses, in any order.
fn same_addresses(a: &[IpAddr], b: &[IpAddr]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}
