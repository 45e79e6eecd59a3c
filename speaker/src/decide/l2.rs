//! Layer-2 mode: which node answers ARP/NDP for each address, and on which
//! of its interfaces, with MetalLB's semantics.
//!
//! Every speaker runs this on the same view of the cluster and finds the
//! same owner for every address; each then answers for its own share. An
//! address has **one** owner even when several Services share it, since
//! the owner is decided per address, over the nodes fit for every Service
//! that holds it (a node answering for a shared address attracts the
//! traffic of all of them).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ferrolb_crds::api::{InterfaceInfo, ServiceL2StatusStatus};
use ferrolb_crds::config::{Config, L2Advertisement};

use super::bgp::pool_of;
use super::endpoints::{Endpoint, TrafficPolicy, has_usable_endpoint};
use super::fence::FenceState;
use super::input::{NodeState, ServiceKey, ServiceState};
use super::interfaces::{self, InterfaceRules, Link, Wanted};
use super::owner;
use super::verdict::{Explanation, L2Verdict, Reason};

/// The speakers this node's membership sees alive, with their Nodes'
/// labels and conditions. Every speaker that computes from the same view
/// finds the same owners.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    members: BTreeMap<String, NodeState>,
}

impl ClusterView {
    pub fn new(members: impl IntoIterator<Item = NodeState>) -> ClusterView {
        ClusterView {
            members: members.into_iter().map(|n| (n.name.clone(), n)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&NodeState> {
        self.members.get(name)
    }

    pub fn members(&self) -> impl Iterator<Item = &NodeState> {
        self.members.values()
    }
}

/// What only this node knows: its interfaces and its fence.
#[derive(Debug, Clone)]
pub struct LocalNode {
    pub name: String,
    pub links: Vec<Link>,
    pub interface_rules: InterfaceRules,
    pub fence: FenceState,
}

/// What `ServiceL2Status` says for a Service this node announces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct L2Status {
    pub node: String,
    pub interfaces: BTreeSet<String>,
}

impl L2Status {
    pub fn to_api(&self, service: &ServiceKey) -> ServiceL2StatusStatus {
        ServiceL2StatusStatus {
            node: self.node.clone(),
            service_name: service.name().to_string(),
            service_namespace: service.namespace().to_string(),
            interfaces: self
                .interfaces
                .iter()
                .map(|name| InterfaceInfo { name: name.clone() })
                .collect(),
        }
    }
}

/// What this node answers for in layer-2 mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct L2Plan {
    /// Each address this node answers for, with its interfaces. A shared
    /// address appears once.
    pub addresses: BTreeMap<IpAddr, BTreeSet<String>>,
    /// The owner of every address that has one, this node's included.
    pub owners: BTreeMap<IpAddr, String>,
    /// `ServiceL2Status` of each Service this node announces.
    pub statuses: BTreeMap<ServiceKey, L2Status>,
    /// One entry per address of every Service, in Service order.
    pub explanations: Vec<Explanation<L2Verdict>>,
}

/// Computes what `this_node` answers for, given the live speakers of
/// `cluster` and `services`.
pub fn l2_plan<'a>(
    config: &Config,
    this_node: &LocalNode,
    cluster: &ClusterView,
    services: impl IntoIterator<Item = &'a ServiceState>,
) -> L2Plan {
    let mut services: Vec<&ServiceState> = services.into_iter().collect();
    services.sort_by(|a, b| a.key.cmp(&b.key));

    let mut eligible = Eligible::new(config, cluster);
    let entries: Vec<(&ServiceState, IpAddr, Entry)> = services
        .iter()
        .flat_map(|s| s.addresses.iter().map(move |&a| (*s, a)))
        .map(|(s, a)| (s, a, eligible.entry(s, a)))
        .collect();
    let owners = owners(&services, &entries, cluster);

    let mut plan = L2Plan::default();
    for (service, address, entry) in entries {
        let owner = owners.get(&address).copied();
        let verdict = verdict(this_node, cluster, service, address, entry, owner);
        if let L2Verdict::Announced { interfaces } = &verdict {
            plan.addresses
                .entry(address)
                .or_default()
                .extend(interfaces.iter().cloned());
            let status = plan.statuses.entry(service.key.clone()).or_default();
            status.node.clone_from(&this_node.name);
            status.interfaces.extend(interfaces.iter().cloned());
        }
        plan.explanations.push(Explanation {
            service: service.key.clone(),
            address,
            verdict,
        });
    }
    plan.owners = owners
        .into_iter()
        .map(|(a, o)| (a, o.to_string()))
        .collect();
    plan
}

/// The verdict for one Service's `address`, of which `owner` is the owner
/// (`None`: the Services holding it have no candidate in common).
pub(super) fn verdict(
    this_node: &LocalNode,
    cluster: &ClusterView,
    service: &ServiceState,
    address: IpAddr,
    entry: Entry<'_>,
    owner: Option<&str>,
) -> L2Verdict {
    match entry {
        Entry::Blocked(reason) => L2Verdict::NotAnnounced(reason),
        Entry::Candidates {
            pool,
            advertisements,
            nodes,
        } => match owner {
            None => L2Verdict::NotAnnounced(Reason::NoCommonCandidate),
            Some(owner) if owner != this_node.name => L2Verdict::NotAnnounced(
                not_candidate(this_node, cluster, service, pool, &advertisements, &nodes)
                    .unwrap_or_else(|| Reason::OwnedBy {
                        node: owner.to_string(),
                    }),
            ),
            Some(_) => announce(this_node, cluster, pool, &advertisements, address),
        },
    }
}

/// One Service's stake in one of its addresses.
pub(super) enum Entry<'a> {
    /// This Service does not get the address announced, whoever owns it.
    Blocked(Reason),
    /// The nodes fit to announce it for this Service (never empty).
    Candidates {
        pool: &'a str,
        nodes: BTreeSet<&'a str>,
        /// The pool's advertisements that select the Service.
        advertisements: Vec<&'a L2Advertisement>,
    },
}

/// The nodes that may announce for each set of advertisements (a pool's,
/// or those of its advertisements that select a Service), before endpoints
/// are looked at.
pub(super) struct Eligible<'a> {
    config: &'a Config,
    cluster: &'a ClusterView,
    by_advertisements: BTreeMap<Vec<&'a str>, BTreeSet<&'a str>>,
}

impl<'a> Eligible<'a> {
    pub(super) fn new(config: &'a Config, cluster: &'a ClusterView) -> Eligible<'a> {
        Eligible {
            config,
            cluster,
            by_advertisements: BTreeMap::new(),
        }
    }

    pub(super) fn entry(&mut self, service: &ServiceState, address: IpAddr) -> Entry<'a> {
        let Some(pool) = pool_of(self.config, service, address) else {
            return Entry::Blocked(Reason::NotInAnyPool);
        };
        let pool_name = || pool.to_string();
        let (config, cluster) = (self.config, self.cluster);
        let mut advertisements = config.l2_advertisements_for(pool).peekable();
        if advertisements.peek().is_none() {
            return Entry::Blocked(Reason::PoolNotL2Advertised { pool: pool_name() });
        }
        let advertisements: Vec<&L2Advertisement> = advertisements
            .filter(|a| a.selects_service(&service.labels))
            .collect();
        if advertisements.is_empty() {
            return Entry::Blocked(Reason::ServiceNotSelected {
                pool: pool_name(),
                bgp: false,
            });
        }
        if service.shares_ip
            && advertisements
                .iter()
                .any(|a| !a.service_selectors.is_empty())
        {
            return Entry::Blocked(Reason::SharedIpWithServiceSelectors);
        }
        if !service.endpoints.iter().any(Endpoint::takes_traffic) {
            return Entry::Blocked(Reason::NoReadyEndpoint);
        }
        let key: Vec<&str> = advertisements.iter().map(|a| a.name.as_str()).collect();
        let nodes = self.by_advertisements.entry(key).or_insert_with(|| {
            cluster
                .members()
                .filter(|n| Reason::node_blocked(n).is_none())
                .filter(|n| advertisements.iter().any(|a| a.selects_node(&n.labels)))
                .map(|n| n.name.as_str())
                .collect()
        });
        if nodes.is_empty() {
            return Entry::Blocked(Reason::NoCandidate { pool: pool_name() });
        }
        let nodes: BTreeSet<&str> = nodes
            .iter()
            .copied()
            .filter(|n| has_usable_endpoint(service.traffic_policy, &service.endpoints, n))
            .collect();
        if nodes.is_empty() {
            return Entry::Blocked(Reason::NoCandidateWithLocalEndpoint { pool: pool_name() });
        }
        Entry::Candidates {
            pool,
            nodes,
            advertisements,
        }
    }
}

/// The owner of every address some Service wants announced: the first
/// by [`owner::owner`] among the nodes fit for *every* such Service,
/// keyed on the first address of the first Service holding the address.
///
/// With `preferredNodeSelectors`, nodes are ranked first by their
/// preference score under the advertisements that select the first
/// Service holding the address (MetalLB scores per Service; one Service
/// decides, so every Service sharing the address agrees).
fn owners<'a>(
    services: &[&ServiceState],
    entries: &[(&ServiceState, IpAddr, Entry<'a>)],
    cluster: &ClusterView,
) -> BTreeMap<IpAddr, &'a str> {
    let mut keys: BTreeMap<IpAddr, IpAddr> = BTreeMap::new();
    for service in services {
        if let Some(&first) = service.addresses.first() {
            for &address in service.addresses.iter() {
                keys.entry(address).or_insert(first);
            }
        }
    }
    let mut common: BTreeMap<IpAddr, Common> = BTreeMap::new();
    for (_, address, entry) in entries {
        common.entry(*address).or_default().add(entry);
    }
    common
        .into_iter()
        .filter_map(|(address, common)| {
            let key = keys.get(&address).copied().unwrap_or(address);
            common.owner(key, cluster).map(|o| (address, o))
        })
        .collect()
}

/// What the Services holding one address have in common, fed their
/// stakes in it in Service order: the nodes fit for every one that has
/// candidates, and the advertisements of the first of those (which rank
/// the nodes by preference).
#[derive(Default)]
pub(super) struct Common<'a, 'e> {
    nodes: Option<BTreeSet<&'a str>>,
    preferring: &'e [&'a L2Advertisement],
}

impl<'a, 'e> Common<'a, 'e> {
    pub(super) fn add(&mut self, entry: &'e Entry<'a>) {
        let Entry::Candidates {
            nodes,
            advertisements,
            ..
        } = entry
        else {
            return;
        };
        match &mut self.nodes {
            Some(common) => common.retain(|n| nodes.contains(n)),
            None => {
                self.nodes = Some(nodes.clone());
                self.preferring = advertisements;
            }
        }
    }

    /// The owner of the address keyed on `key`: `None` when no Service
    /// holding it has candidates, or they have none in common.
    pub(super) fn owner(self, key: IpAddr, cluster: &ClusterView) -> Option<&'a str> {
        owner_of(key, self.nodes?, self.preferring, cluster)
    }
}

/// The members of `cluster` (every known member) outside `candidates`
/// whose return alone would take the address keyed on `key` from
/// `this_node`, given `entries`, the stakes of every Service holding
/// it over `cluster`: the plan over `candidates` plus that member
/// would give it to another node, or to none.
///
/// Each return is decided as the plan would decide it, not from the
/// stakes over all of `cluster`: a Service whose fit nodes are all
/// away has no candidates and is left out of the plan, and comes
/// back with one of them, which then leaves this node out (it was
/// fit for none of its nodes in `candidates`). Ranking over the
/// whole cluster listed only the nodes every holder had in common:
/// with a Local Service (its endpoint away) and a Cluster one sharing
/// the address, the return of a node with no endpoint took the
/// address and was not listed (`decide_l2_props`).
///
/// The returns of several members take the address exactly when one
/// of them alone does: a Service one of them brings back leaves this
/// node out whatever else returns, and otherwise the plan picks
/// among the same Services' common nodes, this node ranked against
/// each returning one.
pub(super) fn outranking<'a>(
    entries: &[Entry<'a>],
    key: IpAddr,
    this_node: &str,
    candidates: &BTreeSet<String>,
    cluster: &'a ClusterView,
) -> Vec<String> {
    cluster
        .members()
        .map(|n| n.name.as_str())
        .filter(|n| *n != this_node && !candidates.contains(*n))
        .filter(|back| {
            let within = |n: &&str| *n == *back || candidates.contains(*n);
            let mut common = Common::default();
            let restricted: Vec<Entry<'a>> =
                entries.iter().filter_map(|e| e.within(within)).collect();
            for entry in &restricted {
                common.add(entry);
            }
            common.owner(key, cluster) != Some(this_node)
        })
        .map(str::to_string)
        .collect()
}

impl<'a> Entry<'a> {
    /// The stake with its fit nodes cut to those `within` keeps; `None`
    /// when none is left (the plan over those nodes leaves the Service
    /// out: no candidate), a blocked stake as it is.
    fn within(&self, within: impl Fn(&&'a str) -> bool) -> Option<Entry<'a>> {
        match self {
            Entry::Blocked(reason) => Some(Entry::Blocked(reason.clone())),
            Entry::Candidates {
                pool,
                nodes,
                advertisements,
            } => {
                let nodes: BTreeSet<&'a str> = nodes.iter().copied().filter(within).collect();
                (!nodes.is_empty()).then(|| Entry::Candidates {
                    pool,
                    nodes,
                    advertisements: advertisements.clone(),
                })
            }
        }
    }
}

/// A node's preference score under `advertisements` (MetalLB's
/// `preferredNodeSelectors`), from its labels in `cluster`.
fn score<'c>(
    advertisements: &'c [&L2Advertisement],
    cluster: &'c ClusterView,
) -> impl Fn(&str) -> u64 + 'c {
    move |node| {
        cluster.get(node).map_or(0, |n| {
            advertisements.iter().map(|a| a.preference(&n.labels)).sum()
        })
    }
}

/// The owner among `nodes` (the candidates every Service holding the
/// address has in common) of the address keyed on `key`, ranked by the
/// preference of `advertisements` (those that select the first Service
/// holding it) first.
fn owner_of<'a>(
    key: IpAddr,
    nodes: BTreeSet<&'a str>,
    advertisements: &[&L2Advertisement],
    cluster: &ClusterView,
) -> Option<&'a str> {
    owner::owner_preferring(key, nodes, score(advertisements, cluster))
}

/// Why this node is no candidate for a Service's address that another
/// node owns, when it is not: what the user asks about a node that stays
/// silent. `None` when it was a candidate and another won.
fn not_candidate(
    this_node: &LocalNode,
    cluster: &ClusterView,
    service: &ServiceState,
    pool: &str,
    advertisements: &[&L2Advertisement],
    candidates: &BTreeSet<&str>,
) -> Option<Reason> {
    if candidates.contains(this_node.name.as_str()) {
        return None;
    }
    // Not a live member: the owner's election did not see this node.
    let node = cluster.get(&this_node.name)?;
    if let Some(blocked) = Reason::node_blocked(node) {
        return Some(blocked);
    }
    if !advertisements.iter().any(|a| a.selects_node(&node.labels)) {
        return Some(Reason::NodeNotSelected {
            pool: pool.to_string(),
            bgp: false,
        });
    }
    (service.traffic_policy == TrafficPolicy::Local).then_some(Reason::NoLocalReadyEndpoint)
}

/// The verdict for an address this node owns, announced for
/// `advertisements` (those of its pool that select its Service).
fn announce(
    this_node: &LocalNode,
    cluster: &ClusterView,
    pool: &str,
    advertisements: &[&L2Advertisement],
    address: IpAddr,
) -> L2Verdict {
    if !this_node.fence.may_announce() {
        return L2Verdict::NotAnnounced(Reason::Fenced);
    }
    let labels = cluster.get(&this_node.name).map(|n| &n.labels);
    let advertisements = advertisements
        .iter()
        .filter(|a| labels.is_some_and(|l| a.selects_node(l)));
    let mut listed = BTreeSet::new();
    let mut all = false;
    for advertisement in advertisements {
        all |= advertisement.interfaces.is_empty();
        listed.extend(advertisement.interfaces.iter().cloned());
    }
    let wanted = if all {
        Wanted::All
    } else {
        Wanted::Listed(listed)
    };
    let choice = interfaces::choose(
        &this_node.links,
        &this_node.interface_rules,
        &wanted,
        address,
    );
    if choice.eligible.is_empty() {
        L2Verdict::NotAnnounced(Reason::NoInterface {
            pool: pool.to_string(),
            missing: choice.missing.into_iter().collect(),
            excluded: choice
                .excluded
                .iter()
                .map(|(name, why)| format!("{name}: {why}"))
                .collect(),
        })
    } else {
        L2Verdict::Announced {
            interfaces: choice.eligible,
        }
    }
}
