//! The one config compiler: every `metallb.io` object (plus the password
//! Secrets) in, one validated, strongly typed [`Config`] out, or every error
//! found, each naming kind, namespace/name, field path and reason.
//!
//! Namespaces: MetalLB reads only the objects of its own namespace, and
//! names are unique per kind there. The compiler takes whatever objects the
//! caller hands it (the controller and speaker hand it their namespace's;
//! `ferrolb validate` all it read) and reports a name used twice for one
//! kind. References (pools, peers, BFD profiles, aliases) resolve by name.
//!
//! Severity: errors make the config unusable, as they make MetalLB's. A few
//! findings MetalLB silently tolerates (an advertisement naming a pool or
//! peer that does not exist, perhaps not yet) are warnings: the config
//! compiles with the reference ignored, as in MetalLB.

mod advertisement;
mod bfd;
mod diagnostic;
mod peer;
mod pool;
mod selectors;
mod unsupported;

use std::collections::{BTreeMap, BTreeSet};

pub use advertisement::{BgpAdvertisement, L2Advertisement, local_prefs_compatible};
pub use bfd::BfdProfile;
pub use diagnostic::{Diagnostic, Kind, ObjectRef, Problem, SecretProblem};
pub use peer::{BgpTimers, Password, Peer, PeerAsn, PeerTarget};
pub use pool::{Pool, ServiceAllocation};
pub use unsupported::Unsupported;

use crate::api;
use crate::community::BgpCommunity;
use diagnostic::Sink;

/// Everything the compiler reads.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// `IPAddressPool`s.
    pub pools: Vec<api::IPAddressPool>,
    /// `L2Advertisement`s.
    pub l2_advertisements: Vec<api::L2Advertisement>,
    /// `BGPAdvertisement`s.
    pub bgp_advertisements: Vec<api::BGPAdvertisement>,
    /// v1beta1 peers are converted on input (see `From` in `api::bgppeer`).
    pub peers: Vec<api::BGPPeer>,
    /// `BFDProfile`s.
    pub bfd_profiles: Vec<api::BFDProfile>,
    /// `Community` objects.
    pub communities: Vec<api::Community>,
    /// Secrets of FerroLB's namespace, by name, for `passwordSecret`.
    pub secrets: BTreeMap<String, Secret>,
    /// The cluster's nodes, when known (the controller knows them;
    /// `ferrolb validate` only if the files hold `v1` Nodes). With nodes,
    /// two MetalLB checks become exact: pools must not contain node
    /// addresses, and LOCAL_PREF conflicts use the nodes each advertisement
    /// actually selects.
    pub nodes: Option<Vec<Node>>,
}

/// The parts of a `core/v1` Node the compiler needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: crate::selector::Labels,
    /// `status.addresses[].address` that parse as IP addresses.
    pub addresses: Vec<std::net::IpAddr>,
}

impl Resources {
    /// Moves every object of `other` into `self`.
    pub fn extend(&mut self, other: Resources) {
        self.pools.extend(other.pools);
        self.l2_advertisements.extend(other.l2_advertisements);
        self.bgp_advertisements.extend(other.bgp_advertisements);
        self.peers.extend(other.peers);
        self.bfd_profiles.extend(other.bfd_profiles);
        self.communities.extend(other.communities);
        self.secrets.extend(other.secrets);
        if let Some(nodes) = other.nodes {
            self.nodes.get_or_insert_with(Vec::new).extend(nodes);
        }
    }

    /// Every `metallb.io` object held, as diagnostics name it.
    pub fn object_refs(&self) -> Vec<ObjectRef> {
        let mut out = Vec::new();
        refs(Kind::IPAddressPool, &self.pools, &mut out);
        refs(Kind::L2Advertisement, &self.l2_advertisements, &mut out);
        refs(Kind::BGPAdvertisement, &self.bgp_advertisements, &mut out);
        refs(Kind::BGPPeer, &self.peers, &mut out);
        refs(Kind::BFDProfile, &self.bfd_profiles, &mut out);
        refs(Kind::Community, &self.communities, &mut out);
        out
    }

    /// Keeps only the objects of `namespace` (and those with none, which
    /// `kubectl apply` would put there).
    pub fn retain_namespace(&mut self, namespace: &str) {
        fn keep<K: kube::Resource>(list: &mut Vec<K>, namespace: &str) {
            list.retain(|o| {
                o.meta()
                    .namespace
                    .as_deref()
                    .is_none_or(|ns| ns == namespace)
            });
        }
        keep(&mut self.pools, namespace);
        keep(&mut self.l2_advertisements, namespace);
        keep(&mut self.bgp_advertisements, namespace);
        keep(&mut self.peers, namespace);
        keep(&mut self.bfd_profiles, namespace);
        keep(&mut self.communities, namespace);
    }
}

fn object_ref<K: kube::Resource>(kind: Kind, o: &K) -> ObjectRef {
    let meta = o.meta();
    ObjectRef::new(
        kind,
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn refs<K: kube::Resource>(kind: Kind, list: &[K], out: &mut Vec<ObjectRef>) {
    out.extend(list.iter().map(|o| object_ref(kind, o)));
}

/// The parts of a `core/v1` Secret the compiler needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secret {
    /// `type`, e.g. `kubernetes.io/basic-auth`.
    pub type_: String,
    /// Decoded `data` (with `stringData` merged in).
    pub data: BTreeMap<String, Vec<u8>>,
}

/// A validated configuration. Maps are keyed by object name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Address pools.
    pub pools: BTreeMap<String, Pool>,
    /// BGP peers.
    pub peers: BTreeMap<String, Peer>,
    /// BFD profiles.
    pub bfd_profiles: BTreeMap<String, BfdProfile>,
    /// Sorted by namespace, then name.
    pub l2_advertisements: Vec<L2Advertisement>,
    /// Sorted by namespace, then name.
    pub bgp_advertisements: Vec<BgpAdvertisement>,
}

impl Config {
    /// The L2 advertisements that announce `pool`.
    pub fn l2_advertisements_for<'a>(
        &'a self,
        pool: &'a str,
    ) -> impl Iterator<Item = &'a L2Advertisement> {
        self.l2_advertisements
            .iter()
            .filter(move |a| a.pools.contains(pool))
    }

    /// The BGP advertisements that announce `pool`.
    pub fn bgp_advertisements_for<'a>(
        &'a self,
        pool: &'a str,
    ) -> impl Iterator<Item = &'a BgpAdvertisement> {
        self.bgp_advertisements
            .iter()
            .filter(move |a| a.pools.contains(pool))
    }
}

/// A compiled config and the warnings found on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The configuration.
    pub config: Config,
    /// Findings that did not stop compilation.
    pub warnings: Vec<Diagnostic>,
}

/// Why a config did not compile: every error, then every warning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} error(s) in the configuration", errors.len())]
pub struct CompileError {
    /// Why the configuration was rejected.
    pub errors: Vec<Diagnostic>,
    /// Findings that alone would not have rejected it.
    pub warnings: Vec<Diagnostic>,
}

/// Compiles `input`. Pure: the same objects always give the same result,
/// whatever their order.
pub fn compile(input: &Resources) -> Result<Compiled, CompileError> {
    let mut sink = Sink::default();

    let pools_in = sorted(Kind::IPAddressPool, &input.pools, &mut sink);
    let l2_in = sorted(Kind::L2Advertisement, &input.l2_advertisements, &mut sink);
    let bgp_in = sorted(Kind::BGPAdvertisement, &input.bgp_advertisements, &mut sink);
    let peers_in = sorted(Kind::BGPPeer, &input.peers, &mut sink);
    let bfd_in = sorted(Kind::BFDProfile, &input.bfd_profiles, &mut sink);
    let communities_in = sorted(Kind::Community, &input.communities, &mut sink);

    let bfd_profiles: BTreeMap<String, BfdProfile> = bfd_in
        .iter()
        .map(|(obj, cr)| (obj.name.clone(), bfd::compile(&mut sink, obj, cr)))
        .collect();
    let aliases = community_aliases(&mut sink, &communities_in);

    let compiled_pools: Vec<_> = pools_in
        .iter()
        .map(|(obj, cr)| (obj.clone(), *cr, pool::compile(&mut sink, obj, cr)))
        .collect();
    pool::check_overlaps(&mut sink, &compiled_pools);
    if let Some(nodes) = &input.nodes {
        pool::check_node_addresses(&mut sink, &compiled_pools, nodes);
    }
    let pools: BTreeMap<String, Pool> = compiled_pools
        .into_iter()
        .map(|(_, _, p)| (p.name.clone(), p))
        .collect();

    let compiled_peers: Vec<(ObjectRef, Peer)> = peers_in
        .iter()
        .map(|(obj, cr)| {
            let p = peer::compile(&mut sink, obj, cr, &input.secrets);
            (obj.clone(), p)
        })
        .collect();
    check_duplicate_peers(&mut sink, &compiled_peers);
    let peers: BTreeMap<String, Peer> = compiled_peers
        .into_iter()
        .map(|(_, p)| (p.name.clone(), p))
        .collect();

    let l2_advertisements = l2_in
        .iter()
        .map(|(obj, cr)| advertisement::compile_l2(&mut sink, obj, cr, &pools))
        .collect();
    let peer_names: BTreeSet<String> = peers.keys().cloned().collect();
    let ctx = advertisement::BgpContext {
        pools: &pools,
        aliases: &aliases,
        peers: &peer_names,
    };
    let bgp: Vec<(ObjectRef, BgpAdvertisement)> = bgp_in
        .iter()
        .map(|(obj, cr)| {
            (
                obj.clone(),
                advertisement::compile_bgp(&mut sink, obj, cr, &ctx),
            )
        })
        .collect();
    advertisement::check_local_prefs(&mut sink, &bgp, &pools, input.nodes.as_deref());
    let config = Config {
        pools,
        peers,
        bfd_profiles,
        l2_advertisements,
        bgp_advertisements: bgp.into_iter().map(|(_, a)| a).collect(),
    };
    check_bfd_references(&mut sink, &config);
    check_bfd_echo(&mut sink, &config);
    warn_unannounced_pools(&mut sink, &config);

    if sink.errors.is_empty() {
        Ok(Compiled {
            config,
            warnings: sink.warnings,
        })
    } else {
        Err(CompileError {
            errors: sink.errors,
            warnings: sink.warnings,
        })
    }
}

/// Sorts objects by namespace and name, and reports names used twice.
fn sorted<'a, K>(kind: Kind, objects: &'a [K], sink: &mut Sink) -> Vec<(ObjectRef, &'a K)>
where
    K: kube::Resource,
{
    let mut out: Vec<(ObjectRef, &K)> = objects.iter().map(|o| (object_ref(kind, o), o)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    let mut first_by_name: BTreeMap<String, ObjectRef> = BTreeMap::new();
    for (obj, _) in &out {
        if obj.name.is_empty() {
            sink.error(obj, "metadata.name", Problem::Missing);
        } else if let Some(first) = first_by_name.get(&obj.name) {
            sink.error(
                obj,
                "metadata.name",
                Problem::DuplicateName {
                    first: first.clone(),
                },
            );
        } else {
            first_by_name.insert(obj.name.clone(), obj.clone());
        }
    }
    out
}

fn community_aliases(
    sink: &mut Sink,
    communities: &[(ObjectRef, &api::Community)],
) -> BTreeMap<String, BgpCommunity> {
    let mut aliases = BTreeMap::new();
    let mut defined_by: BTreeMap<String, ObjectRef> = BTreeMap::new();
    for (obj, cr) in communities {
        for (i, alias) in cr.spec.communities.iter().enumerate() {
            let field = format!("spec.communities[{i}]");
            if let Some(first) = defined_by.get(&alias.name) {
                sink.error(
                    obj,
                    format!("{field}.name"),
                    Problem::DuplicateAlias {
                        alias: alias.name.clone(),
                        first: first.clone(),
                    },
                );
                continue;
            }
            defined_by.insert(alias.name.clone(), (*obj).clone());
            match alias.value.parse::<BgpCommunity>() {
                Ok(c) => {
                    aliases.insert(alias.name.clone(), c);
                }
                Err(source) => sink.error(
                    obj,
                    format!("{field}.value"),
                    Problem::Community {
                        value: alias.value.clone(),
                        source,
                    },
                ),
            }
        }
    }
    aliases
}

/// One node cannot hold two sessions to the same address (or unnumbered
/// interface), port and VRF. Reported when both peers apply to the same
/// nodes for sure (same node selectors); MetalLB's FRR mode rejects any
/// such pair.
fn check_duplicate_peers(sink: &mut Sink, peers: &[(ObjectRef, Peer)]) {
    for (i, (obj, p)) in peers.iter().enumerate() {
        let field = match &p.target {
            PeerTarget::Address(_) => "spec.peerAddress",
            PeerTarget::Interface(name) if name.is_empty() => continue,
            PeerTarget::Interface(_) => "spec.interface",
        };
        let clash = peers[..i].iter().find(|(_, q)| {
            q.target == p.target
                && q.port == p.port
                && q.vrf == p.vrf
                && selectors::same_set(&q.node_selectors, &p.node_selectors)
        });
        if let Some((other, _)) = clash {
            sink.error(
                obj,
                field,
                Problem::DuplicatePeer {
                    address: p.target.to_string(),
                    other: other.clone(),
                },
            );
        }
    }
}

/// A pool no advertisement covers hands out addresses nobody announces:
/// MetalLB accepts that silently, a common first-setup mistake.
fn warn_unannounced_pools(sink: &mut Sink, config: &Config) {
    for pool in config.pools.values() {
        let announced = config.l2_advertisements_for(&pool.name).next().is_some()
            || config.bgp_advertisements_for(&pool.name).next().is_some();
        if !announced {
            sink.warn(&pool.object_ref(), "metadata.name", Problem::NotAnnounced);
        }
    }
}

/// A peer's BFD profile must exist: without it the session would run with
/// no BFD at all, which is not what the peer asks for.
fn check_bfd_references(sink: &mut Sink, config: &Config) {
    for peer in config.peers.values() {
        if let Some(profile) = &peer.bfd_profile
            && !config.bfd_profiles.contains_key(profile)
        {
            sink.error(
                &peer.object_ref(),
                "spec.bfdProfile",
                Problem::UnknownReference {
                    kind: Kind::BFDProfile,
                    name: profile.clone(),
                },
            );
        }
    }
}

/// MetalLB's rule: BFD echo mode cannot run on a session that carries an
/// IPv6 pool.
fn check_bfd_echo(sink: &mut Sink, config: &Config) {
    for peer in config.peers.values() {
        let Some(profile) = peer.bfd_profile.as_ref() else {
            continue;
        };
        if !config
            .bfd_profiles
            .get(profile)
            .is_some_and(|p| p.echo_mode)
        {
            continue;
        }
        let v6_pool = config
            .bgp_advertisements
            .iter()
            .filter(|a| a.peers.is_empty() || a.peers.contains(&peer.name))
            .flat_map(|a| a.pools.iter())
            .filter_map(|name| config.pools.get(name))
            .find(|pool| pool.ranges.iter().any(|r| !r.is_ipv4()));
        if let Some(pool) = v6_pool {
            sink.error(
                &peer.object_ref(),
                "spec.bfdProfile",
                Problem::EchoOnIpv6 {
                    profile: profile.clone(),
                    pool: pool.object_ref(),
                },
            );
        }
    }
}
