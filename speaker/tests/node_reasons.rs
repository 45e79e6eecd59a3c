//! What a node records in its `NodeAnnouncementState`: the reasons the
//! decision gives, node by node, for what it does not announce, from
//! MetalLB manifests through the real `bgp_plan` and `l2_plan`.

mod common;

use common::{node, service};

use std::collections::BTreeMap;

use ferrolb_crds::api::NodeAnnouncementStateStatus;
use ferrolb_crds::config::Config;
use ferrolb_speaker::decide::{
    ClusterView, Endpoint, FenceState, InterfaceRules, Link, LocalNode, NodeState, ServiceState,
    TrafficPolicy, bgp_plan, l2_plan,
};
use ferrolb_speaker::report::{Conflict, announcement_state};

/// Pool `web` by BGP to r1 on nodes labelled `rack: a`; pool `quiet` by
/// layer 2 on nodes labelled `lan: front`.
const CONFIG: &str = r#"
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: r1, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 192.0.2.1}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: web, namespace: metallb-system}
spec:
  ipAddressPools: [web]
  nodeSelectors: [{matchLabels: {rack: a}}]
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: quiet, namespace: metallb-system}
spec:
  ipAddressPools: [quiet]
  nodeSelectors: [{matchLabels: {lan: front}}]
"#;

fn config() -> Config {
    common::compile_yaml(&format!("{}---{CONFIG}", common::POOLS))
}

fn local(name: &str, links: Vec<Link>) -> LocalNode {
    LocalNode {
        name: name.to_string(),
        links,
        interface_rules: InterfaceRules::standard(),
        fence: FenceState::MayAnnounce,
    }
}

/// Every node's reasons for these Services, `reason: services` per line.
fn reasons(
    config: &Config,
    this: &NodeState,
    links: Vec<Link>,
    cluster: &[NodeState],
    services: &[&ServiceState],
    conflicts: &BTreeMap<std::net::IpAddr, Conflict>,
) -> Vec<String> {
    let bgp = bgp_plan(config, this, services.iter().copied());
    let l2 = l2_plan(
        config,
        &local(&this.name, links),
        &ClusterView::new(cluster.iter().cloned()),
        services.iter().copied(),
    );
    let state: NodeAnnouncementStateStatus =
        announcement_state(config, &bgp.explanations, &l2.explanations, conflicts);
    state
        .reasons
        .iter()
        .map(|r| {
            format!(
                "{} {}: {} [{}]",
                r.protocol,
                r.reason,
                r.message,
                r.services.join(", ")
            )
        })
        .collect()
}

#[test]
fn each_node_says_why_it_does_not_announce_in_bgp_mode() {
    let config = config();
    let local_web = service(
        "local",
        &["198.51.100.7"],
        TrafficPolicy::Local,
        vec![Endpoint::ready_on("n2")],
    );
    let web = service(
        "web",
        &["198.51.100.8"],
        TrafficPolicy::Cluster,
        vec![Endpoint::ready_on("n2")],
    );
    let n1 = node("n1", &[("rack", "a")]);
    let n2 = node("n2", &[("rack", "a")]);
    let n3 = node("n3", &[("rack", "b")]);
    let all = [n1.clone(), n2.clone(), n3.clone()];
    let svcs = [&local_web, &web];
    let none = BTreeMap::new();
    let eth0 = || vec![Link::ethernet("eth0")];
    assert_eq!(
        reasons(&config, &n1, eth0(), &all, &svcs, &none),
        [
            "bgp NoLocalReadyEndpoint: externalTrafficPolicy is Local and no ready endpoint runs on this node [default/local]"
        ]
    );
    assert!(reasons(&config, &n2, eth0(), &all, &svcs, &none).is_empty());
    assert_eq!(
        reasons(&config, &n3, eth0(), &all, &svcs, &none),
        [
            "bgp NoLocalReadyEndpoint: externalTrafficPolicy is Local and no ready endpoint runs on this node [default/local]",
            "bgp NodeNotSelected: the nodeSelectors of the BGPAdvertisements of pool web do not select this node [default/web]",
        ]
    );
}

#[test]
fn each_node_says_why_it_does_not_announce_in_layer_2_mode() {
    let config = config();
    // 203.0.113.10's owner among n1..n3 is whichever the hash picks; the
    // Local Service runs only on n2, so n2 owns it.
    let local_quiet = service(
        "local",
        &["203.0.113.10"],
        TrafficPolicy::Local,
        vec![Endpoint::ready_on("n2")],
    );
    let front = [("lan", "front")];
    let n1 = node("n1", &front);
    let n2 = node("n2", &front);
    let n3 = node("n3", &[("lan", "back")]);
    let all = [n1.clone(), n2.clone(), n3.clone()];
    let svcs = [&local_quiet];
    let none = BTreeMap::new();
    let eth0 = || vec![Link::ethernet("eth0")];
    assert_eq!(
        reasons(&config, &n1, eth0(), &all, &svcs, &none),
        [
            "layer2 NoLocalReadyEndpoint: externalTrafficPolicy is Local and no ready endpoint runs on this node [default/local]"
        ],
        "a BGP pool's missing L2Advertisement is no reason, nor is this L2 pool's missing BGPAdvertisement"
    );
    assert_eq!(
        reasons(&config, &n3, eth0(), &all, &svcs, &none),
        [
            "layer2 NodeNotSelected: the nodeSelectors of the L2Advertisements of pool quiet do not select this node [default/local]"
        ]
    );
    assert!(reasons(&config, &n2, eth0(), &all, &svcs, &none).is_empty());
    // The owner's only interface is excluded by metallb-excludel2.
    assert_eq!(
        reasons(
            &config,
            &n2,
            vec![Link::ethernet("veth7")],
            &all,
            &svcs,
            &none
        ),
        [concat!(
            "layer2 NoInterface: this node should announce it but none of its interfaces may answer ",
            "for the L2Advertisements of pool quiet: veth7: excluded by the interface exclusion list ",
            "(metallb-excludel2: matches \"^veth.*\") [default/local]"
        )]
    );
    // Another host holds the address on the owner's LAN.
    let conflict = BTreeMap::from([(
        "203.0.113.10".parse().expect("address literal"),
        Conflict {
            interface: "eth0".into(),
            holder: "02:00:00:00:00:09".into(),
        },
    )]);
    assert_eq!(
        reasons(&config, &n2, eth0(), &all, &svcs, &conflict),
        [
            "layer2 AddressInUse: 203.0.113.10 is used by another host (02:00:00:00:00:09) on eth0: not answered while it holds it [default/local]"
        ]
    );
    // A Cluster Service: n1 and n2 are candidates; the one that loses
    // says who won.
    let cluster_quiet = service(
        "shop",
        &["203.0.113.10"],
        TrafficPolicy::Cluster,
        vec![Endpoint::ready_on("n3")],
    );
    let on = |n: &NodeState| reasons(&config, n, eth0(), &all, &[&cluster_quiet], &none);
    let (r1, r2) = (on(&n1), on(&n2));
    let owner_said = |r: &[String], owner: &str| {
        r == [format!(
            "layer2 OwnedBy: node {owner} announces it [default/shop]"
        )]
    };
    assert!(
        (r1.is_empty() && owner_said(&r2, "n1")) || (r2.is_empty() && owner_said(&r1, "n2")),
        "{r1:?} {r2:?}"
    );
}
