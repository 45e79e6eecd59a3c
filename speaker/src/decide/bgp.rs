//! BGP mode: the routes this node announces to each of its peers.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use ferrolb_bgp::peer::RouteAttributes;
use ferrolb_bgp::wire::{Community, LargeCommunity};
use ferrolb_crds::community::BgpCommunity;
use ferrolb_crds::config::{BgpAdvertisement, Config, PeerTarget, local_prefs_compatible};
use ipnet::IpNet;

use super::endpoints::{TrafficPolicy, has_usable_endpoint};
use super::input::{NodeState, ServiceState};
use super::verdict::{Explanation, Reason, Verdict};

/// What the advertisements of one route state, merged, before it becomes
/// the BGP stack's [`RouteAttributes`].
#[derive(Default)]
pub(super) struct Stated {
    communities: BTreeSet<BgpCommunity>,
    local_pref: Option<u32>,
}

impl Stated {
    /// Adds what `advertisement` states. Advertisements come in
    /// namespace/name order and the first LOCAL_PREF wins: the compiler
    /// refuses conflicting values for the same nodes, so this only settles
    /// what it cannot see.
    pub(super) fn add(&mut self, advertisement: &BgpAdvertisement) {
        self.communities
            .extend(advertisement.communities.iter().cloned());
        if self.local_pref.is_none() {
            self.local_pref = advertisement.local_pref;
        }
    }

    /// The route's attributes as the BGP stack takes them. LOCAL_PREF is for
    /// iBGP peers only; the session leaves it off eBGP.
    pub(super) fn attributes(&self) -> RouteAttributes {
        let mut standard = Vec::new();
        let mut large = Vec::new();
        for c in &self.communities {
            match c {
                BgpCommunity::Standard(v) => standard.push(Community(*v)),
                BgpCommunity::Large {
                    global_admin,
                    local_data1,
                    local_data2,
                } => large.push(LargeCommunity {
                    global: *global_admin,
                    local1: *local_data1,
                    local2: *local_data2,
                }),
            }
        }
        RouteAttributes::new(standard, large, self.local_pref)
    }
}

/// What this node announces over BGP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BgpPlan {
    /// Every BGPPeer that applies to this node (by name), with the routes to
    /// announce to it. A peer with no routes is still listed: its session
    /// runs, ready for the first service.
    pub peers: BTreeMap<String, BTreeMap<IpNet, RouteAttributes>>,
    /// One entry per address of every Service, in Service order.
    pub explanations: Vec<Explanation>,
}

/// Computes what `node` announces to its peers for `services`.
pub fn bgp_plan<'a>(
    config: &Config,
    node: &NodeState,
    services: impl IntoIterator<Item = &'a ServiceState>,
) -> BgpPlan {
    let node_peers = node_peers(config, node);
    let mut routes: Routes = node_peers
        .iter()
        .map(|p| (p.to_string(), BTreeMap::new()))
        .collect();
    let mut explanations = Vec::new();
    let mut services: Vec<&ServiceState> = services.into_iter().collect();
    services.sort_by(|a, b| a.key.cmp(&b.key));
    for service in services {
        let verdicts = decide_service(config, node, &node_peers, service, |route| {
            if let Some(peer_routes) = routes.get_mut(route.peer) {
                peer_routes
                    .entry(route.prefix)
                    .or_default()
                    .add(route.advertisement);
            }
        });
        explanations.extend(verdicts.into_iter().map(|(address, verdict)| Explanation {
            service: service.key.clone(),
            address,
            verdict,
        }));
    }
    BgpPlan {
        peers: routes
            .into_iter()
            .map(|(peer, routes)| {
                let routes = routes
                    .into_iter()
                    .map(|(prefix, stated)| (prefix, stated.attributes()))
                    .collect();
                (peer, routes)
            })
            .collect(),
        explanations,
    }
}

/// The BGPPeers that apply to `node`, by name.
pub(super) fn node_peers<'c>(config: &'c Config, node: &NodeState) -> BTreeSet<&'c str> {
    config
        .peers
        .values()
        .filter(|p| p.selects_node(&node.labels))
        .map(|p| p.name.as_str())
        .collect()
}

/// One route a Service's address puts in a peer's table, as one
/// advertisement states it.
pub(super) struct Route<'c> {
    pub(super) peer: &'c str,
    pub(super) prefix: IpNet,
    pub(super) advertisement: &'c BgpAdvertisement,
}

/// The verdict for every address of `service` (in its order), each route
/// it announces handed to `route` in the order the advertisements state
/// them: the one decision of a Service, which depends on nothing but the
/// configuration, this node and the Service itself.
pub(super) fn decide_service<'c>(
    config: &'c Config,
    node: &NodeState,
    node_peers: &BTreeSet<&'c str>,
    service: &ServiceState,
    mut route: impl FnMut(Route<'c>),
) -> Vec<(IpAddr, Verdict)> {
    let service_blocked = Reason::node_blocked(node).or_else(|| {
        let usable = has_usable_endpoint(service.traffic_policy, &service.endpoints, &node.name);
        (!usable).then_some(match service.traffic_policy {
            TrafficPolicy::Cluster => Reason::NoReadyEndpoint,
            TrafficPolicy::Local => Reason::NoLocalReadyEndpoint,
        })
    });
    service
        .addresses
        .iter()
        .map(|&address| {
            let verdict = match &service_blocked {
                Some(reason) => Verdict::NotAnnounced(reason.clone()),
                None => announce_address(config, node, node_peers, service, address, &mut route),
            };
            (address, verdict)
        })
        .collect()
}

/// The routes of every peer of this node, as the advertisements state them.
type Routes = BTreeMap<String, BTreeMap<IpNet, Stated>>;

fn announce_address<'c>(
    config: &'c Config,
    node: &NodeState,
    node_peers: &BTreeSet<&'c str>,
    service: &ServiceState,
    address: IpAddr,
    route: &mut impl FnMut(Route<'c>),
) -> Verdict {
    let Some(pool) = pool_of(config, service, address) else {
        return Verdict::NotAnnounced(Reason::NotInAnyPool);
    };
    let advertisements: Vec<&BgpAdvertisement> = config.bgp_advertisements_for(pool).collect();
    if advertisements.is_empty() {
        return Verdict::NotAnnounced(Reason::PoolNotAdvertised {
            pool: pool.to_string(),
        });
    }
    let for_node: Vec<&BgpAdvertisement> = advertisements
        .into_iter()
        .filter(|a| a.selects_node(&node.labels))
        .collect();
    if for_node.is_empty() {
        return Verdict::NotAnnounced(Reason::NodeNotSelected {
            pool: pool.to_string(),
            bgp: true,
        });
    }
    let for_node: Vec<&BgpAdvertisement> = for_node
        .into_iter()
        .filter(|a| a.selects_service(&service.labels))
        .collect();
    if for_node.is_empty() {
        return Verdict::NotAnnounced(Reason::ServiceNotSelected {
            pool: pool.to_string(),
            bgp: true,
        });
    }
    if let Some(reason) = conflicting_local_prefs(config, pool, &for_node) {
        return Verdict::NotAnnounced(reason);
    }
    let mut announced_to = BTreeSet::new();
    let mut any_peer = false;
    for advertisement in for_node {
        let prefix = aggregate(address, advertisement);
        let selected: Vec<&'c str> = node_peers
            .iter()
            .filter(|p| advertisement.selects_peer(p))
            .copied()
            .collect();
        any_peer |= !selected.is_empty();
        let peers = selected
            .into_iter()
            .filter(|p| carries_family(config, p, address));
        for peer in peers {
            route(Route {
                peer,
                prefix,
                advertisement,
            });
            announced_to.insert(peer.to_string());
        }
    }
    if announced_to.is_empty() {
        let pool = pool.to_string();
        Verdict::NotAnnounced(if any_peer {
            Reason::NoPeerOfFamily {
                pool,
                ipv6: address.is_ipv6(),
            }
        } else {
            Reason::NoPeer { pool }
        })
    } else {
        Verdict::Announced {
            peers: Arc::new(announced_to),
        }
    }
}

/// Two advertisements that select one Service with different LOCAL_PREFs
/// for the same routes: the compiler cannot see it when service selectors
/// decide, so MetalLB's speaker refuses the Service, and so does this.
fn conflicting_local_prefs(
    config: &Config,
    pool: &str,
    advertisements: &[&BgpAdvertisement],
) -> Option<Reason> {
    let pool = config.pools.get(pool)?;
    advertisements.iter().enumerate().find_map(|(i, a)| {
        advertisements[..i]
            .iter()
            .find(|b| !local_prefs_compatible(a, b, pool))
            .map(|b| Reason::ConflictingLocalPref {
                first: b.name.clone(),
                second: a.name.clone(),
            })
    })
}

/// MetalLB announces a prefix to a peer over the peer's own address family
/// only, unless `dualStackAddressFamily` asks for both; an unnumbered peer
/// (link-local, over an interface) carries both.
fn carries_family(config: &Config, peer: &str, address: IpAddr) -> bool {
    let Some(peer) = config.peers.get(peer) else {
        return false;
    };
    match &peer.target {
        PeerTarget::Address(a) => {
            peer.dual_stack_address_family || a.is_ipv4() == address.is_ipv4()
        }
        PeerTarget::Interface(_) => true,
    }
}

/// The pool an address belongs to: the controller's annotation when it names
/// a pool that still holds the address, else whichever pool contains it.
pub(super) fn pool_of<'c>(
    config: &'c Config,
    service: &ServiceState,
    address: IpAddr,
) -> Option<&'c str> {
    let named = service
        .pool
        .as_deref()
        .and_then(|name| config.pools.get(name))
        .filter(|pool| pool.contains(address));
    named
        .or_else(|| config.pools.values().find(|pool| pool.contains(address)))
        .map(|pool| pool.name.as_str())
}

/// The prefix announced for `address`: the address itself, or the block of
/// the advertisement's aggregation length that contains it.
fn aggregate(address: IpAddr, advertisement: &BgpAdvertisement) -> IpNet {
    let length = match address {
        IpAddr::V4(_) => advertisement.aggregation_length_v4.min(32),
        IpAddr::V6(_) => advertisement.aggregation_length_v6.min(128),
    };
    // The length is clamped to the family's width just above.
    IpNet::new(address, length)
        .unwrap_or_else(|_| IpNet::from(address))
        .trunc()
}
