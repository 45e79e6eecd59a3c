//! The incremental decision equals the whole one: after any sequence of
//! changes (Services created, changed and deleted, with shared and
//! aggregated addresses; this node's labels; the live members; the fence;
//! the configuration), the books' plans are the plans `bgp_plan` and
//! `l2_plan` compute from the same inputs, and what they say changed is
//! what comparing two whole plans says (the notices a pass turns into
//! Events, the routes a session is handed).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::LazyLock;

use ferrolb_crds::config::Config;
use ferrolb_speaker::decide::{
    BgpBook, Changed, ClusterView, EXCLUDE_LABEL, Endpoint, Explanation, FenceState,
    InterfaceRules, L2Book, L2Verdict, Link, LocalNode, Names, NodeState, Prefixes, ServiceBook,
    ServiceKey, ServiceState, TrafficPolicy, Verdict, bgp_plan, l2_plan,
};
use ferrolb_speaker::report::notices;
use proptest::prelude::*;

/// Both modes over [`common::PROPERTY_POOLS`] ([`common::PROPERTY_BGP`]
/// and [`common::PROPERTY_L2`]: aggregated BGP routes, many Services behind
/// one prefix; selectors on nodes), and more: communities and a LOCAL_PREF
/// merged from two advertisements, selectors on Services.
const MORE: &str = r#"
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: web-tier, namespace: metallb-system}
spec: {ipAddressPools: [web], communities: ["64512:2"], localPref: 200, serviceSelectors: [{matchLabels: {tier: front}}]}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: quiet, namespace: metallb-system}
spec: {ipAddressPools: [quiet], serviceSelectors: [{matchLabels: {tier: front}}]}
"#;

/// Fewer advertisements: a configuration change moves many verdicts.
const SMALL: &str = r#"
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor-a, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64512, peerAddress: 10.0.0.1}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: web, namespace: metallb-system}
spec: {ipAddressPools: [web, edge]}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: web, namespace: metallb-system}
spec: {ipAddressPools: [web, quiet]}
"#;

fn configs() -> &'static [Config; 2] {
    static CONFIGS: LazyLock<[Config; 2]> = LazyLock::new(|| {
        let pools = common::PROPERTY_POOLS;
        let full = format!(
            "{pools}---{}---{}---{MORE}",
            common::PROPERTY_BGP,
            common::PROPERTY_L2
        );
        [full, format!("{pools}---{SMALL}")].map(|c| common::compile_yaml(&c))
    });
    &CONFIGS
}

const NODES: [&str; 4] = ["n1", "n2", "n3", "n4"];
/// Services are drawn from this many keys: steps create, change and
/// delete the same ones.
const KEYS: usize = 10;

fn node_state(name: &str, rack_b: bool, edge: bool, blocked: u8) -> NodeState {
    let mut n = NodeState::new(name);
    n.labels
        .insert("rack".into(), if rack_b { "b" } else { "a" }.into());
    if edge {
        n.labels.insert("edge".into(), "true".into());
    }
    match blocked {
        0 => {
            n.labels.insert(EXCLUDE_LABEL.into(), String::new());
        }
        1 => n.network_unavailable = true,
        _ => {}
    }
    n
}

/// Few addresses, so that Services share them and their /28s.
fn address() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        4 => (0u8..12).prop_map(|o| IpAddr::from([198, 51, 100, o * 6])),
        1 => (0u8..3).prop_map(|o| IpAddr::from([0x2001, 0xdb8, 1, 0, 0, 0, 0, u16::from(o)])),
    ]
}

fn service(i: usize) -> impl Strategy<Value = ServiceState> {
    (
        proptest::collection::vec(address(), 1..3),
        any::<bool>(),
        proptest::collection::vec(
            (
                proptest::option::of(0..NODES.len()),
                proptest::option::of(any::<bool>()),
            ),
            0..3,
        ),
        any::<bool>(),
        any::<bool>(),
        0u8..4,
    )
        .prop_map(
            move |(addresses, local, endpoints, front, shares_ip, pool)| ServiceState {
                key: ServiceKey::new(
                    if i.is_multiple_of(2) { "a" } else { "b" },
                    format!("svc{i}"),
                ),
                addresses: addresses.into(),
                pool: match pool {
                    0 => Some("web".into()),
                    1 => Some("edge".into()),
                    _ => None,
                },
                traffic_policy: if local {
                    TrafficPolicy::Local
                } else {
                    TrafficPolicy::Cluster
                },
                endpoints: endpoints
                    .into_iter()
                    .map(|(node, ready)| Endpoint {
                        node: node.map(|n| NODES[n].into()),
                        ready,
                        serving: None,
                        terminating: None,
                    })
                    .collect(),
                labels: if front {
                    std::sync::Arc::new([("tier".to_string(), "front".to_string())].into())
                } else {
                    std::sync::Arc::new(BTreeMap::new())
                },
                shares_ip,
            },
        )
}

/// One change between passes.
#[derive(Debug, Clone)]
enum Step {
    /// A Service created or replaced.
    Upsert(ServiceState),
    /// A Service deleted (or never there).
    Delete(usize),
    /// The same Services again: nothing changed.
    Again,
    /// This node's labels or conditions.
    Node(NodeState),
    /// The live members.
    Members(Vec<NodeState>),
    Fence(bool),
    Config(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0..KEYS).prop_flat_map(service).prop_map(Step::Upsert),
        3 => (0..KEYS).prop_map(Step::Delete),
        1 => Just(Step::Again),
        1 => (any::<bool>(), any::<bool>(), 0u8..6)
            .prop_map(|(b, e, x)| Step::Node(node_state("n1", b, e, x))),
        1 => proptest::collection::vec((any::<bool>(), any::<bool>(), 0u8..6), NODES.len())
            .prop_map(|specs| Step::Members(
                NODES
                    .iter()
                    .zip(specs)
                    .filter(|(_, (alive, _, x))| *alive || *x == 5)
                    .map(|(n, (_, edge, x))| node_state(n, false, edge, x))
                    .collect(),
            )),
        1 => any::<bool>().prop_map(Step::Fence),
        1 => (0usize..2).prop_map(Step::Config),
    ]
}

/// The inputs as a shell would gather them.
struct World {
    services: BTreeMap<usize, ServiceState>,
    node: NodeState,
    members: ClusterView,
    local: LocalNode,
    config: usize,
}

impl World {
    fn new() -> World {
        World {
            services: BTreeMap::new(),
            node: node_state("n1", true, true, 5),
            members: ClusterView::new(NODES.iter().map(|n| node_state(n, false, true, 5))),
            local: LocalNode {
                name: "n1".into(),
                links: vec![Link::ethernet("eth0")],
                interface_rules: InterfaceRules::standard(),
                fence: FenceState::MayAnnounce,
            },
            config: 0,
        }
    }

    fn apply(&mut self, step: Step) {
        match step {
            Step::Upsert(s) => {
                let i = s.key.name()[3..].parse().expect("svcN");
                self.services.insert(i, s);
            }
            Step::Delete(i) => {
                self.services.remove(&i);
            }
            Step::Again => {}
            Step::Node(n) => self.node = n,
            Step::Members(m) => self.members = ClusterView::new(m),
            Step::Fence(open) => {
                self.local.fence = if open {
                    FenceState::MayAnnounce
                } else {
                    FenceState::Fenced {
                        since: std::time::Instant::now(),
                    }
                }
            }
            Step::Config(c) => self.config = c,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn incremental_plans_equal_whole_plans(steps in proptest::collection::vec(step(), 1..24)) {
        let mut world = World::new();
        let mut book = ServiceBook::default();
        let (mut bgp, mut l2) = (BgpBook::default(), L2Book::default());
        let mut last_bgp: Vec<Explanation> = Vec::new();
        let mut tables = BTreeMap::new();
        let mut last_l2: Vec<Explanation<L2Verdict>> = Vec::new();
        for step in steps {
            world.apply(step);
            let config = &configs()[world.config];
            let changed = book.replace(world.services.values().cloned().collect());

            let bgp_delta = bgp.update(config, &world.node, &book, Changed::Some(changed.clone()));
            let whole = bgp_plan(config, &world.node, world.services.values());
            prop_assert_eq!(bgp.plan(), &whole);
            // Equal peer sets are one shared copy, however many verdicts
            // name them.
            let mut shared: BTreeMap<&BTreeSet<String>, &Names> = BTreeMap::new();
            for e in &bgp.plan().explanations {
                if let Verdict::Announced { peers } = &e.verdict {
                    let first = *shared.entry(&**peers).or_insert(peers);
                    prop_assert!(std::sync::Arc::ptr_eq(first, peers), "{:?} copied", peers);
                }
            }
            // What a session is handed: the routes that changed, onto the
            // table it has.
            match bgp.changed_prefixes() {
                Prefixes::All => tables = whole.peers.clone(),
                Prefixes::Some(prefixes) => {
                    for (peer, table) in &mut tables {
                        for prefix in prefixes {
                            match whole.peers[peer].get(prefix) {
                                Some(attrs) => table.insert(*prefix, attrs.clone()),
                                None => table.remove(prefix),
                            };
                        }
                    }
                }
            }
            prop_assert_eq!(&tables, &whole.peers);
            prop_assert_eq!(
                notices(&bgp_delta.before, &bgp_delta.after),
                notices(&last_bgp, &whole.explanations)
            );
            last_bgp = whole.explanations;

            let l2_delta = l2.update(config, &world.local, &world.members, &book, Changed::Some(changed));
            let whole = l2_plan(config, &world.local, &world.members, world.services.values());
            prop_assert_eq!(l2.plan(), &whole);
            // Every verdict that moved was decided again.
            let previous: BTreeMap<_, _> = last_l2
                .iter()
                .map(|e| ((&e.service, e.address), &e.verdict))
                .collect();
            for e in &whole.explanations {
                if previous.get(&(&e.service, e.address)) != Some(&&e.verdict) {
                    prop_assert!(l2_delta.after.contains(e), "{e:?} moved unseen");
                }
            }
            last_l2 = whole.explanations;
        }
    }
}
