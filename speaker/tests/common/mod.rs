//! Test inputs written as users write them: MetalLB YAML, through the one
//! config compiler.

use ferrolb_crds::config::{Config, Resources, compile};
use ferrolb_crds::manifest::read_yaml;
use std::net::IpAddr;
use std::sync::Arc;

use ferrolb_speaker::decide::{Endpoint, Link, NodeState, ServiceKey, ServiceState, TrafficPolicy};
use proptest::prelude::*;

/// Two pools for the decision tests: `web` (IPv4 and IPv6) and `quiet`.
#[allow(dead_code)]
pub const POOLS: &str = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: web, namespace: metallb-system}
spec:
  addresses: ["198.51.100.0/24", "2001:db8:1::/64"]
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: quiet, namespace: metallb-system}
spec:
  addresses: ["203.0.113.0/24"]
"#;

/// Small pools for the property tests: `web` (IPv4 and IPv6), `quiet` and
/// `edge`, side by side in 198.51.100.0/24.
#[allow(dead_code)]
pub const PROPERTY_POOLS: &str = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: web, namespace: metallb-system}
spec: {addresses: ["198.51.100.0/26", "2001:db8:1::/120"]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: quiet, namespace: metallb-system}
spec: {addresses: ["198.51.100.64/26"]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: edge, namespace: metallb-system}
spec: {addresses: ["198.51.100.128/26"]}
"#;

/// BGP peers and advertisements of [`PROPERTY_POOLS`]: two peers (one for
/// rack b only), `web` aggregated to /28s, `edge` for edge nodes and
/// peer `tor-b` only.
#[allow(dead_code)]
pub const PROPERTY_BGP: &str = r#"
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor-a, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor-b, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64501, peerAddress: 10.0.0.2, nodeSelectors: [{matchLabels: {rack: b}}]}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: web, namespace: metallb-system}
spec: {ipAddressPools: [web], aggregationLength: 28}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: edge, namespace: metallb-system}
spec: {ipAddressPools: [edge], nodeSelectors: [{matchLabels: {edge: "true"}}], peers: [tor-b]}
"#;

/// Layer-2 advertisements of [`PROPERTY_POOLS`]: `web` everywhere, `edge`
/// on edge nodes.
#[allow(dead_code)]
pub const PROPERTY_L2: &str = r#"
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: web, namespace: metallb-system}
spec: {ipAddressPools: [web]}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: edge, namespace: metallb-system}
spec: {ipAddressPools: [edge], nodeSelectors: [{matchLabels: {edge: "true"}}]}
"#;

/// Compiles `yaml`, failing the test on any manifest or compiler error.
#[allow(dead_code)]
pub fn compile_yaml(yaml: &str) -> Config {
    let mut resources = Resources::default();
    let (_, errors) = read_yaml(yaml, &mut resources);
    assert!(errors.is_empty(), "{errors:?}");
    match compile(&resources) {
        Ok(compiled) => compiled.config,
        Err(e) => panic!("{:?}", e.errors),
    }
}

// Not every test crate uses every helper below.

/// An Ethernet interface that is up and answers ARP and NDP.
#[allow(dead_code)]
pub fn lan_link(name: &str, mac: Option<[u8; 6]>) -> Link {
    Link {
        name: name.into(),
        up: true,
        loopback: false,
        enslaved: false,
        arp: true,
        ndp: true,
        mac,
    }
}

/// A node with these labels.
#[allow(dead_code)]
pub fn node(name: &str, labels: &[(&str, &str)]) -> NodeState {
    let mut n = NodeState::new(name);
    n.labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    n
}

/// A Service of namespace `default` holding `addresses`.
#[allow(dead_code)]
pub fn service(
    name: &str,
    addresses: &[&str],
    policy: TrafficPolicy,
    endpoints: Vec<Endpoint>,
) -> ServiceState {
    ServiceState {
        key: ServiceKey::new("default", name),
        addresses: addresses
            .iter()
            .map(|a| a.parse().expect("address literal"))
            .collect(),
        pool: None,
        traffic_policy: policy,
        endpoints: endpoints.into(),
        labels: Default::default(),
        shares_ip: false,
    }
}

/// `svc` with these labels.
#[allow(dead_code)]
pub fn with_labels(mut svc: ServiceState, labels: &[(&str, &str)]) -> ServiceState {
    svc.labels = Arc::new(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    svc
}

/// Up to `most` Services of namespace `default`, each holding one or two
/// addresses, with either traffic policy and up to three endpoints.
#[allow(dead_code)]
pub fn services(
    address: impl Strategy<Value = IpAddr>,
    endpoint: impl Strategy<Value = Endpoint>,
    most: usize,
) -> impl Strategy<Value = Vec<ServiceState>> {
    proptest::collection::vec(
        (
            proptest::collection::vec(address, 1..3),
            any::<bool>(),
            proptest::collection::vec(endpoint, 0..4),
        ),
        0..most,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (addresses, local, endpoints))| ServiceState {
                key: ServiceKey::new("default", format!("svc{i}")),
                addresses: addresses.into(),
                pool: None,
                traffic_policy: if local {
                    TrafficPolicy::Local
                } else {
                    TrafficPolicy::Cluster
                },
                endpoints: endpoints.into(),
                labels: Default::default(),
                shares_ip: false,
            })
            .collect()
    })
}
