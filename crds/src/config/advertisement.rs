//! `L2Advertisement` / `BGPAdvertisement` -> [`L2Advertisement`] /
//! [`BgpAdvertisement`], with pool references resolved to names.

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostic::{Kind, ObjectRef, Problem, Sink};
use super::pool::Pool;
use super::selectors;
use crate::api;
use crate::community::{BgpCommunity, CommunityError};
use crate::selector::LabelSelector;

/// A validated layer-2 advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2Advertisement {
    /// `metadata.name`.
    pub name: String,
    /// Names of the pools announced (named, selected, or all when neither).
    pub pools: BTreeSet<String>,
    /// Nodes that may announce (any one matching); empty means every node.
    pub node_selectors: Vec<LabelSelector>,
    /// Interfaces to announce on; empty means all.
    pub interfaces: Vec<String>,
    /// Services announced (any one matching); empty means every Service.
    pub service_selectors: Vec<LabelSelector>,
    /// Weighted soft preferences among the nodes that may announce.
    pub preferred_nodes: Vec<(u32, LabelSelector)>,
}

/// A validated BGP advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpAdvertisement {
    /// `metadata.name`.
    pub name: String,
    /// Names of the pools announced (named, selected, or all when neither).
    pub pools: BTreeSet<String>,
    /// IPv4 prefix length service addresses are rolled up to (0..=32).
    pub aggregation_length_v4: u8,
    /// IPv6 prefix length service addresses are rolled up to (0..=128).
    pub aggregation_length_v6: u8,
    /// LOCAL_PREF for iBGP peers; `None` when unset (MetalLB's 0).
    pub local_pref: Option<u32>,
    /// COMMUNITIES / LARGE_COMMUNITIES, aliases resolved.
    pub communities: BTreeSet<BgpCommunity>,
    /// Nodes that announce (any one matching); empty means every node.
    pub node_selectors: Vec<LabelSelector>,
    /// `BGPPeer` names to announce to; empty means every peer.
    pub peers: BTreeSet<String>,
    /// Services announced (any one matching); empty means every Service.
    pub service_selectors: Vec<LabelSelector>,
}

impl L2Advertisement {
    /// Whether a node with these labels may announce.
    pub fn selects_node(&self, node_labels: &crate::selector::Labels) -> bool {
        crate::selector::matches_any(&self.node_selectors, node_labels)
    }

    /// Whether the advertisement may use this interface.
    pub fn allows_interface(&self, interface: &str) -> bool {
        self.interfaces.is_empty() || self.interfaces.iter().any(|i| i == interface)
    }

    /// Whether a Service with these labels is announced by it.
    pub fn selects_service(&self, service_labels: &crate::selector::Labels) -> bool {
        selects_service(&self.service_selectors, service_labels)
    }

    /// A node's preference score: the weights of the preferences that
    /// match it, 0 for a node the advertisement does not allow (MetalLB
    /// scores eligible nodes only).
    pub fn preference(&self, node_labels: &crate::selector::Labels) -> u64 {
        if !self.selects_node(node_labels) {
            return 0;
        }
        self.preferred_nodes
            .iter()
            .filter(|(_, s)| s.matches(node_labels))
            .map(|(w, _)| u64::from(*w))
            .sum()
    }
}

/// No selector selects every Service; else any one matching does.
fn selects_service(selectors: &[LabelSelector], labels: &crate::selector::Labels) -> bool {
    selectors.is_empty() || selectors.iter().any(|s| s.matches(labels))
}

impl BgpAdvertisement {
    /// Whether a node with these labels announces.
    pub fn selects_node(&self, node_labels: &crate::selector::Labels) -> bool {
        crate::selector::matches_any(&self.node_selectors, node_labels)
    }

    /// Whether the advertisement goes to the peer of this name.
    pub fn selects_peer(&self, peer: &str) -> bool {
        self.peers.is_empty() || self.peers.contains(peer)
    }

    /// Whether a Service with these labels is announced by it.
    pub fn selects_service(&self, service_labels: &crate::selector::Labels) -> bool {
        selects_service(&self.service_selectors, service_labels)
    }
}

/// What both advertisement kinds say about pools.
struct PoolChoice<'a> {
    names: &'a [String],
    selectors: &'a [LabelSelector],
}

/// Resolves named and selected pools; neither means every pool, as in
/// MetalLB. Unknown names are warnings: MetalLB ignores them, as the pool
/// may simply not be created yet.
fn resolve_pools(
    sink: &mut Sink,
    obj: &ObjectRef,
    choice: &PoolChoice<'_>,
    pools: &BTreeMap<String, Pool>,
) -> BTreeSet<String> {
    sink.duplicates(obj, "spec.ipAddressPools", choice.names);
    let selectors = selectors::check(sink, obj, "spec.ipAddressPoolSelectors", choice.selectors);
    if choice.names.is_empty() && selectors.is_empty() {
        return pools.keys().cloned().collect();
    }
    let mut out = BTreeSet::new();
    for (i, name) in choice.names.iter().enumerate() {
        if pools.contains_key(name) {
            out.insert(name.clone());
        } else {
            sink.warn(
                obj,
                format!("spec.ipAddressPools[{i}]"),
                Problem::UnknownReference {
                    kind: Kind::IPAddressPool,
                    name: name.clone(),
                },
            );
        }
    }
    for pool in pools.values() {
        if selectors.iter().any(|s| s.matches(&pool.labels)) {
            out.insert(pool.name.clone());
        }
    }
    out
}

pub(crate) fn compile_l2(
    sink: &mut Sink,
    obj: &ObjectRef,
    cr: &api::L2Advertisement,
    pools: &BTreeMap<String, Pool>,
) -> L2Advertisement {
    let s = &cr.spec;
    let choice = PoolChoice {
        names: &s.ip_address_pools,
        selectors: &s.ip_address_pool_selectors,
    };
    sink.duplicates(obj, "spec.interfaces", &s.interfaces);
    L2Advertisement {
        name: obj.name.clone(),
        pools: resolve_pools(sink, obj, &choice, pools),
        node_selectors: selectors::check(sink, obj, "spec.nodeSelectors", &s.node_selectors),
        interfaces: s.interfaces.clone(),
        service_selectors: selectors::check(
            sink,
            obj,
            "spec.serviceSelectors",
            &s.service_selectors,
        ),
        preferred_nodes: preferred_nodes(sink, obj, &s.preferred_node_selectors),
    }
}

fn preferred_nodes(
    sink: &mut Sink,
    obj: &ObjectRef,
    preferred: &[api::PreferredNodeSelector],
) -> Vec<(u32, LabelSelector)> {
    let mut out = Vec::new();
    for (i, p) in preferred.iter().enumerate() {
        let field = format!("spec.preferredNodeSelectors[{i}]");
        let weight = length(sink, obj, &format!("{field}.weight"), p.weight, 1..=100);
        let selector = selectors::check(
            sink,
            obj,
            &format!("{field}.preference"),
            std::slice::from_ref(&p.preference),
        );
        out.extend(selector.into_iter().map(|s| (u32::from(weight), s)));
    }
    out
}

/// What a BGP advertisement needs to know besides pools.
pub(crate) struct BgpContext<'a> {
    pub pools: &'a BTreeMap<String, Pool>,
    pub aliases: &'a BTreeMap<String, BgpCommunity>,
    pub peers: &'a BTreeSet<String>,
}

pub(crate) fn compile_bgp(
    sink: &mut Sink,
    obj: &ObjectRef,
    cr: &api::BGPAdvertisement,
    ctx: &BgpContext<'_>,
) -> BgpAdvertisement {
    let s = &cr.spec;
    let choice = PoolChoice {
        names: &s.ip_address_pools,
        selectors: &s.ip_address_pool_selectors,
    };
    let pools = resolve_pools(sink, obj, &choice, ctx.pools);
    // The CRD's minimum of 1 for IPv4 (MetalLB's) is enforced here too, so
    // `ferrolb validate` predicts what the API server accepts.
    let aggregation_length_v4 = length(
        sink,
        obj,
        "spec.aggregationLength",
        s.aggregation_length,
        1..=32,
    );
    let aggregation_length_v6 = length(
        sink,
        obj,
        "spec.aggregationLengthV6",
        s.aggregation_length_v6,
        0..=128,
    );
    for name in &pools {
        if let Some(pool) = ctx.pools.get(name) {
            check_aggregation(
                sink,
                obj,
                pool,
                aggregation_length_v4,
                aggregation_length_v6,
            );
        }
    }
    if !s.service_selectors.is_empty() {
        // MetalLB's rule (its CRD validation and its config parser): an
        // aggregated route stands for many Services, so it cannot be
        // chosen per Service.
        if aggregation_length_v4 != 32 {
            sink.error(
                obj,
                "spec.aggregationLength",
                Problem::ServiceSelectorsWithAggregation {
                    length: aggregation_length_v4,
                    default: 32,
                },
            );
        }
        if aggregation_length_v6 != 128 {
            sink.error(
                obj,
                "spec.aggregationLengthV6",
                Problem::ServiceSelectorsWithAggregation {
                    length: aggregation_length_v6,
                    default: 128,
                },
            );
        }
    }
    sink.duplicates(obj, "spec.communities", &s.communities);
    let mut communities = BTreeSet::new();
    for (i, text) in s.communities.iter().enumerate() {
        match community(text, ctx.aliases) {
            Ok(c) => {
                communities.insert(c);
            }
            Err(problem) => sink.error(obj, format!("spec.communities[{i}]"), problem),
        }
    }
    sink.duplicates(obj, "spec.peers", &s.peers);
    for (i, peer) in s.peers.iter().enumerate() {
        if !ctx.peers.contains(peer) {
            sink.warn(
                obj,
                format!("spec.peers[{i}]"),
                Problem::UnknownReference {
                    kind: Kind::BGPPeer,
                    name: peer.clone(),
                },
            );
        }
    }
    BgpAdvertisement {
        name: obj.name.clone(),
        pools,
        aggregation_length_v4,
        aggregation_length_v6,
        local_pref: (s.local_pref != 0).then_some(s.local_pref),
        communities,
        node_selectors: selectors::check(sink, obj, "spec.nodeSelectors", &s.node_selectors),
        peers: s.peers.iter().cloned().collect(),
        service_selectors: selectors::check(
            sink,
            obj,
            "spec.serviceSelectors",
            &s.service_selectors,
        ),
    }
}

fn length(
    sink: &mut Sink,
    obj: &ObjectRef,
    field: &str,
    value: i32,
    allowed: std::ops::RangeInclusive<u8>,
) -> u8 {
    match u8::try_from(value) {
        Ok(v) if allowed.contains(&v) => v,
        _ => {
            sink.error(
                obj,
                field,
                Problem::OutOfRange {
                    value: i64::from(value),
                    min: i64::from(*allowed.start()),
                    max: i64::from(*allowed.end()),
                },
            );
            *allowed.end()
        }
    }
}

/// MetalLB's rule: rolling a service address up to a prefix shorter than
/// the pool's own blocks would announce addresses the pool does not own.
fn check_aggregation(sink: &mut Sink, obj: &ObjectRef, pool: &Pool, v4: u8, v6: u8) {
    for range in &pool.ranges {
        let (length, field) = if range.is_ipv4() {
            (v4, "spec.aggregationLength")
        } else {
            (v6, "spec.aggregationLengthV6")
        };
        let prefix = range.shortest_prefix_len();
        if length < prefix {
            sink.error(
                obj,
                field,
                Problem::AggregationTooShort {
                    length,
                    prefix,
                    range: range.to_string(),
                    pool: pool.object_ref(),
                },
            );
        }
    }
}

/// An alias first (so MetalLB aliases keep their meaning), then a literal.
fn community(
    text: &str,
    aliases: &BTreeMap<String, BgpCommunity>,
) -> Result<BgpCommunity, Problem> {
    if let Some(c) = aliases.get(text) {
        return Ok(*c);
    }
    text.parse().map_err(|source| match source {
        CommunityError::Format => Problem::UnknownCommunity {
            value: text.to_string(),
        },
        source => Problem::Community {
            value: text.to_string(),
            source,
        },
    })
}

/// Two advertisements of one pool with different LOCAL_PREFs would send one
/// prefix with two LOCAL_PREFs. MetalLB allows it when the aggregation
/// lengths differ for every family the pool has, the peer lists are
/// disjoint, or the node sets are disjoint. With the node list the node
/// sets are exact (MetalLB's check); without it, only advertisements whose
/// node selectors are the same (hence select the same nodes) are reported.
///
/// Advertisements with service selectors are left out, as MetalLB leaves
/// them out: which Services they share is known only when Services exist,
/// so the decision refuses a Service two of them give different
/// LOCAL_PREFs (see [`local_prefs_compatible`]).
pub(crate) fn check_local_prefs(
    sink: &mut Sink,
    advs: &[(ObjectRef, BgpAdvertisement)],
    pools: &BTreeMap<String, Pool>,
    nodes: Option<&[super::Node]>,
) {
    let plain = |a: &&(ObjectRef, BgpAdvertisement)| a.1.service_selectors.is_empty();
    let advs: Vec<&(ObjectRef, BgpAdvertisement)> = advs.iter().filter(plain).collect();
    for (i, (obj, adv)) in advs.iter().map(|a| (&a.0, &a.1)).enumerate() {
        for (other_obj, other) in advs[..i].iter().map(|a| (&a.0, &a.1)) {
            let conflict = adv
                .pools
                .intersection(&other.pools)
                .filter_map(|p| pools.get(p))
                .find(|pool| !compatible(adv, other, pool, nodes));
            if let Some(pool) = conflict {
                sink.error(
                    obj,
                    "spec.localPref",
                    Problem::LocalPrefConflict {
                        local_pref: adv.local_pref.unwrap_or(0),
                        other_pref: other.local_pref.unwrap_or(0),
                        other: other_obj.clone(),
                        pool: pool.object_ref(),
                    },
                );
            }
        }
    }
}

/// Whether two advertisements that both announce one Service of `pool`
/// from one node may do so (MetalLB's rule, which its speaker applies per
/// Service): same LOCAL_PREF, or a difference that keeps their routes
/// apart.
pub fn local_prefs_compatible(a: &BgpAdvertisement, b: &BgpAdvertisement, pool: &Pool) -> bool {
    a.local_pref == b.local_pref || routes_apart(a, b, pool)
}

fn compatible(
    a: &BgpAdvertisement,
    b: &BgpAdvertisement,
    pool: &Pool,
    nodes: Option<&[super::Node]>,
) -> bool {
    let same_nodes = match nodes {
        Some(nodes) => nodes.iter().any(|n| {
            crate::selector::matches_any(&a.node_selectors, &n.labels)
                && crate::selector::matches_any(&b.node_selectors, &n.labels)
        }),
        None => selectors::same_set(&a.node_selectors, &b.node_selectors),
    };
    local_prefs_compatible(a, b, pool) || !same_nodes
}

/// Different prefixes for every family the pool has, or disjoint peers.
fn routes_apart(a: &BgpAdvertisement, b: &BgpAdvertisement, pool: &Pool) -> bool {
    let has_v4 = pool.ranges.iter().any(|r| r.is_ipv4());
    let has_v6 = pool.ranges.iter().any(|r| !r.is_ipv4());
    let v4_differs = a.aggregation_length_v4 != b.aggregation_length_v4;
    let v6_differs = a.aggregation_length_v6 != b.aggregation_length_v6;
    let aggregation_differs = (!has_v4 || v4_differs) && (!has_v6 || v6_differs);
    let peers_disjoint =
        !a.peers.is_empty() && !b.peers.is_empty() && a.peers.is_disjoint(&b.peers);
    aggregation_differs || peers_disjoint
}
