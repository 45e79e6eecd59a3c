//! Properties of the BGP decision over random services, endpoints and nodes.

mod common;

use ferrolb_crds::config::Config;
use ferrolb_speaker::decide::{
    EXCLUDE_LABEL, Endpoint, NodeState, ServiceState, TrafficPolicy, Verdict, bgp_plan,
};
use proptest::prelude::*;

fn config() -> Config {
    common::compile_yaml(&format!(
        "{}---{}",
        common::PROPERTY_POOLS,
        common::PROPERTY_BGP
    ))
}

const NODES: [&str; 3] = ["n1", "n2", "n3"];

fn endpoint() -> impl Strategy<Value = Endpoint> {
    (
        proptest::option::of(0..NODES.len()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(node, ready, serving, terminating)| Endpoint {
            node: node.map(|i| NODES[i].into()),
            ready,
            serving,
            terminating,
        })
}

fn address() -> impl Strategy<Value = std::net::IpAddr> {
    prop_oneof![
        (0u8..=255).prop_map(|o| std::net::IpAddr::from([198, 51, 100, o])),
        (0u16..300).prop_map(|o| std::net::IpAddr::from([0x2001, 0xdb8, 1, 0, 0, 0, 0, o])),
    ]
}

fn services() -> impl Strategy<Value = Vec<ServiceState>> {
    common::services(address(), endpoint(), 12)
}

fn node() -> impl Strategy<Value = NodeState> {
    (
        0..NODES.len(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(i, rack_b, edge, excluded, unavailable)| {
            let mut n = NodeState::new(NODES[i]);
            n.labels
                .insert("rack".into(), if rack_b { "b" } else { "a" }.into());
            if edge {
                n.labels.insert("edge".into(), "true".into());
            }
            if excluded {
                n.labels.insert(EXCLUDE_LABEL.into(), String::new());
            }
            n.network_unavailable = unavailable;
            n
        })
}

proptest! {
    #[test]
    fn routes_and_explanations_agree(services in services(), node in node()) {
        let config = config();
        let plan = bgp_plan(&config, &node, &services);

        // Every peer of the node has a session, and no other peer.
        let expected: Vec<&str> = config.peers.values()
            .filter(|p| p.selects_node(&node.labels)).map(|p| p.name.as_str()).collect();
        prop_assert_eq!(plan.peers.keys().map(String::as_str).collect::<Vec<_>>(), expected);

        // One explanation per address.
        let addresses: usize = services.iter().map(|s| s.addresses.len()).sum();
        prop_assert_eq!(plan.explanations.len(), addresses);

        let blocked = node.labels.contains_key(EXCLUDE_LABEL) || node.network_unavailable;
        for e in &plan.explanations {
            let service = services.iter().find(|s| s.key == e.service).expect("known service");
            if let Verdict::Announced { peers } = &e.verdict {
                prop_assert!(!blocked);
                for peer in peers.iter() {
                    prop_assert!(
                        plan.peers[peer].keys().any(|prefix| prefix.contains(&e.address)),
                        "{} announced to {} without a covering route", e.address, peer
                    );
                }
                if service.traffic_policy == TrafficPolicy::Local {
                    prop_assert!(service.endpoints.iter().any(|ep|
                        ep.takes_traffic() && ep.node.as_deref() == Some(node.name.as_str())));
                }
            }
        }
        // Every route is backed by an address announced to that peer.
        for (peer, routes) in &plan.peers {
            for prefix in routes.keys() {
                let backed = plan.explanations.iter().any(|e| prefix.contains(&e.address)
                    && matches!(&e.verdict, Verdict::Announced { peers } if peers.contains(peer)));
                prop_assert!(backed, "{} to {} has no announced address", prefix, peer);
            }
        }
    }

    #[test]
    fn the_order_of_services_does_not_matter(mut services in services(), node in node()) {
        let config = config();
        let forward = bgp_plan(&config, &node, &services);
        services.reverse();
        prop_assert_eq!(forward, bgp_plan(&config, &node, &services));
    }
}
