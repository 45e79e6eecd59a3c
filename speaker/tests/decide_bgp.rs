//! The BGP announcement decision, rule by rule, from MetalLB manifests.

use std::net::IpAddr;

use ferrolb_bgp::wire::Community;
mod common;

use common::{node, service};

use ferrolb_crds::config::Config;
use ferrolb_speaker::decide::{EXCLUDE_LABEL, Endpoint, Reason, TrafficPolicy, Verdict, bgp_plan};
use ipnet::IpNet;

/// BGP peers, added to [`common::POOLS`].
const PEERS: &str = r#"
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor-a, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor-b, namespace: metallb-system}
spec:
  myASN: 64512
  peerASN: 64501
  peerAddress: 10.0.0.2
  nodeSelectors: [{matchLabels: {rack: b}}]
"#;

fn config(extra: &str) -> Config {
    common::compile_yaml(&format!("{}---{PEERS}---{extra}", common::POOLS))
}

const ADVERTISE_WEB: &str = r#"
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: web, namespace: metallb-system}
spec:
  ipAddressPools: [web]
  communities: ["64512:100"]
  localPref: 150
"#;

fn ready(node: &str) -> Vec<Endpoint> {
    vec![Endpoint::ready_on(node)]
}

fn net(s: &str) -> IpNet {
    s.parse().expect("prefix literal")
}

fn routes_to(plan: &ferrolb_speaker::decide::BgpPlan, peer: &str) -> Vec<IpNet> {
    plan.peers[peer].keys().copied().collect()
}

#[test]
fn a_service_is_announced_as_a_host_route_to_every_peer_of_the_node() {
    let config = config(ADVERTISE_WEB);
    let svc = service(
        "www",
        &["198.51.100.10", "2001:db8:1::10"],
        TrafficPolicy::Cluster,
        ready("n2"),
    );
    let plan = bgp_plan(&config, &node("n1", &[("rack", "b")]), [&svc]);
    for peer in ["tor-a", "tor-b"] {
        assert_eq!(routes_to(&plan, peer), [net("198.51.100.10/32")]);
        let attrs = &plan.peers[peer][&net("198.51.100.10/32")];
        assert_eq!(attrs.local_pref(), Some(150));
        assert!(
            attrs
                .communities()
                .contains(&Community((64512 << 16) | 100))
        );
    }
    assert!(
        matches!(&plan.explanations[0].verdict, Verdict::Announced { peers } if peers.len() == 2)
    );
    assert_eq!(
        plan.explanations[1].verdict,
        Verdict::NotAnnounced(Reason::NoPeerOfFamily {
            pool: "web".into(),
            ipv6: true
        }),
        "IPv4 peers do not carry IPv6 prefixes"
    );
}

#[test]
fn peers_apply_to_nodes_through_their_node_selectors() {
    let config = config(ADVERTISE_WEB);
    let svc = service(
        "www",
        &["198.51.100.10"],
        TrafficPolicy::Cluster,
        ready("n1"),
    );
    let plan = bgp_plan(&config, &node("n1", &[("rack", "a")]), [&svc]);
    assert_eq!(plan.peers.keys().collect::<Vec<_>>(), ["tor-a"]);
}

#[test]
fn excluded_and_unreachable_nodes_announce_nothing_but_keep_their_sessions() {
    let config = config(ADVERTISE_WEB);
    let svc = service(
        "www",
        &["198.51.100.10"],
        TrafficPolicy::Cluster,
        ready("n1"),
    );
    let excluded = bgp_plan(&config, &node("n1", &[(EXCLUDE_LABEL, "")]), [&svc]);
    assert!(excluded.peers["tor-a"].is_empty());
    assert_eq!(
        excluded.explanations[0].verdict,
        Verdict::NotAnnounced(Reason::NodeExcluded)
    );

    let mut down = node("n1", &[]);
    down.network_unavailable = true;
    let plan = bgp_plan(&config, &down, [&svc]);
    assert!(plan.peers["tor-a"].is_empty());
    assert_eq!(
        plan.explanations[0].verdict,
        Verdict::NotAnnounced(Reason::NodeNetworkUnavailable)
    );
}

#[test]
fn cluster_policy_announces_from_every_node_while_any_endpoint_is_ready() {
    let config = config(ADVERTISE_WEB);
    let elsewhere = service(
        "www",
        &["198.51.100.10"],
        TrafficPolicy::Cluster,
        ready("n9"),
    );
    assert_eq!(
        routes_to(&bgp_plan(&config, &node("n1", &[]), [&elsewhere]), "tor-a").len(),
        1
    );

    let mut not_ready = Endpoint::ready_on("n1");
    not_ready.ready = Some(false);
    not_ready.serving = Some(false);
    let none = service(
        "www",
        &["198.51.100.10"],
        TrafficPolicy::Cluster,
        vec![not_ready],
    );
    let plan = bgp_plan(&config, &node("n1", &[]), [&none]);
    assert!(plan.peers["tor-a"].is_empty());
    assert_eq!(
        plan.explanations[0].verdict,
        Verdict::NotAnnounced(Reason::NoReadyEndpoint)
    );
}

#[test]
fn local_policy_announces_only_where_an_endpoint_runs_and_follows_it() {
    let config = config(ADVERTISE_WEB);
    let mut svc = service("www", &["198.51.100.10"], TrafficPolicy::Local, ready("n2"));
    let n1 = node("n1", &[]);
    let n2 = node("n2", &[]);
    assert!(bgp_plan(&config, &n1, [&svc]).peers["tor-a"].is_empty());
    assert_eq!(
        bgp_plan(&config, &n1, [&svc]).explanations[0].verdict,
        Verdict::NotAnnounced(Reason::NoLocalReadyEndpoint)
    );
    assert_eq!(routes_to(&bgp_plan(&config, &n2, [&svc]), "tor-a").len(), 1);

    // The endpoint moves to n1, terminating gracefully on n2.
    let mut leaving = Endpoint::ready_on("n2");
    leaving.ready = Some(false);
    leaving.terminating = Some(true);
    svc.endpoints = [leaving, Endpoint::ready_on("n1")].into();
    assert_eq!(routes_to(&bgp_plan(&config, &n1, [&svc]), "tor-a").len(), 1);
    assert!(bgp_plan(&config, &n2, [&svc]).peers["tor-a"].is_empty());
}

#[test]
fn a_pool_without_an_advertisement_is_not_announced_and_says_so() {
    let config = config(ADVERTISE_WEB);
    let svc = service("db", &["203.0.113.7"], TrafficPolicy::Cluster, ready("n1"));
    let plan = bgp_plan(&config, &node("n1", &[]), [&svc]);
    assert!(plan.peers["tor-a"].is_empty());
    assert_eq!(
        plan.explanations[0].verdict,
        Verdict::NotAnnounced(Reason::PoolNotAdvertised {
            pool: "quiet".into()
        })
    );
    let orphan = service("old", &["192.0.2.1"], TrafficPolicy::Cluster, ready("n1"));
    let plan = bgp_plan(&config, &node("n1", &[]), [&orphan]);
    assert_eq!(
        plan.explanations[0].verdict,
        Verdict::NotAnnounced(Reason::NotInAnyPool)
    );
}

#[test]
fn advertisements_select_nodes_and_peers() {
    let config = config(
        r#"
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: web, namespace: metallb-system}
spec:
  ipAddressPools: [web]
  nodeSelectors: [{matchLabels: {edge: "true"}}]
  peers: [tor-b]
"#,
    );
    let svc = service(
        "www",
        &["198.51.100.10"],
        TrafficPolicy::Cluster,
        ready("n1"),
    );
    let inner = bgp_plan(&config, &node("n1", &[("rack", "b")]), [&svc]);
    assert_eq!(
        inner.explanations[0].verdict,
        Verdict::NotAnnounced(Reason::NodeNotSelected {
            pool: "web".into(),
            bgp: true
        })
    );
    let edge_a = bgp_plan(
        &config,
        &node("n1", &[("edge", "true"), ("rack", "a")]),
        [&svc],
    );
    assert_eq!(
        edge_a.explanations[0].verdict,
        Verdict::NotAnnounced(Reason::NoPeer { pool: "web".into() }),
        "tor-b is not a peer of rack a"
    );
    let edge_b = bgp_plan(
        &config,
        &node("n1", &[("edge", "true"), ("rack", "b")]),
        [&svc],
    );
    assert!(edge_b.peers["tor-a"].is_empty());
    assert_eq!(routes_to(&edge_b, "tor-b"), [net("198.51.100.10/32")]);
}

#[test]
fn aggregation_lengths_announce_the_covering_block_once() {
    let config = config(
        r#"
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: web, namespace: metallb-system}
spec:
  ipAddressPools: [web]
  aggregationLength: 24
  aggregationLengthV6: 64
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor-v6, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64502, peerAddress: "2001:db8:ff::1"}
"#,
    );
    let a = service(
        "a",
        &["198.51.100.10", "2001:db8:1::10"],
        TrafficPolicy::Cluster,
        ready("n1"),
    );
    let b = service("b", &["198.51.100.99"], TrafficPolicy::Cluster, ready("n1"));
    let plan = bgp_plan(&config, &node("n1", &[]), [&a, &b]);
    assert_eq!(routes_to(&plan, "tor-a"), [net("198.51.100.0/24")]);
    assert_eq!(routes_to(&plan, "tor-v6"), [net("2001:db8:1::/64")]);
}

#[test]
fn two_advertisements_of_one_prefix_merge_their_communities() {
    let config = config(&format!(
        r#"{ADVERTISE_WEB}---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {{name: web-large, namespace: metallb-system}}
spec:
  ipAddressPools: [web]
  communities: ["large:64512:1:2"]
  localPref: 150
"#
    ));
    let svc = service(
        "www",
        &["198.51.100.10"],
        TrafficPolicy::Cluster,
        ready("n1"),
    );
    let plan = bgp_plan(&config, &node("n1", &[]), [&svc]);
    let attrs = &plan.peers["tor-a"][&net("198.51.100.10/32")];
    assert_eq!(
        attrs.communities().len() + attrs.large_communities().len(),
        2,
        "{attrs:?}"
    );
    assert_eq!(attrs.local_pref(), Some(150));
}

#[test]
fn the_verdict_explains_itself_in_words() {
    let config = config(ADVERTISE_WEB);
    let svc = service("www", &["198.51.100.10"], TrafficPolicy::Local, ready("n2"));
    let plan = bgp_plan(&config, &node("n1", &[]), [&svc]);
    let text = plan.explanations[0].verdict.to_string();
    assert_eq!(
        text,
        "not announced: externalTrafficPolicy is Local and no ready endpoint runs on this node"
    );
    let addr: IpAddr = "198.51.100.10".parse().unwrap();
    assert_eq!(plan.explanations[0].address, addr);
    let announced = bgp_plan(&config, &node("n2", &[]), [&svc]);
    assert_eq!(
        announced.explanations[0].verdict.to_string(),
        "announced to tor-a"
    );
}

#[test]
fn prefixes_go_to_peers_of_their_family_unless_dual_stack_is_asked() {
    let config = config(&format!(
        r#"{ADVERTISE_WEB}---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {{name: tor-v6, namespace: metallb-system}}
spec: {{myASN: 64512, peerASN: 64502, peerAddress: "2001:db8:ff::1"}}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {{name: tor-both, namespace: metallb-system}}
spec: {{myASN: 64512, peerASN: 64503, peerAddress: 10.0.0.3, dualStackAddressFamily: true}}
"#
    ));
    let svc = service(
        "www",
        &["198.51.100.10", "2001:db8:1::10"],
        TrafficPolicy::Cluster,
        ready("n1"),
    );
    let plan = bgp_plan(&config, &node("n1", &[]), [&svc]);
    assert_eq!(routes_to(&plan, "tor-a"), [net("198.51.100.10/32")]);
    assert_eq!(routes_to(&plan, "tor-v6"), [net("2001:db8:1::10/128")]);
    assert_eq!(
        routes_to(&plan, "tor-both"),
        [net("198.51.100.10/32"), net("2001:db8:1::10/128")]
    );
}

/// A Service with these labels.
fn labelled(
    name: &str,
    address: &str,
    labels: &[(&str, &str)],
) -> ferrolb_speaker::decide::ServiceState {
    let mut svc = service(name, &[address], TrafficPolicy::Cluster, ready("n1"));
    svc.labels = std::sync::Arc::new(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    svc
}

/// MetalLB's documented example: production Services with localPref 200,
/// staging Services with localPref 100, other Services not at all.
#[test]
fn service_selectors_choose_the_advertisement_of_each_service() {
    let config = config(
        r#"
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: production-services, namespace: metallb-system}
spec:
  ipAddressPools: [web]
  localPref: 200
  serviceSelectors: [{matchLabels: {environment: production}}]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: staging-services, namespace: metallb-system}
spec:
  ipAddressPools: [web]
  localPref: 100
  serviceSelectors: [{matchLabels: {environment: staging}}]
"#,
    );
    let prod = labelled("prod", "198.51.100.10", &[("environment", "production")]);
    let staging = labelled("staging", "198.51.100.11", &[("environment", "staging")]);
    let other = labelled("other", "198.51.100.12", &[("tier", "backend")]);
    let plan = bgp_plan(&config, &node("n1", &[]), [&prod, &staging, &other]);
    assert_eq!(
        routes_to(&plan, "tor-a"),
        [net("198.51.100.10/32"), net("198.51.100.11/32")]
    );
    let pref = |p: &str| plan.peers["tor-a"][&net(p)].local_pref();
    assert_eq!(pref("198.51.100.10/32"), Some(200));
    assert_eq!(pref("198.51.100.11/32"), Some(100));
    let other_verdict = &plan
        .explanations
        .iter()
        .find(|e| e.service.name() == "other")
        .expect("explained")
        .verdict;
    assert_eq!(
        other_verdict,
        &Verdict::NotAnnounced(Reason::ServiceNotSelected {
            pool: "web".into(),
            bgp: true
        })
    );
}

/// Two selecting advertisements that give one Service two LOCAL_PREFs:
/// MetalLB's speaker refuses the Service; so does FerroLB's.
#[test]
fn a_service_two_advertisements_give_two_local_prefs_is_refused() {
    let config = config(
        r#"
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: gold, namespace: metallb-system}
spec:
  ipAddressPools: [web]
  localPref: 200
  serviceSelectors: [{matchLabels: {tier: frontend}}]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: silver, namespace: metallb-system}
spec:
  ipAddressPools: [web]
  localPref: 100
  serviceSelectors: [{matchLabels: {env: prod}}]
"#,
    );
    let both = labelled(
        "both",
        "198.51.100.10",
        &[("tier", "frontend"), ("env", "prod")],
    );
    let one = labelled("one", "198.51.100.11", &[("tier", "frontend")]);
    let plan = bgp_plan(&config, &node("n1", &[]), [&both, &one]);
    assert_eq!(routes_to(&plan, "tor-a"), [net("198.51.100.11/32")]);
    assert_eq!(
        plan.explanations[0].verdict,
        Verdict::NotAnnounced(Reason::ConflictingLocalPref {
            first: "gold".into(),
            second: "silver".into()
        })
    );
}
