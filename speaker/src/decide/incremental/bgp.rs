//! BGP mode, kept up to date Service by Service.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ferrolb_bgp::peer::RouteAttributes;
use ferrolb_crds::config::Config;
use ipnet::IpNet;

use super::super::bgp::{BgpPlan, Stated, decide_service, node_peers};
use super::super::compact::{Growth, compact};
use super::super::input::{NodeState, ServiceKey};
use super::super::shared::Shared;
use super::super::verdict::{Names, Verdict};
use super::{Changed, Delta, ServiceBook, addresses_of, replace_explanations};

/// The BGP plan of the Services of a [`ServiceBook`], and what it was
/// decided from.
#[derive(Debug, Clone, Default)]
pub struct BgpBook {
    /// What every Service's decision read, as of the last update; `None`
    /// before the first.
    decided_from: Option<(Config, NodeState)>,
    /// The Services routing each prefix, in key order: a prefix's
    /// attributes merge what all of them state (aggregated prefixes and
    /// shared addresses have several).
    routers: BTreeMap<IpNet, Vec<ServiceKey>>,
    /// The lengths of the prefixes in `routers`, by family (`true`:
    /// IPv6): a Service's routes are the prefixes of these lengths around
    /// its addresses that it routes, found without a map of its own (a
    /// second entry per Service).
    lengths: BTreeSet<(bool, u8)>,
    plan: BgpPlan,
    /// The prefixes the last update may have changed on some peer.
    prefixes: Prefixes,
    /// The peer sets the verdicts name, one copy each.
    peer_sets: Shared<Names>,
    /// The attributes the routes carry, one copy each: most routes of a
    /// table carry the same. Reset with the book when the configuration
    /// changes, which is where attributes come from.
    attribute_sets: Shared<RouteAttributes>,
    /// Insertions into `routers` and into the plan's routes since they
    /// were last rebuilt ([`compact`]).
    routers_growth: Growth,
    routes_growth: Growth,
}

/// The routes an update may have changed, on any peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Prefixes {
    /// Any: the plan was made afresh (peers may have come or gone too).
    #[default]
    All,
    /// Only these; every other route of every peer is as it was.
    Some(BTreeSet<IpNet>),
}

impl BgpBook {
    /// The plan, equal to [`super::super::bgp_plan`] over the same inputs.
    pub fn plan(&self) -> &BgpPlan {
        &self.plan
    }

    /// The routes the last [`BgpBook::update`] may have changed.
    pub fn changed_prefixes(&self) -> &Prefixes {
        &self.prefixes
    }

    /// Decides again the Services `changed` (all of them when the
    /// configuration or this node differ from the last update's), and
    /// says how their verdicts moved.
    pub fn update(
        &mut self,
        config: &Config,
        node: &NodeState,
        services: &ServiceBook,
        changed: Changed,
    ) -> Delta<Verdict> {
        let same_inputs = self
            .decided_from
            .as_ref()
            .is_some_and(|(c, n)| c == config && n == node);
        let changed: Vec<ServiceKey> = match changed {
            Changed::Some(keys) if same_inputs => keys.into_iter().collect(),
            _ => {
                return self.rebuild(config, node, services);
            }
        };
        let node_peers = node_peers(config, node);
        let mut delta = Delta::default();
        let mut dirty: BTreeSet<IpNet> = BTreeSet::new();
        for key in &changed {
            for prefix in self.routed_by(key) {
                if let Some(routers) = self.routers.get_mut(&prefix) {
                    routers.retain(|k| k != key);
                }
                dirty.insert(prefix);
            }
            let verdicts = match services.get(key) {
                Some(service) => {
                    let mut prefixes = Vec::new();
                    let mut verdicts = decide_service(config, node, &node_peers, service, |r| {
                        prefixes.push(r.prefix)
                    });
                    for (_, verdict) in &mut verdicts {
                        if let Verdict::Announced { peers } = verdict {
                            *peers = self.peer_sets.share(Arc::clone(peers));
                        }
                    }
                    for prefix in prefixes {
                        let new = !self.routers.contains_key(&prefix);
                        let routers = self.routers.entry(prefix).or_default();
                        if let Err(at) = routers.binary_search(key) {
                            // Most prefixes have one router: no room for more.
                            routers.reserve_exact(1);
                            routers.insert(at, key.clone());
                        }
                        if new {
                            self.routers_growth.inserted(&mut self.routers);
                        }
                        self.lengths.insert(family_and_length(prefix));
                        dirty.insert(prefix);
                    }
                    verdicts
                }
                None => Vec::new(),
            };
            replace_explanations(&mut self.plan.explanations, key, verdicts, &mut delta);
        }
        let mut inserted = 0;
        for prefix in &dirty {
            inserted += self.restate(config, node, &node_peers, services, *prefix);
        }
        let routes = self.plan.peers.values().map(BTreeMap::len).sum();
        if self.routes_growth.due(inserted, routes) {
            self.plan.peers.values_mut().for_each(compact);
        }
        self.peer_sets.prune();
        self.prefixes = Prefixes::Some(dirty);
        delta
    }

    /// The prefixes `key` routes, as of its last decision: those around
    /// the addresses it had then ([`addresses_of`], kept in the plan's
    /// explanations) whose routers name it.
    fn routed_by(&self, key: &ServiceKey) -> BTreeSet<IpNet> {
        let mut routed = BTreeSet::new();
        for address in addresses_of(&self.plan.explanations, key) {
            let v6 = address.is_ipv6();
            for &(_, length) in self.lengths.range((v6, 0)..=(v6, u8::MAX)) {
                let Ok(prefix) = IpNet::new(address, length).map(|p| p.trunc()) else {
                    continue;
                };
                if self
                    .routers
                    .get(&prefix)
                    .is_some_and(|routers| routers.binary_search(key).is_ok())
                {
                    routed.insert(prefix);
                }
            }
        }
        routed
    }

    /// Decides every Service afresh.
    fn rebuild(
        &mut self,
        config: &Config,
        node: &NodeState,
        services: &ServiceBook,
    ) -> Delta<Verdict> {
        let before = std::mem::take(&mut self.plan.explanations);
        *self = BgpBook {
            decided_from: Some((config.clone(), node.clone())),
            plan: BgpPlan {
                peers: node_peers(config, node)
                    .into_iter()
                    .map(|p| (p.to_string(), BTreeMap::new()))
                    .collect(),
                explanations: Vec::new(),
            },
            ..BgpBook::default()
        };
        let all = services.keys().cloned().collect();
        let mut delta = self.update(config, node, services, Changed::Some(all));
        // Built by growing: the spare half of the last doubling is not kept.
        self.plan.explanations.shrink_to_fit();
        delta.before = before;
        self.prefixes = Prefixes::All;
        delta
    }

    /// Sets `prefix`'s attributes on every peer from what the Services
    /// routing it state now (in key order, as the whole plan merges them);
    /// says on how many peers it is new.
    fn restate(
        &mut self,
        config: &Config,
        node: &NodeState,
        node_peers: &BTreeSet<&str>,
        services: &ServiceBook,
        prefix: IpNet,
    ) -> usize {
        let mut stated: BTreeMap<&str, Stated> = BTreeMap::new();
        let routers = self
            .routers
            .get(&prefix)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for service in routers.iter().filter_map(|k| services.get(k)) {
            decide_service(config, node, node_peers, service, |r| {
                if r.prefix == prefix {
                    stated.entry(r.peer).or_default().add(r.advertisement);
                }
            });
        }
        if routers.is_empty() {
            self.routers.remove(&prefix);
        }
        let mut new = 0;
        for (peer, routes) in &mut self.plan.peers {
            match stated.get(peer.as_str()) {
                Some(s) => {
                    let attributes = self.attribute_sets.share(s.attributes());
                    if routes.insert(prefix, attributes).is_none() {
                        new += 1;
                    }
                }
                None => {
                    routes.remove(&prefix);
                }
            }
        }
        new
    }
}

/// The family (`true`: IPv6) and length of `prefix`.
fn family_and_length(prefix: IpNet) -> (bool, u8) {
    (matches!(prefix, IpNet::V6(_)), prefix.prefix_len())
}
