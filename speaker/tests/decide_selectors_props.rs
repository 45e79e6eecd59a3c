//! `serviceSelectors`, over random Service labels: BGP and layer 2 announce
//! exactly the Services an advertisement selects, and layer 2 never a
//! selected Service that asks to share its address.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;

use ferrolb_speaker::decide::{
    ClusterView, Endpoint, FenceState, InterfaceRules, Link, LocalNode, ServiceKey, ServiceState,
    TrafficPolicy, bgp_plan, l2_plan,
};
use proptest::prelude::*;

const CONFIG: &str = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: web, namespace: metallb-system}
spec: {addresses: ["198.51.100.0/24"]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1}
"#;

/// The spec of both advertisements, `front`.
const FRONT: &str = r#"
spec:
  ipAddressPools: [web]
  serviceSelectors:
  - matchLabels: {tier: frontend}
  - matchExpressions: [{key: env, operator: In, values: [prod]}]
"#;

const TIERS: [&str; 3] = ["frontend", "backend", ""];
const ENVS: [&str; 3] = ["prod", "staging", ""];

fn services() -> impl Strategy<Value = Vec<ServiceState>> {
    proptest::collection::vec((0..3usize, 0..3usize, any::<bool>()), 0..12).prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (tier, env, shares_ip))| {
                let mut labels = std::collections::BTreeMap::new();
                for (key, value) in [("tier", TIERS[tier]), ("env", ENVS[env])] {
                    if !value.is_empty() {
                        labels.insert(key.to_string(), value.to_string());
                    }
                }
                ServiceState {
                    key: ServiceKey::new("default", format!("svc{i}")),
                    addresses: [IpAddr::from([198, 51, 100, i as u8])].into(),
                    pool: None,
                    traffic_policy: TrafficPolicy::Cluster,
                    endpoints: [Endpoint::ready_on("n1")].into(),
                    labels: labels.into(),
                    shares_ip,
                }
            })
            .collect()
    })
}

static COMPILED: std::sync::LazyLock<ferrolb_crds::config::Config> = std::sync::LazyLock::new(
    || {
        let advertisement = |kind: &str| {
            format!(
                "---\napiVersion: metallb.io/v1beta1\nkind: {kind}\nmetadata: {{name: front, namespace: metallb-system}}{FRONT}"
            )
        };
        let yaml = CONFIG.to_string()
            + &advertisement("BGPAdvertisement")
            + &advertisement("L2Advertisement");
        common::compile_yaml(&yaml)
    },
);

fn selected(s: &ServiceState) -> bool {
    s.labels.get("tier").is_some_and(|t| t == "frontend")
        || s.labels.get("env").is_some_and(|e| e == "prod")
}

proptest! {
    #[test]
    fn only_selected_services_are_announced(services in services()) {
        let config = &*COMPILED;
        let node = common::node("n1", &[]);
        let bgp = bgp_plan(config, &node, &services);
        let announced: BTreeSet<IpAddr> = bgp.peers["tor"].keys().map(|p| p.addr()).collect();
        let want: BTreeSet<IpAddr> = services
            .iter()
            .filter(|s| selected(s))
            .map(|s| s.addresses[0])
            .collect();
        prop_assert_eq!(announced, want);

        let local = LocalNode {
            name: "n1".into(),
            links: vec![Link::ethernet("eth0")],
            interface_rules: InterfaceRules::standard(),
            fence: FenceState::MayAnnounce,
        };
        let l2 = l2_plan(config, &local, &ClusterView::new([node]), &services);
        let answered: BTreeSet<IpAddr> = l2.addresses.keys().copied().collect();
        let want: BTreeSet<IpAddr> = services
            .iter()
            .filter(|s| selected(s) && !s.shares_ip)
            .map(|s| s.addresses[0])
            .collect();
        prop_assert_eq!(answered, want);
    }
}
