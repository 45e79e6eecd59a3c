//! The layer-2 decision, rule by rule, from MetalLB manifests.

mod common;

use common::{node, service};

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ferrolb_crds::config::Config;
use ferrolb_speaker::decide::fence::{Timing, TimingError, has_quorum};
use ferrolb_speaker::decide::interfaces::{Exclusion, Wanted, choose};
use ferrolb_speaker::decide::{
    ClusterView, EXCLUDE_LABEL, Endpoint, Fence, FenceState, InterfaceRules, L2Plan, L2Verdict,
    Link, LocalNode, Reason, ServiceState, TrafficPolicy, l2_plan,
};

const ADVERTISE_WEB: &str = r#"
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: web, namespace: metallb-system}
spec:
  ipAddressPools: [web]
"#;

fn config(extra: &str) -> Config {
    common::compile_yaml(&format!("{}---{extra}", common::POOLS))
}

/// [`ADVERTISE_WEB`] with more `spec` lines.
fn advertise_web_with(spec: &str) -> Config {
    config(&format!("{ADVERTISE_WEB}{spec}\n"))
}

fn cluster(names: &[&str]) -> ClusterView {
    ClusterView::new(names.iter().map(|n| node(n, &[])))
}

fn local(name: &str) -> LocalNode {
    LocalNode {
        name: name.to_string(),
        links: vec![Link::ethernet("eth0")],
        interface_rules: InterfaceRules::standard(),
        fence: FenceState::MayAnnounce,
    }
}

fn addr(s: &str) -> IpAddr {
    s.parse().expect("address literal")
}

fn cluster_svc(name: &str, addresses: &[&str]) -> ServiceState {
    service(
        name,
        addresses,
        TrafficPolicy::Cluster,
        vec![Endpoint::ready_on("n9")],
    )
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn reason(plan: &L2Plan, i: usize) -> Reason {
    match &plan.explanations[i].verdict {
        L2Verdict::NotAnnounced(reason) => reason.clone(),
        announced => panic!("expected a reason, got {announced}"),
    }
}

fn owned_by(node: &str) -> L2Verdict {
    L2Verdict::NotAnnounced(Reason::OwnedBy { node: node.into() })
}

// The expected owners come from MetalLB's digest, computed outside Rust:
//   printf 'n1#198.51.100.10' | sha256sum   -> d23d...
//   printf 'n2#198.51.100.10' | sha256sum   -> d386...
//   printf 'n3#198.51.100.10' | sha256sum   -> 9511...  (lowest: n3)
//   printf 'n1#2001:db8:1::10' | sha256sum  -> 58ef...  (lowest: n1)
//   printf 'n2#2001:db8:1::10' | sha256sum  -> f3df...
//   printf 'n3#2001:db8:1::10' | sha256sum  -> f450...
#[test]
fn the_owner_is_the_node_metallb_would_pick_and_every_node_agrees() {
    let config = config(ADVERTISE_WEB);
    let view = cluster(&["n1", "n2", "n3"]);
    let v4 = cluster_svc("v4", &["198.51.100.10"]);
    let v6 = cluster_svc("v6", &["2001:db8:1::10"]);
    for node in ["n1", "n2", "n3"] {
        let plan = l2_plan(&config, &local(node), &view, [&v4, &v6]);
        assert_eq!(
            plan.owners[&addr("198.51.100.10")],
            "n3",
            "seen from {node}"
        );
        assert_eq!(
            plan.owners[&addr("2001:db8:1::10")],
            "n1",
            "seen from {node}"
        );
    }
    let n3 = l2_plan(&config, &local("n3"), &view, [&v4, &v6]);
    assert_eq!(
        n3.explanations[0].verdict,
        L2Verdict::Announced {
            interfaces: names(&["eth0"])
        }
    );
    assert_eq!(n3.explanations[1].verdict, owned_by("n1"));
    assert_eq!(
        n3.addresses.keys().copied().collect::<Vec<_>>(),
        [addr("198.51.100.10")]
    );
}

#[test]
fn both_families_of_a_dual_stack_service_follow_its_first_address() {
    let config = config(ADVERTISE_WEB);
    let view = cluster(&["n1", "n2", "n3"]);
    // Alone, 2001:db8:1::10 would go to n1; keyed on 198.51.100.10, n3.
    let dual = cluster_svc("dual", &["198.51.100.10", "2001:db8:1::10"]);
    let plan = l2_plan(&config, &local("n3"), &view, [&dual]);
    assert_eq!(
        plan.addresses.keys().copied().collect::<Vec<_>>(),
        [addr("198.51.100.10"), addr("2001:db8:1::10")]
    );
    assert_eq!(plan.statuses[&dual.key].node, "n3");
}

#[test]
fn a_shared_address_has_one_owner_and_one_entry() {
    let config = config(ADVERTISE_WEB);
    let view = cluster(&["n1", "n2", "n3"]);
    // svc-a lists IPv6 first; svc-b shares only the IPv4 address. The
    // address's key is svc-a's first address for both, so they agree.
    let a = cluster_svc("svc-a", &["2001:db8:1::10", "198.51.100.10"]);
    let b = cluster_svc("svc-b", &["198.51.100.10"]);
    let plan = l2_plan(&config, &local("n1"), &view, [&b, &a]);
    assert_eq!(plan.owners[&addr("198.51.100.10")], "n1");
    assert_eq!(plan.addresses.len(), 2);
    assert_eq!(
        plan.statuses.keys().cloned().collect::<Vec<_>>(),
        [a.key.clone(), b.key.clone()]
    );
    assert_eq!(plan.explanations.len(), 3);
}

#[test]
fn pools_without_an_l2_advertisement_are_not_announced_and_say_so() {
    let config = config(ADVERTISE_WEB);
    let view = cluster(&["n1"]);
    let quiet = cluster_svc("db", &["203.0.113.7"]);
    let orphan = cluster_svc("old", &["192.0.2.1"]);
    let plan = l2_plan(&config, &local("n1"), &view, [&quiet, &orphan]);
    assert!(plan.addresses.is_empty());
    assert_eq!(
        reason(&plan, 0),
        Reason::PoolNotL2Advertised {
            pool: "quiet".into()
        }
    );
    assert_eq!(reason(&plan, 1), Reason::NotInAnyPool);
}

#[test]
fn an_advertisement_without_pools_announces_every_pool() {
    let config = config(
        r#"
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: all, namespace: metallb-system}
"#,
    );
    let quiet = cluster_svc("db", &["203.0.113.7"]);
    let plan = l2_plan(&config, &local("n1"), &cluster(&["n1"]), [&quiet]);
    assert_eq!(plan.addresses.len(), 1);
}

#[test]
fn only_live_selected_and_healthy_nodes_are_candidates() {
    let config = advertise_web_with("  nodeSelectors: [{matchLabels: {lan: front}}]");
    let svc = cluster_svc("www", &["198.51.100.10"]);
    let front = [("lan", "front")];
    let mut unavailable = node("n2", &front);
    unavailable.network_unavailable = true;
    let view = ClusterView::new([
        node("n1", &front),
        unavailable,
        node("n3", &[("lan", "front"), (EXCLUDE_LABEL, "")]),
        node("n4", &[("lan", "back")]),
    ]);
    // n3 would win (see above) but is excluded; n1 is the only candidate.
    let plan = l2_plan(&config, &local("n4"), &view, [&svc]);
    assert_eq!(plan.owners[&addr("198.51.100.10")], "n1");
    // Seen from the nodes left out, each says why it is no candidate.
    assert_eq!(
        reason(&plan, 0),
        Reason::NodeNotSelected {
            pool: "web".into(),
            bgp: false
        }
    );
    let plan = l2_plan(&config, &local("n3"), &view, [&svc]);
    assert_eq!(reason(&plan, 0), Reason::NodeExcluded);
    let plan = l2_plan(&config, &local("n2"), &view, [&svc]);
    assert_eq!(reason(&plan, 0), Reason::NodeNetworkUnavailable);

    let nobody = ClusterView::new([node("n4", &[("lan", "back")])]);
    let plan = l2_plan(&config, &local("n4"), &nobody, [&svc]);
    assert_eq!(reason(&plan, 0), Reason::NoCandidate { pool: "web".into() });

    // A node whose speaker is not in the view is no candidate, even itself.
    let plan = l2_plan(&config, &local("n1"), &cluster(&["n2"]), [&svc]);
    assert_eq!(reason(&plan, 0), Reason::NoCandidate { pool: "web".into() });
}

#[test]
fn cluster_policy_needs_a_ready_endpoint_anywhere() {
    let config = config(ADVERTISE_WEB);
    let mut gone = Endpoint::ready_on("n3");
    gone.ready = Some(false);
    gone.serving = Some(false);
    let svc = service(
        "www",
        &["198.51.100.10"],
        TrafficPolicy::Cluster,
        vec![gone],
    );
    let plan = l2_plan(&config, &local("n3"), &cluster(&["n1", "n3"]), [&svc]);
    assert_eq!(reason(&plan, 0), Reason::NoReadyEndpoint);
    assert!(plan.owners.is_empty());
}

#[test]
fn local_policy_owner_runs_an_endpoint_and_follows_it() {
    let config = config(ADVERTISE_WEB);
    let view = cluster(&["n1", "n2", "n3"]);
    let mut svc = service(
        "www",
        &["198.51.100.10"],
        TrafficPolicy::Local,
        vec![Endpoint::ready_on("n2")],
    );
    let plan = l2_plan(&config, &local("n2"), &view, [&svc]);
    assert_eq!(plan.owners[&addr("198.51.100.10")], "n2");

    svc.endpoints = [Endpoint::ready_on("n1"), Endpoint::ready_on("n2")].into();
    let plan = l2_plan(&config, &local("n2"), &view, [&svc]);
    assert_eq!(
        plan.explanations[0].verdict,
        owned_by("n1"),
        "n1 outranks n2 for this address"
    );

    svc.endpoints = [Endpoint::ready_on("n9")].into();
    let plan = l2_plan(&config, &local("n2"), &view, [&svc]);
    assert_eq!(
        reason(&plan, 0),
        Reason::NoCandidateWithLocalEndpoint { pool: "web".into() }
    );
}

#[test]
fn shared_local_services_without_a_common_node_are_not_announced() {
    let config = config(ADVERTISE_WEB);
    let view = cluster(&["n1", "n2"]);
    let a = service(
        "a",
        &["198.51.100.10"],
        TrafficPolicy::Local,
        vec![Endpoint::ready_on("n1")],
    );
    let b = service(
        "b",
        &["198.51.100.10"],
        TrafficPolicy::Local,
        vec![Endpoint::ready_on("n2")],
    );
    let plan = l2_plan(&config, &local("n1"), &view, [&a, &b]);
    assert!(plan.addresses.is_empty());
    assert_eq!(reason(&plan, 0), Reason::NoCommonCandidate);
    assert_eq!(reason(&plan, 1), Reason::NoCommonCandidate);

    // A sharing Service without endpoints does not veto the others.
    let c = service("c", &["198.51.100.10"], TrafficPolicy::Local, Vec::new());
    let plan = l2_plan(&config, &local("n1"), &view, [&a, &c]);
    assert_eq!(plan.owners[&addr("198.51.100.10")], "n1");
    assert_eq!(reason(&plan, 1), Reason::NoReadyEndpoint);
}

#[test]
fn a_fenced_owner_announces_nothing() {
    let config = config(ADVERTISE_WEB);
    let svc = cluster_svc("www", &["198.51.100.10"]);
    let mut n3 = local("n3");
    n3.fence = FenceState::Fenced {
        since: Instant::now(),
    };
    let plan = l2_plan(&config, &n3, &cluster(&["n1", "n2", "n3"]), [&svc]);
    assert!(plan.addresses.is_empty());
    assert!(plan.statuses.is_empty());
    assert_eq!(reason(&plan, 0), Reason::Fenced);
    assert_eq!(plan.owners[&addr("198.51.100.10")], "n3");
}

#[test]
fn the_advertisements_interfaces_are_used_and_missing_ones_reported() {
    let config = advertise_web_with("  interfaces: [eth1, bond0]");
    let svc = cluster_svc("www", &["198.51.100.10"]);
    let mut n1 = local("n1");
    n1.links = vec![
        Link::ethernet("eth0"),
        Link::ethernet("eth1"),
        Link::ethernet("docker0"),
    ];
    let plan = l2_plan(&config, &n1, &cluster(&["n1"]), [&svc]);
    assert_eq!(plan.addresses[&addr("198.51.100.10")], names(&["eth1"]));
    assert_eq!(plan.statuses[&svc.key].interfaces, names(&["eth1"]));

    n1.links = vec![Link::ethernet("eth0")];
    let plan = l2_plan(&config, &n1, &cluster(&["n1"]), [&svc]);
    assert_eq!(
        reason(&plan, 0),
        Reason::NoInterface {
            pool: "web".into(),
            missing: vec!["bond0".into(), "eth1".into()],
            excluded: vec!["eth0: not among the L2Advertisement's interfaces".into()],
        }
    );
}

#[test]
fn an_advertisement_without_interfaces_opens_all_of_them() {
    let config = config(&format!(
        r#"{ADVERTISE_WEB}---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {{name: web-eth1, namespace: metallb-system}}
spec:
  ipAddressPools: [web]
  interfaces: [eth1]
"#
    ));
    let svc = cluster_svc("www", &["198.51.100.10"]);
    let mut n1 = local("n1");
    n1.links = vec![Link::ethernet("eth0"), Link::ethernet("eth1")];
    let plan = l2_plan(&config, &n1, &cluster(&["n1"]), [&svc]);
    assert_eq!(
        plan.addresses[&addr("198.51.100.10")],
        names(&["eth0", "eth1"])
    );
}

#[test]
fn virtual_interfaces_and_unfit_links_are_excluded_with_a_reason() {
    let mut lo = Link::ethernet("lo");
    lo.loopback = true;
    let mut down = Link::ethernet("eth2");
    down.up = false;
    let mut port = Link::ethernet("eth3");
    port.enslaved = true;
    let mut ipvs = Link::ethernet("kube-ipvs0");
    ipvs.arp = false;
    let mut no_v6 = Link::ethernet("eth4");
    no_v6.ndp = false;
    let links = vec![
        Link::ethernet("eth0"),
        Link::ethernet("br0"),
        Link::ethernet("vxlan100"),
        Link::ethernet("docker0"),
        Link::ethernet("veth1a2b"),
        Link::ethernet("cali123"),
        Link::ethernet("lxc9f"),
        Link::ethernet("cilium_host"),
        Link::ethernet("vxlan.calico"),
        lo,
        down,
        port,
        ipvs,
        no_v6,
    ];
    let rules = InterfaceRules::standard();
    let v4 = choose(&links, &rules, &Wanted::All, addr("198.51.100.10"));
    assert_eq!(
        v4.eligible,
        names(&["br0", "eth0", "eth4", "vxlan100"]),
        "{:?}",
        v4.excluded
    );
    assert_eq!(
        v4.excluded["docker0"],
        Exclusion::Virtual {
            pattern: "^docker.*".into()
        }
    );
    assert!(matches!(v4.excluded["lo"], Exclusion::Virtual { .. }));
    assert_eq!(v4.excluded["eth2"], Exclusion::Down);
    assert_eq!(v4.excluded["eth3"], Exclusion::Enslaved);
    assert!(matches!(
        v4.excluded["kube-ipvs0"],
        Exclusion::Virtual { .. }
    ));

    let v6 = choose(&links, &rules, &Wanted::All, addr("2001:db8:1::10"));
    assert_eq!(v6.excluded["eth4"], Exclusion::NoNdp);
    assert!(v6.eligible.contains("eth0"));

    // Named interfaces bypass the name rules, never the link state.
    let listed = Wanted::Listed(names(&["docker0", "eth2", "lo"]));
    let choice = choose(&links, &rules, &listed, addr("198.51.100.10"));
    assert_eq!(choice.eligible, names(&["docker0"]));
    assert_eq!(choice.excluded["eth2"], Exclusion::Down);
    assert_eq!(choice.excluded["lo"], Exclusion::Loopback);
    assert_eq!(choice.excluded["eth0"], Exclusion::NotListed);
}

#[test]
fn the_exclusions_can_be_replaced_in_metallbs_format() {
    let links = vec![Link::ethernet("eth0"), Link::ethernet("docker0")];
    let rules = InterfaceRules::new(["^eth0$"]).expect("valid pattern");
    let choice = choose(&links, &rules, &Wanted::All, addr("198.51.100.10"));
    assert_eq!(choice.eligible, names(&["docker0"]));
    // MetalLB matches anywhere in the name: an unanchored "lo" also hits
    // "vlan-lo1", as it does there.
    let rules = InterfaceRules::new(["lo"]).expect("valid pattern");
    let links = vec![Link::ethernet("vlan-lo1")];
    let choice = choose(&links, &rules, &Wanted::All, addr("198.51.100.10"));
    assert!(choice.eligible.is_empty());
    assert!(
        InterfaceRules::new(["("]).is_err(),
        "bad regular expressions are refused"
    );
}

#[test]
fn the_status_names_the_node_service_and_interfaces() {
    let config = config(ADVERTISE_WEB);
    let svc = cluster_svc("www", &["198.51.100.10"]);
    let plan = l2_plan(&config, &local("n1"), &cluster(&["n1"]), [&svc]);
    let status = plan.statuses[&svc.key].to_api(&svc.key);
    assert_eq!(status.node, "n1");
    assert_eq!(status.service_name, "www");
    assert_eq!(status.service_namespace, "default");
    assert_eq!(status.interfaces.len(), 1);
    assert_eq!(status.interfaces[0].name, "eth0");
}

#[test]
fn the_verdict_explains_itself_in_words() {
    let config = config(ADVERTISE_WEB);
    let svc = cluster_svc("www", &["198.51.100.10"]);
    let view = cluster(&["n1", "n3"]);
    let n1 = l2_plan(&config, &local("n1"), &view, [&svc]);
    assert_eq!(
        n1.explanations[0].verdict.to_string(),
        "not announced: node n3 announces it"
    );
    let n3 = l2_plan(&config, &local("n3"), &view, [&svc]);
    assert_eq!(n3.explanations[0].verdict.to_string(), "announced on eth0");
    assert_eq!(
        Reason::Fenced.to_string(),
        "this node should announce it but reaches too few speakers of its cluster to be sure no other node does"
    );
}

fn set(list: &[&str]) -> BTreeSet<String> {
    names(list)
}

#[test]
fn quorum_is_a_strict_majority_of_the_known_members() {
    let five = set(&["a", "b", "c", "d", "e"]);
    // (this node, whom it reaches besides itself, expected)
    let cases: &[(&str, &[&str], bool)] = &[
        ("c", &["d", "e"], true),
        ("a", &["b"], false),
        ("a", &["b", "z"], false), // unknown members do not count
        ("e", &["a", "b", "c", "d"], true),
    ];
    for (this, reached, expected) in cases {
        assert_eq!(
            has_quorum(this, &set(reached), &five),
            *expected,
            "{this} reaching {reached:?}"
        );
    }
    assert!(
        !has_quorum("z", &five, &five),
        "a node outside the cluster never may"
    );
}

#[test]
fn one_node_always_announces_and_of_two_the_lower_name_holds_on() {
    let one = set(&["solo"]);
    assert!(has_quorum("solo", &BTreeSet::new(), &one));

    let two = set(&["a", "b"]);
    assert!(has_quorum("a", &set(&["b"]), &two));
    assert!(has_quorum("b", &set(&["a"]), &two));
    assert!(has_quorum("a", &BTreeSet::new(), &two), "a holds the tie");
    assert!(!has_quorum("b", &BTreeSet::new(), &two), "b yields");

    let four = set(&["a", "b", "c", "d"]);
    assert!(has_quorum("b", &set(&["a"]), &four));
    assert!(!has_quorum("c", &set(&["d"]), &four));
}

#[test]
fn the_fence_closes_at_once_and_opens_after_settling() {
    let t0 = Instant::now();
    let settle = Duration::from_millis(100);
    let known = set(&["a", "b", "c"]);
    let mut fence = Fence::new("a", settle, t0);
    assert_eq!(fence.state(), FenceState::Fenced { since: t0 });

    let all = set(&["b", "c"]);
    let t1 = t0 + Duration::from_millis(10);
    assert_eq!(
        fence.observe(t1, &all, &known),
        FenceState::Fenced { since: t0 }
    );
    assert_eq!(fence.next_deadline(), Some(t1 + settle));
    assert_eq!(
        fence.observe(t1 + settle, &all, &known),
        FenceState::MayAnnounce
    );
    assert_eq!(fence.next_deadline(), None);

    // Cut off from both peers: fenced at once.
    let t2 = t1 + Duration::from_secs(1);
    let alone = BTreeSet::new();
    assert_eq!(
        fence.observe(t2, &alone, &known),
        FenceState::Fenced { since: t2 }
    );
    // Back in touch, but a blip inside the settle time restarts it.
    let t3 = t2 + Duration::from_millis(500);
    fence.observe(t3, &all, &known);
    fence.observe(t3 + Duration::from_millis(50), &alone, &known);
    let t4 = t3 + Duration::from_millis(60);
    fence.observe(t4, &all, &known);
    assert_eq!(
        fence.observe(t4 + Duration::from_millis(99), &all, &known),
        FenceState::Fenced { since: t2 }
    );
    assert_eq!(
        fence.observe(t4 + settle, &all, &known),
        FenceState::MayAnnounce
    );
}

fn timing(suspect: u64, dead: u64, alive: u64, react: u64, settle: u64) -> Timing {
    let ms = Duration::from_millis;
    Timing {
        suspect_within: ms(suspect),
        dead_not_before: ms(dead),
        alive_within: ms(alive),
        react_within: ms(react),
        settle: ms(settle),
    }
}

#[test]
fn the_timing_rules_make_two_owners_impossible_or_say_for_how_long() {
    let ms = Duration::from_millis;
    let good = timing(30, 45, 40, 10, 60);
    assert_eq!(good.check(), Ok(()));
    assert_eq!(good.dual_announcement_bound(), Duration::ZERO);

    let early_takeover = timing(30, 35, 40, 10, 60);
    assert_eq!(early_takeover.dual_announcement_bound(), ms(5));
    assert!(matches!(
        early_takeover.check(),
        Err(TimingError::TakeoverBeforeFence { overlap, .. }) if overlap == ms(5)
    ));

    let quick_settle = timing(30, 45, 40, 10, 20);
    assert_eq!(quick_settle.dual_announcement_bound(), ms(30));
    assert!(matches!(
        quick_settle.check(),
        Err(TimingError::RejoinBeforeRelease { overlap, .. }) if overlap == ms(30)
    ));
}

fn labelled(name: &str, address: &str, labels: &[(&str, &str)]) -> ServiceState {
    common::with_labels(cluster_svc(name, &[address]), labels)
}

#[test]
fn service_selectors_limit_what_an_l2_advertisement_announces() {
    let config = advertise_web_with("  serviceSelectors: [{matchLabels: {tier: frontend}}]");
    let front = labelled("front", "198.51.100.10", &[("tier", "frontend")]);
    let back = labelled("back", "198.51.100.11", &[("tier", "backend")]);
    let view = cluster(&["n1"]);
    let plan = l2_plan(&config, &local("n1"), &view, [&front, &back]);
    assert_eq!(
        plan.addresses.keys().copied().collect::<Vec<_>>(),
        [addr("198.51.100.10")]
    );
    assert_eq!(
        reason(&plan, 0),
        Reason::ServiceNotSelected {
            pool: "web".into(),
            bgp: false
        }
    );
}

/// MetalLB's rule: a Service with `allow-shared-ip` is not announced in
/// layer 2 when an advertisement that selects it has service selectors,
/// even if another one without selectors selects it too.
#[test]
fn shared_ip_services_are_not_announced_by_selecting_l2_advertisements() {
    let config = config(&format!(
        "{ADVERTISE_WEB}  serviceSelectors: [{{matchLabels: {{tier: frontend}}}}]\n---\napiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {{name: all, namespace: metallb-system}}\n"
    ));
    let mut shared = labelled("shared", "198.51.100.10", &[("tier", "frontend")]);
    shared.shares_ip = true;
    let mut shared_elsewhere = labelled("shared2", "198.51.100.11", &[("tier", "backend")]);
    shared_elsewhere.shares_ip = true;
    let view = cluster(&["n1"]);
    let plan = l2_plan(&config, &local("n1"), &view, [&shared, &shared_elsewhere]);
    assert_eq!(reason(&plan, 0), Reason::SharedIpWithServiceSelectors);
    // Only the advertisement without selectors selects it: announced.
    assert!(plan.addresses.contains_key(&addr("198.51.100.11")));
}

/// MetalLB's `preferredNodeSelectors`: the highest score wins; the digest
/// decides among equal scores (for 198.51.100.10 it prefers n3, then n1,
/// then n2: see the digests above).
#[test]
fn preferred_node_selectors_outrank_the_digest() {
    let config = advertise_web_with(
        "  preferredNodeSelectors:\n  - {weight: 50, preference: {matchLabels: {zone: a}}}\n  - {weight: 10, preference: {matchLabels: {disk: ssd}}}",
    );
    let view = ClusterView::new([
        node("n1", &[("zone", "a")]),
        node("n2", &[("zone", "a"), ("disk", "ssd")]),
        node("n3", &[]),
    ]);
    let svc = cluster_svc("www", &["198.51.100.10"]);
    let owner = |view: &ClusterView| {
        l2_plan(&config, &local("n1"), view, [&svc]).owners[&addr("198.51.100.10")].clone()
    };
    assert_eq!(owner(&view), "n2", "60 beats 50 beats 0");
    // Without n2, n1's 50 beats n3's digest.
    let view = ClusterView::new([node("n1", &[("zone", "a")]), node("n3", &[])]);
    assert_eq!(owner(&view), "n1");
    // Equal scores: the digest, as without preferences.
    let view = ClusterView::new([node("n1", &[]), node("n3", &[])]);
    assert_eq!(owner(&view), "n3");
}
