//! Properties of the layer-2 decision over random clusters, services and
//! endpoints: one owner per address, agreed by every node, moved as little
//! as possible, spread evenly.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::Instant;

use ferrolb_crds::config::Config;
use ferrolb_speaker::decide::fence::has_quorum;
use ferrolb_speaker::decide::{
    Changed, ClusterView, EXCLUDE_LABEL, Endpoint, FenceState, InterfaceRules, L2Book, L2Plan,
    L2Verdict, Link, LocalNode, NodeState, ServiceBook, ServiceKey, ServiceState, TrafficPolicy,
    l2_plan, owner,
};
use proptest::prelude::*;

fn config() -> &'static Config {
    static CONFIG_ONCE: LazyLock<Config> = LazyLock::new(|| {
        common::compile_yaml(&format!(
            "{}---{}",
            common::PROPERTY_POOLS,
            common::PROPERTY_L2
        ))
    });
    &CONFIG_ONCE
}

const NODES: [&str; 5] = ["n1", "n2", "n3", "n4", "n5"];

fn endpoint() -> impl Strategy<Value = Endpoint> {
    (
        proptest::option::of(0..NODES.len()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(node, ready, serving)| Endpoint {
            node: node.map(|i| NODES[i].into()),
            ready,
            serving,
            terminating: None,
        })
}

fn address() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (0u8..=191).prop_map(|o| IpAddr::from([198, 51, 100, o])),
        (0u16..=255).prop_map(|o| IpAddr::from([0x2001, 0xdb8, 1, 0, 0, 0, 0, o])),
    ]
}

fn services() -> impl Strategy<Value = Vec<ServiceState>> {
    common::services(address(), endpoint(), 16)
}

/// Some of the nodes, with random labels and conditions.
fn view() -> impl Strategy<Value = ClusterView> {
    proptest::collection::vec((any::<bool>(), any::<bool>(), 0u8..8, 0u8..8), NODES.len()).prop_map(
        |specs| {
            ClusterView::new(NODES.iter().zip(specs).filter(|(_, s)| s.0).map(
                |(name, (_, edge, excluded, unavailable))| {
                    let mut n = NodeState::new(*name);
                    if edge {
                        n.labels.insert("edge".into(), "true".into());
                    }
                    if excluded == 0 {
                        n.labels.insert(EXCLUDE_LABEL.into(), String::new());
                    }
                    n.network_unavailable = unavailable == 0;
                    n
                },
            ))
        },
    )
}

fn local(name: &str, fence: FenceState) -> LocalNode {
    // Compiling the patterns dominates a plan; a speaker does it once.
    static RULES: LazyLock<InterfaceRules> = LazyLock::new(InterfaceRules::standard);
    LocalNode {
        name: name.to_string(),
        links: vec![Link::ethernet("eth0")],
        interface_rules: RULES.clone(),
        fence,
    }
}

fn plans(config: &Config, view: &ClusterView, services: &[ServiceState]) -> Vec<(String, L2Plan)> {
    NODES
        .iter()
        .map(|n| {
            let plan = l2_plan(config, &local(n, FenceState::MayAnnounce), view, services);
            (n.to_string(), plan)
        })
        .collect()
}

/// The specification of a candidate, written out independently.
fn may_announce(
    config: &Config,
    member: &NodeState,
    service: &ServiceState,
    address: IpAddr,
) -> bool {
    let Some(pool) = config.pools.values().find(|p| p.contains(address)) else {
        return false;
    };
    let selected = config
        .l2_advertisements
        .iter()
        .any(|a| a.pools.contains(&pool.name) && a.selects_node(&member.labels));
    let endpoint = service.endpoints.iter().any(|e| {
        e.takes_traffic()
            && (service.traffic_policy == TrafficPolicy::Cluster
                || e.node.as_deref() == Some(member.name.as_str()))
    });
    selected
        && endpoint
        && !member.labels.contains_key(EXCLUDE_LABEL)
        && !member.network_unavailable
}

proptest! {
    #[test]
    fn every_node_agrees_and_exactly_one_answers(view in view(), services in services()) {
        let config = config();
        let plans = plans(config, &view, &services);
        let owners = &plans[0].1.owners;

        let mut answering: BTreeMap<IpAddr, Vec<&str>> = BTreeMap::new();
        for (node, plan) in &plans {
            prop_assert_eq!(&plan.owners, owners, "{} sees other owners", node);
            for address in plan.addresses.keys() {
                answering.entry(*address).or_default().push(node);
            }
        }
        for (address, nodes) in &answering {
            prop_assert_eq!(nodes.clone(), vec![owners[address].as_str()], "{}", address);
        }
        prop_assert_eq!(
            answering.keys().collect::<Vec<_>>(),
            owners.keys().collect::<Vec<_>>(),
            "every owner answers (all have eth0 and may announce)"
        );

        // Addresses held by one Service have an owner exactly when some
        // node of the view may announce them, and that node is one.
        let mut holders: BTreeMap<IpAddr, Vec<&ServiceState>> = BTreeMap::new();
        for s in &services {
            for a in s.addresses.iter().collect::<BTreeSet<_>>() {
                holders.entry(*a).or_default().push(s);
            }
        }
        for (address, held_by) in &holders {
            let [service] = held_by.as_slice() else { continue };
            let fit: BTreeSet<&str> = view.members()
                .filter(|m| may_announce(config, m, service, *address))
                .map(|m| m.name.as_str())
                .collect();
            match owners.get(address) {
                Some(owner) => prop_assert!(fit.contains(owner.as_str()), "{} owns {}", owner, address),
                None => prop_assert!(fit.is_empty(), "{} has candidates {:?} but no owner", address, fit),
            }
        }
    }

    #[test]
    fn a_local_policy_owner_runs_a_ready_endpoint(view in view(), services in services()) {
        let config = config();
        for (node, plan) in plans(config, &view, &services) {
            for e in &plan.explanations {
                let service = services.iter().find(|s| s.key == e.service).expect("known service");
                if matches!(e.verdict, L2Verdict::Announced { .. })
                    && service.traffic_policy == TrafficPolicy::Local
                {
                    prop_assert!(service.endpoints.iter().any(|ep|
                        ep.takes_traffic() && ep.node.as_deref() == Some(node.as_str())),
                        "{} announces {} for {} without a local endpoint", node, e.address, e.service);
                }
            }
        }
    }

    /// The answer gate's list (`L2Book::answering`) has every address of
    /// the plan; and whichever of the members that are no candidates come
    /// back, an address this node answers for is held back exactly when
    /// the plan over the larger view gives it to another node. Held back when it should not be
    /// would be a dark address until the next plan; not held back, two
    /// nodes answering until then.
    #[test]
    fn outranked_addresses_are_exactly_those_a_return_takes_away(
        known in view(),
        services in services(),
        me in 0..NODES.len(),
        away in proptest::collection::vec(any::<bool>(), NODES.len()),
        back in proptest::collection::vec(any::<bool>(), NODES.len()),
    ) {
        let config = config();
        let me = NODES[me];
        let names: BTreeSet<String> = known.members().map(|n| n.name.clone()).collect();
        prop_assume!(names.contains(me));
        let is = |flags: &[bool], n: &str| NODES.iter().position(|m| *m == n).is_some_and(|i| flags[i]);
        let candidates: BTreeSet<String> =
            names.iter().filter(|n| *n == me || !is(&away, n)).cloned().collect();
        let within = |set: &BTreeSet<String>| {
            ClusterView::new(known.members().filter(|n| set.contains(&n.name)).cloned())
        };
        let mut book = ServiceBook::default();
        book.replace(services.clone());
        let mut l2 = L2Book::default();
        let node = local(me, FenceState::MayAnnounce);
        l2.update(config, &node, &within(&candidates), &book, Changed::All);
        let outranked = l2.answering(config, &known, &candidates, &book, me);
        prop_assert!(outranked.keys().eq(l2.plan().addresses.keys()));

        let returned: BTreeSet<String> = names
            .iter()
            .filter(|n| !candidates.contains(*n) && is(&back, n))
            .cloned()
            .collect();
        let after: BTreeSet<String> = candidates.union(&returned).cloned().collect();
        let later = l2_plan(config, &node, &within(&after), &services);
        for address in l2.plan().addresses.keys() {
            let held = outranked
                .get(address)
                .is_some_and(|above| above.iter().any(|m| returned.contains(m)));
            let taken = !later.addresses.contains_key(address);
            prop_assert_eq!(
                held, taken,
                "{} with {:?} back (outranked by {:?}); owner then {:?}",
                address, returned, outranked.get(address), later.owners.get(address)
            );
        }
    }

    #[test]
    fn a_fenced_node_announces_nothing(view in view(), services in services(), i in 0..NODES.len()) {
        let config = config();
        let fenced = local(NODES[i], FenceState::Fenced { since: Instant::now() });
        let plan = l2_plan(config, &fenced, &view, &services);
        prop_assert!(plan.addresses.is_empty());
        prop_assert!(plan.statuses.is_empty());
        let announced = plan.explanations.iter().filter(|e| matches!(e.verdict, L2Verdict::Announced { .. }));
        prop_assert_eq!(announced.count(), 0);
    }

    #[test]
    fn a_join_moves_addresses_only_to_the_joiner_and_a_leave_only_the_leavers(
        members in proptest::collection::btree_set("[a-z]{1,8}", 1..8),
        joiner in "[A-Z]{1,8}",
        leaver in any::<prop::sample::Index>(),
        addresses in proptest::collection::btree_set(address(), 1..64),
    ) {
        let config = config();
        let services: Vec<ServiceState> = addresses.iter().enumerate().map(|(i, a)| ServiceState {
            key: ServiceKey::new("default", format!("svc{i}")),
            addresses: [*a].into(),
            pool: None,
            traffic_policy: TrafficPolicy::Cluster,
            endpoints: [Endpoint::ready_on("anywhere")].into(),
            labels: Default::default(),
            shares_ip: false,
        }).collect();
        let owners = |names: &BTreeSet<String>| {
            let view = ClusterView::new(names.iter().map(|n| {
                let mut node = NodeState::new(n.clone());
                node.labels.insert("edge".into(), "true".into());
                node
            }));
            l2_plan(config, &local("observer", FenceState::MayAnnounce), &view, &services).owners
        };
        let before = owners(&members);

        let mut joined = members.clone();
        joined.insert(joiner.clone());
        for (address, owner) in owners(&joined) {
            prop_assert!(owner == before[&address] || owner == joiner,
                "{} moved from {} to {}", address, before[&address], owner);
        }

        let leaver = leaver.get(&members.iter().collect::<Vec<_>>()).to_string();
        let mut left = members.clone();
        left.remove(&leaver);
        let after = owners(&left);
        for (address, owner) in &before {
            if *owner != leaver {
                prop_assert_eq!(after.get(address), Some(owner), "{} moved", address);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn ownership_spreads_evenly(
        names in proptest::collection::btree_set("[a-z0-9-]{1,12}", 2..12),
        base in any::<u32>(),
    ) {
        const ADDRESSES: u32 = 3000;
        let mut counts: BTreeMap<&str, u32> = names.iter().map(|n| (n.as_str(), 0)).collect();
        for i in 0..ADDRESSES {
            let key = IpAddr::from(base.wrapping_add(i).to_be_bytes());
            let owner = owner::owner(key, names.iter().map(String::as_str)).expect("candidates");
            *counts.get_mut(owner).expect("a candidate") += 1;
        }
        // Each count is binomial(ADDRESSES, 1/n): allow six standard
        // deviations, which a fair hash exceeds about once in 10^9 tries.
        let n = f64::from(u32::try_from(names.len()).expect("few names"));
        let mean = f64::from(ADDRESSES) / n;
        let spread = 6.0 * (mean * (1.0 - 1.0 / n)).sqrt();
        for (name, count) in counts {
            prop_assert!((f64::from(count) - mean).abs() <= spread,
                "{} owns {} of {} (expected {:.0} ± {:.0})", name, count, ADDRESSES, mean, spread);
        }
    }
}

proptest! {
    #[test]
    fn two_disjoint_groups_never_both_hold_quorum(
        groups in proptest::collection::btree_map("[a-z]{1,6}", 0u8..4, 1..9),
    ) {
        // A partition of the known members into up to four groups, each
        // reaching exactly its own members.
        let known: BTreeSet<String> = groups.keys().cloned().collect();
        let quorate: BTreeSet<u8> = groups
            .iter()
            .filter(|(name, group)| {
                let reachable = groups.iter().filter(|(_, g)| g == group).map(|(n, _)| n.clone()).collect();
                has_quorum(name, &reachable, &known)
            })
            .map(|(_, group)| *group)
            .collect();
        prop_assert!(quorate.len() <= 1, "groups {:?} all hold quorum in {:?}", quorate, groups);
        let whole = groups.values().all(|g| *g == groups.values().next().copied().unwrap_or(0));
        if whole {
            prop_assert_eq!(quorate.len(), 1, "a connected cluster announces");
        }
    }
}
