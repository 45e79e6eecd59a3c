//! The reconciler's decision, without I/O: from the current Services,
//! Namespaces and pools to the status each Service should carry and the
//! Events to emit. The shell calls [`Core::sync`] after every batch of
//! watch events; the same inputs in the same order give the same plan.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ferrolb_crds::compact::{Growth, compact};
use ferrolb_crds::selector::Labels;
use k8s_openapi::api::core::v1::Service;

use super::plan::{Desired, Note, Plan, Reason};
use crate::adapt::ServiceData;
use crate::ipam::{
    Allocator, Assignment, Change, DualPolicy, Family, IpFamilies, Placement, PoolSet, PoolStats,
    ServiceKey, ServiceRequest,
};
use ferrolb_crds::service::recorded_pool;
use ferrolb_crds::service::{LbView, lb_view, recorded_addresses, service_key};

/// What a pass reads.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    /// Every Service of the cluster, by key.
    pub services: &'a BTreeMap<ServiceKey, Service>,
    /// Namespace labels, by namespace name.
    pub namespaces: &'a BTreeMap<String, Labels>,
}

/// Which Services a pass must look at: all of them, or those whose
/// objects changed (the shell knows from the watch events). A pass over a
/// few Services costs a few allocator calls, not one per Service in the
/// cluster, so a burst of 1,000 creations stays linear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every Service (start, configuration or namespace change, retry).
    All,
    /// These Services changed (or were deleted).
    Services(BTreeSet<ServiceKey>),
}

impl Scope {
    /// Adds `other` to `self`.
    pub fn merge(&mut self, other: Scope) {
        match (&mut *self, other) {
            (Scope::All, _) => {}
            (_, Scope::All) => *self = Scope::All,
            (Scope::Services(a), Scope::Services(b)) => a.extend(b),
        }
    }

    /// Nothing to look at.
    pub fn is_empty(&self) -> bool {
        matches!(self, Scope::Services(k) if k.is_empty())
    }
}

impl Default for Scope {
    fn default() -> Self {
        Scope::Services(BTreeSet::new())
    }
}

/// The reconciler's state: the allocator (single writer) and what was
/// already told to each Service's owner, so Events are not repeated.
#[derive(Debug)]
pub struct Core {
    lb_class: Option<String>,
    /// Pools of the last valid configuration, until the first pass adopts
    /// them.
    pending_pools: Option<PoolSet>,
    /// `None` until a valid configuration and a complete view of the
    /// Services exist: nothing is assigned before the recorded addresses
    /// are rebuilt.
    allocator: Option<Allocator>,
    /// The last decision per Service (ours only).
    decided: BTreeMap<ServiceKey, Desired>,
    /// New keys in `decided` since it was rebuilt with full nodes.
    decided_growth: Growth,
    /// The last allocation failure told, per Service.
    failures: BTreeMap<ServiceKey, String>,
    /// The warnings already told, per Service.
    warned: BTreeMap<ServiceKey, BTreeSet<String>>,
    /// The last orphan reason told, per Service.
    orphaned: BTreeMap<ServiceKey, String>,
    /// Our Services that hold nothing: tried again whenever an address is
    /// freed.
    waiting: BTreeSet<ServiceKey>,
    /// The pools changed since the last pass: every Service is looked at.
    pools_changed: bool,
}

impl Core {
    /// A core for a controller started with `--lb-class = lb_class`.
    pub fn new(lb_class: Option<String>) -> Self {
        Core {
            lb_class: lb_class.filter(|c| !c.is_empty()),
            pending_pools: None,
            allocator: None,
            decided: BTreeMap::new(),
            decided_growth: Growth::default(),
            failures: BTreeMap::new(),
            warned: BTreeMap::new(),
            orphaned: BTreeMap::new(),
            waiting: BTreeSet::new(),
            pools_changed: false,
        }
    }

    /// Installs the pools of a new valid configuration. Nobody moves; the
    /// next pass reports what changed for whom.
    pub fn set_pools(&mut self, pools: PoolSet) {
        match &mut self.allocator {
            Some(a) => {
                a.set_pools(pools);
                self.pools_changed = true;
            }
            None => self.pending_pools = Some(pools),
        }
    }

    /// Whether the first pass (the rebuild) has happened.
    pub fn started(&self) -> bool {
        self.allocator.is_some()
    }

    /// Pool usage; empty before the first pass.
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        self.allocator
            .as_ref()
            .map(Allocator::pool_stats)
            .unwrap_or_default()
    }

    /// The last decision for each of our Services: what their status says
    /// once it is written.
    pub fn decided(&self) -> impl Iterator<Item = (&ServiceKey, &Desired)> {
        self.decided.iter()
    }

    /// The allocator, for queries.
    pub fn allocator(&self) -> Option<&Allocator> {
        self.allocator.as_ref()
    }

    /// One pass over the Services in `scope` (every Service on the first
    /// pass and after a pool change). The first pass after a valid
    /// configuration arrived rebuilds the books from the addresses recorded
    /// on the Services before anything new is assigned.
    pub fn sync(&mut self, snap: Snapshot<'_>, scope: &Scope) -> Plan {
        let mut plan = Plan::default();
        let mut scope = scope.clone();
        if self.allocator.is_none() {
            let Some(pools) = self.pending_pools.take() else {
                return plan;
            };
            self.start(pools, snap, &mut plan);
            scope = Scope::All;
        }
        if std::mem::take(&mut self.pools_changed) {
            scope = Scope::All;
        }
        let Some(mut allocator) = self.allocator.take() else {
            return plan;
        };
        let mut keys: BTreeSet<ServiceKey> = match &scope {
            Scope::All => snap
                .services
                .keys()
                .chain(self.decided.keys())
                .cloned()
                .collect(),
            Scope::Services(keys) => keys.clone(),
        };
        if self.release_departed(&mut allocator, snap, &keys, &mut plan) {
            keys.extend(self.waiting.iter().cloned());
        }

        // Held first, then new ones, each in key order: the Services that
        // already have addresses are confirmed before any new one competes.
        let (held, fresh): (Vec<_>, Vec<_>) = keys
            .iter()
            .filter_map(|k| snap.services.get_key_value(k))
            .filter(|(_, svc)| lb_view(svc, self.lb_class.as_deref()) == LbView::Ours)
            .partition(|(key, _)| allocator.assignment(key).is_some());
        for (key, svc) in held.into_iter().chain(fresh) {
            self.serve(&mut allocator, key, svc, snap, &mut plan);
            if allocator.assignment(key).is_some() {
                self.waiting.remove(key);
            } else {
                self.waiting.insert(key.clone());
            }
        }
        self.allocator = Some(allocator);
        self.plan_writes(snap, &keys, &mut plan);
        plan
    }

    /// Builds the allocator and adopts every recorded assignment.
    fn start(&mut self, pools: PoolSet, snap: Snapshot<'_>, plan: &mut Plan) {
        let mut allocator = Allocator::new(pools);
        let mut records = Vec::new();
        for (key, svc) in snap.services {
            if lb_view(svc, self.lb_class.as_deref()) != LbView::Ours {
                continue;
            }
            let addrs = recorded_addresses(svc);
            if addrs.is_empty() {
                continue;
            }
            let req = match request(key, svc, snap) {
                Ok((req, _)) => req,
                // The Service's annotations are broken now, but it was
                // served before: keep its addresses under a request that
                // says only what the addresses say.
                Err(_) => fallback_request(key, svc, &addrs),
            };
            records.push((req, addrs));
        }
        let rejections = allocator.rebuild(records);
        for (key, held) in allocator
            .assignments()
            .map(|a| (a.key.clone(), desired(&a)))
            .collect::<Vec<_>>()
        {
            self.decided.insert(key, held);
        }
        compact(&mut self.decided);
        for r in rejections {
            let key = match &r {
                crate::ipam::RebuildRejection::Duplicate { key }
                | crate::ipam::RebuildRejection::Malformed { key, .. }
                | crate::ipam::RebuildRejection::Conflict { key, .. } => key.clone(),
            };
            plan.notes.push(Note {
                key,
                reason: Reason::ClearAssignment,
                message: format!("recorded address not kept after restart: {r}"),
            });
        }
        self.allocator = Some(allocator);
    }

    /// Releases the Services of `keys` that are gone, not LoadBalancers,
    /// or not ours; true if any address was freed.
    fn release_departed(
        &mut self,
        allocator: &mut Allocator,
        snap: Snapshot<'_>,
        keys: &BTreeSet<ServiceKey>,
        plan: &mut Plan,
    ) -> bool {
        let mut freed = false;
        for key in keys {
            if allocator.assignment(key).is_none() {
                let ours = snap
                    .services
                    .get(key)
                    .is_some_and(|svc| lb_view(svc, self.lb_class.as_deref()) == LbView::Ours);
                if !ours {
                    self.waiting.remove(key);
                }
                // Not held; a deleted one may have left told-state behind.
                if !snap.services.contains_key(key) {
                    self.decided.remove(key);
                    self.waiting.remove(key);
                    self.forget(key);
                }
                continue;
            }
            let key = key.clone();
            let view = snap
                .services
                .get(&key)
                .map(|svc| lb_view(svc, self.lb_class.as_deref()));
            if view == Some(LbView::Ours) {
                continue;
            }
            allocator.release(&key);
            freed = true;
            let had = self.decided.remove(&key).is_some_and(|d| !d.is_empty());
            self.waiting.remove(&key);
            self.forget(&key);
            let why = match view {
                None => continue,
                Some(LbView::NotLoadBalancer) => "service is no longer of type LoadBalancer",
                Some(LbView::OtherClass) => "service's loadBalancerClass is not this controller's",
                Some(LbView::Ours) => continue,
            };
            if had {
                plan.notes.push(Note {
                    key,
                    reason: Reason::ClearAssignment,
                    message: why.to_string(),
                });
            }
        }
        freed
    }

    fn forget(&mut self, key: &ServiceKey) {
        self.failures.remove(key);
        self.warned.remove(key);
        self.orphaned.remove(key);
    }

    /// Assigns one of our Services and records what to tell.
    fn serve(
        &mut self,
        allocator: &mut Allocator,
        key: &ServiceKey,
        svc: &Service,
        snap: Snapshot<'_>,
        plan: &mut Plan,
    ) {
        // A span per Service: whatever is logged while deciding (by us or
        // by a dependency) names the Service.
        let _span = tracing::debug_span!("service", service = %key).entered();
        let (req, warnings) = match request(key, svc, snap) {
            Ok(r) => r,
            Err(errors) => {
                // Keep whatever it holds: a typo never costs an address.
                self.fail(key, errors, plan);
                let keep = allocator.assignment(key).map(|a| desired(&a));
                self.decide(key, keep.unwrap_or_default(), None, plan);
                return;
            }
        };
        self.warn(key, warnings, plan);
        if allocator.assignment(key).is_none() {
            adopt_recorded(allocator, &req, svc);
        }
        match allocator.assign(&req) {
            Ok(a) => {
                self.failures.remove(key);
                self.report_placement(&a, plan);
                let change = match &a.change {
                    Change::New => None,
                    Change::Unchanged => None,
                    Change::Extended { .. } => Some("extended to a second family".to_string()),
                    Change::Moved { previous, reason } => Some(format!(
                        "moved from {} because {reason}",
                        previous
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
                self.decide(key, desired(&a), change, plan);
            }
            Err(e) => {
                self.fail(key, vec![e.to_string()], plan);
                let keep = allocator.assignment(key).map(|a| desired(&a));
                self.decide(key, keep.unwrap_or_default(), None, plan);
            }
        }
    }

    fn decide(&mut self, key: &ServiceKey, now: Desired, why: Option<String>, plan: &mut Plan) {
        let before = self.decided.get(key).cloned().unwrap_or_default();
        if before != now {
            if now.addresses.is_empty() {
                if !before.addresses.is_empty() {
                    plan.notes.push(Note {
                        key: key.clone(),
                        reason: Reason::ClearAssignment,
                        message: format!("released {before}"),
                    });
                }
            } else if before.addresses != now.addresses {
                let mut message = format!("Assigned IP {now}");
                if let Some(why) = why {
                    message.push_str(&format!(" ({why})"));
                }
                plan.notes.push(Note {
                    key: key.clone(),
                    reason: Reason::IpAllocated,
                    message,
                });
            }
        }
        if self.decided.insert(key.clone(), now).is_none() {
            self.decided_growth.inserted(&mut self.decided);
        }
    }

    fn fail(&mut self, key: &ServiceKey, errors: Vec<String>, plan: &mut Plan) {
        let message = errors.join("; ");
        if self.failures.get(key) != Some(&message) {
            plan.notes.push(Note {
                key: key.clone(),
                reason: Reason::AllocationFailed,
                message: format!("Failed to allocate IP for {key}: {message}"),
            });
            self.failures.insert(key.clone(), message);
        }
    }

    fn warn(&mut self, key: &ServiceKey, warnings: Vec<String>, plan: &mut Plan) {
        let now: BTreeSet<String> = warnings.into_iter().collect();
        let told = self.warned.get(key);
        for w in &now {
            if told.is_none_or(|t| !t.contains(w)) {
                plan.notes.push(Note {
                    key: key.clone(),
                    reason: Reason::DeprecatedAnnotation,
                    message: w.clone(),
                });
            }
        }
        // Most Services have no warning: no entry rather than an empty one.
        if now.is_empty() {
            self.warned.remove(key);
        } else {
            self.warned.insert(key.clone(), now);
        }
    }

    fn report_placement(&mut self, a: &Assignment, plan: &mut Plan) {
        match &a.placement {
            Placement::Orphaned(why) => {
                let why = why.to_string();
                if self.orphaned.get(&a.key) != Some(&why) {
                    plan.notes.push(Note {
                        key: a.key.clone(),
                        reason: Reason::AddressOrphaned,
                        message: format!(
                            "keeps {} although {why}; request other addresses or another pool to move it",
                            a.addresses
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                    self.orphaned.insert(a.key.clone(), why);
                }
            }
            Placement::InPool(_) => {
                self.orphaned.remove(&a.key);
            }
        }
    }

    /// Every Service whose recorded status or annotation differs from the
    /// decision. Services not ours are cleared only of what FerroLB wrote.
    fn plan_writes(&self, snap: Snapshot<'_>, keys: &BTreeSet<ServiceKey>, plan: &mut Plan) {
        for (key, svc) in keys.iter().filter_map(|k| snap.services.get_key_value(k)) {
            let current = Desired {
                addresses: recorded_addresses(svc),
                pool: recorded_pool(svc).map(str::to_string),
            };
            let wanted = match lb_view(svc, self.lb_class.as_deref()) {
                LbView::Ours => match self.decided.get(key) {
                    Some(d) => d.clone(),
                    None => continue,
                },
                // Another controller's Service: clear only if our
                // annotation says FerroLB wrote the status.
                LbView::OtherClass if current.pool.is_none() => continue,
                LbView::OtherClass => Desired::default(),
                LbView::NotLoadBalancer if current.is_empty() => continue,
                LbView::NotLoadBalancer => Desired::default(),
            };
            if !same(&current, &wanted) {
                plan.writes.push((key.clone(), wanted));
            }
        }
    }
}

/// Same addresses (in any order) and pool.
fn same(a: &Desired, b: &Desired) -> bool {
    let mut x = a.addresses.clone();
    let mut y = b.addresses.clone();
    x.sort();
    y.sort();
    x == y && a.pool == b.pool
}

fn desired(a: &Assignment) -> Desired {
    Desired {
        addresses: a.addresses.clone(),
        pool: a.pool().map(str::to_string),
    }
}

/// The allocator's request for `svc`, with the warnings to tell.
fn request(
    key: &ServiceKey,
    svc: &Service,
    snap: Snapshot<'_>,
) -> Result<(ServiceRequest, Vec<String>), Vec<String>> {
    let data = ServiceData::of(svc);
    let parsed = data
        .parse()
        .map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let warnings = parsed.warnings.iter().map(ToString::to_string).collect();
    let ns_labels = snap
        .namespaces
        .get(key.namespace())
        .cloned()
        .unwrap_or_default();
    let req = parsed.into_request(key.clone(), data.labels().clone(), ns_labels);
    Ok((req, warnings))
}

/// A request that says only what recorded addresses say: their families.
fn fallback_request(key: &ServiceKey, svc: &Service, addrs: &[IpAddr]) -> ServiceRequest {
    let mut families: Vec<Family> = addrs.iter().map(Family::of).collect();
    families.dedup();
    let mut req = ServiceRequest::new(key.clone(), families[0]);
    if families.len() > 1 {
        req.families = IpFamilies::Dual {
            primary: families[0],
            policy: DualPolicy::Require,
        };
    }
    req.labels = svc.metadata.labels.clone().unwrap_or_default();
    req
}

/// A Service we do not hold that carries addresses (created with a status,
/// or moved from another controller): keep them if the pools allow it, as
/// MetalLB does; otherwise it gets new ones like any new Service.
fn adopt_recorded(allocator: &mut Allocator, req: &ServiceRequest, svc: &Service) {
    let recorded = recorded_addresses(svc);
    if recorded.is_empty() || !req.requested.is_empty() {
        return;
    }
    let mut adopt = req.clone();
    adopt.requested = recorded;
    // A refusal leaves the allocator unchanged; the caller then assigns
    // the real request from scratch.
    let _ = allocator.assign(&adopt);
}

/// `namespace/name` keys for a list of Services; objects without a name are
/// dropped (the API server never serves one).
pub fn index(services: impl IntoIterator<Item = Service>) -> BTreeMap<ServiceKey, Service> {
    services
        .into_iter()
        .filter_map(|s| service_key(&s).map(|k| (k, s)))
        .collect()
}
