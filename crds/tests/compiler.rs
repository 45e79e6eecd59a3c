//! The config compiler, rule by rule: each table row is a manifest and the
//! error line it must produce.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ferrolb_crds::config::{self, CompileError, Compiled, PeerAsn, PeerTarget, Resources};
use ferrolb_crds::manifest::read_yaml;

fn resources(yaml: &str) -> Resources {
    let mut r = Resources::default();
    let (_, errors) = read_yaml(yaml, &mut r);
    assert!(errors.is_empty(), "manifest errors: {errors:?}");
    r
}

fn compile(yaml: &str) -> Result<Compiled, CompileError> {
    config::compile(&resources(yaml))
}

fn error_lines(yaml: &str) -> Vec<String> {
    match compile(yaml) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

fn pool(name: &str, addresses: &[&str]) -> String {
    let list: Vec<String> = addresses.iter().map(|a| format!("  - \"{a}\"")).collect();
    format!(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  addresses:\n{}\n---\n",
        list.join("\n")
    )
}

fn peer(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n{spec}\n---\n"
    )
}

fn object(kind: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: metallb.io/v1beta1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n{spec}\n---\n"
    )
}

const PEER_OK: &str = "  myASN: 64500\n  peerASN: 64501\n  peerAddress: 10.0.0.1";

#[test]
fn every_rule_reports_kind_object_field_and_reason() {
    let table: Vec<(&str, String, &str)> = vec![
        (
            "malformed CIDR",
            pool("pool-a", &["10.0.0.0/24", "10.0.0.300/32"]),
            r#"IPAddressPool default/pool-a: spec.addresses[1]: "10.0.0.300/32" is not a CIDR or range"#,
        ),
        (
            "malformed range",
            pool("p", &["10.0.0.1-10.0.0"]),
            r#"IPAddressPool default/p: spec.addresses[0]: "10.0.0.1-10.0.0" is not a CIDR or range"#,
        ),
        (
            "reversed range",
            pool("p", &["10.0.0.9-10.0.0.1"]),
            "spec.addresses[0]: \"10.0.0.9-10.0.0.1\": start 10.0.0.9 is after end 10.0.0.1",
        ),
        (
            "mixed families",
            pool("p", &["10.0.0.1-fc00::1"]),
            "start and end are of different IP families",
        ),
        (
            "malformed IPv6",
            pool("p", &["fc00::g/64"]),
            r#"spec.addresses[0]: "fc00::g/64" is not a CIDR or range"#,
        ),
        (
            "empty pool",
            object("IPAddressPool", "p", "  addresses: []"),
            "IPAddressPool default/p: spec.addresses: a pool needs at least one address",
        ),
        (
            "overlap between pools",
            pool("a", &["10.0.0.0/24"]) + &pool("b", &["10.0.0.128-10.0.0.130"]),
            "IPAddressPool default/b: spec.addresses[0]: 10.0.0.128-10.0.0.130 overlaps 10.0.0.0/24 of IPAddressPool default/a",
        ),
        (
            "overlap within a pool",
            pool("a", &["fc00::/120", "fc00::10-fc00::20"]),
            "IPAddressPool default/a: spec.addresses[1]: fc00::10-fc00::20 overlaps fc00::/120 of IPAddressPool default/a",
        ),
        (
            "duplicate pool name",
            pool("a", &["10.0.0.0/24"])
                + &pool("a", &["10.1.0.0/24"]).replace("namespace: default", "namespace: other"),
            "IPAddressPool other/a: metadata.name: name is already used by IPAddressPool default/a",
        ),
        (
            "duplicate namespace in serviceAllocation",
            object(
                "IPAddressPool",
                "p",
                "  addresses: [10.0.0.0/24]\n  serviceAllocation:\n    namespaces: [a, a]",
            ),
            r#"spec.serviceAllocation.namespaces[1]: "a" is listed twice"#,
        ),
        (
            "invalid selector",
            object(
                "IPAddressPool",
                "p",
                "  addresses: [10.0.0.0/24]\n  serviceAllocation:\n    serviceSelectors:\n    - matchExpressions:\n      - {key: app, operator: In}",
            ),
            "spec.serviceAllocation.serviceSelectors[0]: matchExpressions[0] (key \"app\"): operator In needs at least one value",
        ),
        (
            "invalid label key",
            object(
                "L2Advertisement",
                "l2",
                "  nodeSelectors:\n  - matchLabels: {\"bad key\": x}",
            ),
            r#"L2Advertisement default/l2: spec.nodeSelectors[0].matchLabels: "bad key" is not a valid label key"#,
        ),
        (
            "invalid label value",
            object(
                "BGPAdvertisement",
                "b",
                "  nodeSelectors:\n  - matchExpressions:\n    - {key: zone, operator: In, values: [\"-a\"]}",
            ),
            r#"spec.nodeSelectors[0].matchExpressions[0].values[0]: "-a" is not a valid label value"#,
        ),
        (
            "duplicate selector",
            object(
                "L2Advertisement",
                "l2",
                "  nodeSelectors:\n  - matchLabels: {a: b}\n  - matchLabels: {a: b}",
            ),
            "L2Advertisement default/l2: spec.nodeSelectors[1]: the same selector is listed twice",
        ),
        (
            "aggregation shorter than the pool prefix",
            pool("p", &["10.0.0.0/24"])
                + &object("BGPAdvertisement", "adv", "  aggregationLength: 16"),
            "BGPAdvertisement default/adv: spec.aggregationLength: aggregation length /16 is shorter than /24, the largest block of 10.0.0.0-10.0.0.255 in IPAddressPool default/p",
        ),
        (
            "aggregation shorter than a range's largest block",
            pool("p", &["10.0.0.10-10.0.0.20"])
                + &object("BGPAdvertisement", "adv", "  aggregationLength: 24"),
            "aggregation length /24 is shorter than /30",
        ),
        (
            "IPv6 aggregation out of range",
            pool("p", &["fc00::/120"])
                + &object("BGPAdvertisement", "adv", "  aggregationLengthV6: 129"),
            "BGPAdvertisement default/adv: spec.aggregationLengthV6: 129 is out of range 0..=128",
        ),
        (
            "IPv4 aggregation out of range",
            pool("p", &["10.0.0.0/24"])
                + &object("BGPAdvertisement", "adv", "  aggregationLength: 33"),
            "spec.aggregationLength: 33 is out of range 1..=32",
        ),
        (
            "IPv4 aggregation of 0",
            pool("p", &["10.0.0.0/24"])
                + &object("BGPAdvertisement", "adv", "  aggregationLength: 0"),
            "spec.aggregationLength: 0 is out of range 1..=32",
        ),
        (
            "peer port out of range",
            peer("p", &format!("{PEER_OK}\n  peerPort: 20000")),
            "BGPPeer default/p: spec.peerPort: 20000 is out of range 1..=16384",
        ),
        (
            "CIDR with spaces",
            pool("p", &[" 10.0.0.0/24"]),
            r#"spec.addresses[0]: " 10.0.0.0/24" is not a CIDR or range"#,
        ),
        (
            "conflicting LOCAL_PREF",
            pool("p", &["10.0.0.0/24"])
                + &object("BGPAdvertisement", "a1", "  localPref: 100")
                + &object("BGPAdvertisement", "a2", "  localPref: 200"),
            "BGPAdvertisement default/a2: spec.localPref: localPref 200 conflicts with localPref 100 of BGPAdvertisement default/a1 for IPAddressPool default/p",
        ),
        (
            "invalid community value",
            pool("p", &["10.0.0.0/24"])
                + &object("BGPAdvertisement", "a", "  communities: [\"65536:1\"]"),
            r#"BGPAdvertisement default/a: spec.communities[0]: "65536:1": "65536" is not a number in 0..=65535"#,
        ),
        (
            "unknown community alias",
            pool("p", &["10.0.0.0/24"]) + &object("BGPAdvertisement", "a", "  communities: [nope]"),
            r#"spec.communities[0]: "nope" is neither a community value nor a Community alias"#,
        ),
        (
            "invalid alias value",
            object(
                "Community",
                "c",
                "  communities:\n  - {name: x, value: \"large:1:2\"}",
            ),
            r#"Community default/c: spec.communities[0].value: "large:1:2": not a community"#,
        ),
        (
            "duplicate alias",
            object(
                "Community",
                "c1",
                "  communities:\n  - {name: x, value: \"1:1\"}",
            ) + &object(
                "Community",
                "c2",
                "  communities:\n  - {name: x, value: \"1:2\"}",
            ),
            r#"Community default/c2: spec.communities[0].name: alias "x" is already defined by Community default/c1"#,
        ),
        (
            "duplicate pool in an advertisement",
            pool("p", &["10.0.0.0/24"])
                + &object("L2Advertisement", "l2", "  ipAddressPools: [p, p]"),
            r#"L2Advertisement default/l2: spec.ipAddressPools[1]: "p" is listed twice"#,
        ),
        (
            "BFD profile that does not exist",
            peer("p", &format!("{PEER_OK}\n  bfdProfile: fast")),
            r#"BGPPeer default/p: spec.bfdProfile: BFDProfile "fast" does not exist"#,
        ),
        (
            "password with passwordSecret",
            peer(
                "p",
                &format!("{PEER_OK}\n  password: x\n  passwordSecret: {{name: s}}"),
            ),
            "BGPPeer default/p: spec.passwordSecret: password and passwordSecret are mutually exclusive",
        ),
        (
            "missing password secret",
            peer("p", &format!("{PEER_OK}\n  passwordSecret: {{name: s}}")),
            r#"spec.passwordSecret.name: Secret "s" does not exist in FerroLB's namespace"#,
        ),
        (
            "password secret of the wrong type",
            peer("p", &format!("{PEER_OK}\n  passwordSecret: {{name: s}}"))
                + "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: x}\n",
            r#"Secret "s" must be of type kubernetes.io/basic-auth"#,
        ),
        (
            "password secret without password",
            peer("p", &format!("{PEER_OK}\n  passwordSecret: {{name: s}}"))
                + "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/basic-auth\nstringData: {username: x}\n",
            r#"Secret "s" has no key "password""#,
        ),
        (
            "hold time below 3s",
            peer("p", &format!("{PEER_OK}\n  holdTime: 2s")),
            "BGPPeer default/p: spec.holdTime: hold time \"2s\" must be 0 or at least 3s",
        ),
        (
            "keepalive derived hold time below 3s",
            peer("p", &format!("{PEER_OK}\n  keepaliveTime: 500ms")),
            "spec.keepaliveTime: hold time \"1.5s\" must be 0 or at least 3s",
        ),
        (
            "keepalive above hold",
            peer(
                "p",
                &format!("{PEER_OK}\n  holdTime: 30s\n  keepaliveTime: 40s"),
            ),
            "spec.keepaliveTime: keepalive time \"40s\" exceeds hold time \"30s\"",
        ),
        (
            "malformed duration",
            peer("p", &format!("{PEER_OK}\n  holdTime: \"90\"")),
            r#"spec.holdTime: "90": missing unit"#,
        ),
        (
            "connect time out of range",
            peer("p", &format!("{PEER_OK}\n  connectTime: 1500ms")),
            r#"spec.connectTime: connect time "1500ms" must be a whole number of seconds in 1s..=65535s"#,
        ),
        (
            "ebgpMultiHop on iBGP",
            peer(
                "p",
                "  myASN: 64500\n  peerASN: 64500\n  peerAddress: 10.0.0.1\n  ebgpMultiHop: true",
            ),
            "BGPPeer default/p: spec.ebgpMultiHop: ebgpMultiHop is set on an iBGP peer",
        ),
        (
            "ebgpMultiHop on dynamic internal",
            peer(
                "p",
                "  myASN: 64500\n  dynamicASN: internal\n  peerAddress: 10.0.0.1\n  ebgpMultiHop: true",
            ),
            "ebgpMultiHop is set on an iBGP peer",
        ),
        (
            "both peerASN and dynamicASN",
            peer(
                "p",
                "  myASN: 64500\n  peerASN: 1\n  dynamicASN: external\n  peerAddress: 10.0.0.1",
            ),
            "BGPPeer default/p: spec.peerASN: exactly one of peerASN and dynamicASN must be set",
        ),
        (
            "neither peerASN nor dynamicASN",
            peer("p", "  myASN: 64500\n  peerAddress: 10.0.0.1"),
            "exactly one of peerASN and dynamicASN must be set",
        ),
        (
            "both peerAddress and interface",
            peer(
                "p",
                "  myASN: 64500\n  peerASN: 1\n  peerAddress: 10.0.0.1\n  interface: eth0",
            ),
            "BGPPeer default/p: spec.peerAddress: exactly one of peerAddress and interface must be set",
        ),
        (
            "neither peerAddress nor interface",
            peer("p", "  myASN: 64500\n  peerASN: 1"),
            "exactly one of peerAddress and interface must be set",
        ),
        (
            "bad peer address",
            peer(
                "p",
                "  myASN: 64500\n  peerASN: 1\n  peerAddress: 10.0.0.256",
            ),
            r#"spec.peerAddress: "10.0.0.256" is not an IP address"#,
        ),
        (
            "bad source address",
            peer("p", &format!("{PEER_OK}\n  sourceAddress: nope")),
            r#"spec.sourceAddress: "nope" is not an IP address"#,
        ),
        (
            "IPv6 router ID",
            peer("p", &format!("{PEER_OK}\n  routerID: \"fc00::1\"")),
            r#"spec.routerID: "fc00::1" is not an IPv4 address"#,
        ),
        (
            "missing local ASN",
            peer("p", "  myASN: 0\n  peerASN: 1\n  peerAddress: 10.0.0.1"),
            "BGPPeer default/p: spec.myASN: must not be 0",
        ),
        (
            "duplicate peer",
            peer("p1", PEER_OK) + &peer("p2", PEER_OK),
            "BGPPeer default/p2: spec.peerAddress: peer 10.0.0.1 is already defined by BGPPeer default/p1",
        ),
        (
            "BFD value out of range",
            object("BFDProfile", "b", "  detectMultiplier: 1"),
            "BFDProfile default/b: spec.detectMultiplier: 1 is out of range 2..=255",
        ),
        (
            "BFD interval out of range",
            object("BFDProfile", "b", "  receiveInterval: 70000"),
            "spec.receiveInterval: 70000 is out of range 10..=60000",
        ),
        (
            "BFD echo with an IPv6 pool",
            pool("p", &["fc00::/120"])
                + &object("BFDProfile", "echo", "  echoMode: true")
                + &peer("peer", &format!("{PEER_OK}\n  bfdProfile: echo"))
                + &object("BGPAdvertisement", "a", "  ipAddressPools: [p]"),
            r#"BGPPeer default/peer: spec.bfdProfile: BFD echo mode (BFDProfile "echo") does not work for IPv6"#,
        ),
    ];
    let mut failures = Vec::new();
    for (name, yaml, want) in &table {
        let lines = error_lines(yaml);
        if !lines.iter().any(|l| l.contains(want)) {
            failures.push(format!(
                "{name}: want a line containing\n    {want}\n  got {lines:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn references_metallb_tolerates_are_warnings() {
    let yaml = pool("p", &["10.0.0.0/24"])
        + &object("L2Advertisement", "l2", "  ipAddressPools: [p, later]")
        + &object("BGPAdvertisement", "b", "  peers: [nobody]");
    let compiled = compile(&yaml).expect("compiles");
    let warnings: Vec<String> = compiled.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            r#"L2Advertisement default/l2: spec.ipAddressPools[1]: IPAddressPool "later" does not exist"#,
            r#"BGPAdvertisement default/b: spec.peers[0]: BGPPeer "nobody" does not exist"#,
        ]
    );
    let l2 = &compiled.config.l2_advertisements[0];
    assert_eq!(l2.pools.iter().collect::<Vec<_>>(), ["p"]);
}

#[test]
fn unannounced_pools_are_warnings() {
    let compiled = compile(&pool("p", &["10.0.0.0/24"])).expect("compiles");
    let warnings: Vec<String> = compiled.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "IPAddressPool default/p: metadata.name: no L2Advertisement or BGPAdvertisement announces this pool: its addresses are assigned but unreachable"
        ]
    );
}

#[test]
fn local_prefs_may_differ_when_metallb_allows_it() {
    let base = pool("p", &["10.0.0.0/24", "fc00::/120"]);
    let allowed = [
        // Different aggregation lengths for both families.
        object("BGPAdvertisement", "a1", "  localPref: 100")
            + &object(
                "BGPAdvertisement",
                "a2",
                "  localPref: 200\n  aggregationLength: 24\n  aggregationLengthV6: 120",
            ),
        // Disjoint peers.
        object("BGPAdvertisement", "a1", "  localPref: 100\n  peers: [x]")
            + &object("BGPAdvertisement", "a2", "  localPref: 200\n  peers: [y]"),
        // Different nodes.
        object(
            "BGPAdvertisement",
            "a1",
            "  localPref: 100\n  nodeSelectors: [{matchLabels: {a: b}}]",
        ) + &object("BGPAdvertisement", "a2", "  localPref: 200"),
    ];
    for case in allowed {
        let yaml = base.clone() + &case;
        let lines = error_lines(&yaml);
        assert!(lines.is_empty(), "{case}: {lines:?}");
    }
}

/// MetalLB compares aggregation lengths only for the families the pool
/// has, and leaves advertisements with service selectors out of the rule.
#[test]
fn local_pref_rule_compares_the_pools_families_only() {
    let transit = object(
        "BGPAdvertisement",
        "local",
        "  aggregationLength: 32\n  localPref: 100",
    ) + &object("BGPAdvertisement", "external", "  aggregationLength: 24");
    // MetalLB's documented example: an IPv4-only pool.
    let v4_only = pool("p", &["198.51.100.0/24"]) + &transit;
    assert_eq!(error_lines(&v4_only), Vec::<String>::new());
    // An IPv6-only pool: only aggregationLengthV6 counts.
    let v6 = object(
        "BGPAdvertisement",
        "a1",
        "  aggregationLengthV6: 128\n  localPref: 100",
    ) + &object("BGPAdvertisement", "a2", "  aggregationLengthV6: 64");
    assert!(error_lines(&(pool("p6", &["fc00::/64"]) + &v6)).is_empty());
    // The IPv4 lengths differ but the pool is IPv6-only: same routes.
    assert_eq!(
        error_lines(&(pool("p6", &["fc00::/64"]) + &transit)).len(),
        1,
        "both announce each IPv6 address as a /128"
    );
    // A dual-stack pool: the IPv6 routes would still collide.
    assert_eq!(
        error_lines(&(pool("p", &["198.51.100.0/24", "fc00::/120"]) + &transit)),
        vec![
            "BGPAdvertisement default/local: spec.localPref: localPref 100 conflicts with localPref 0 of BGPAdvertisement default/external for IPAddressPool default/p (same aggregation for the pool's families, peers and nodes)"
        ]
    );
}

#[test]
fn local_pref_rule_skips_advertisements_with_service_selectors() {
    let yaml = pool("p", &["198.51.100.0/24"])
        + &object(
            "BGPAdvertisement",
            "production",
            "  localPref: 200\n  serviceSelectors: [{matchLabels: {environment: production}}]",
        )
        + &object(
            "BGPAdvertisement",
            "staging",
            "  localPref: 100\n  serviceSelectors: [{matchLabels: {environment: staging}}]",
        )
        + &object("BGPAdvertisement", "plain", "  localPref: 50");
    assert_eq!(error_lines(&yaml), Vec::<String>::new());
}

#[test]
fn metallbs_documented_local_pref_examples_compile() {
    for file in [
        "metallb-doc-bgp-aggregation-localpref.yaml",
        "metallb-doc-bgp-service-selectors.yaml",
    ] {
        let path = format!("{}/tests/manifests/good/{file}", env!("CARGO_MANIFEST_DIR"));
        let yaml = std::fs::read_to_string(&path).expect("read example");
        let compiled = compile(&yaml).unwrap_or_else(|e| panic!("{file}: {:?}", e.errors));
        let prefs: Vec<Option<u32>> = compiled
            .config
            .bgp_advertisements
            .iter()
            .map(|a| a.local_pref)
            .collect();
        assert_eq!(prefs.len(), 2, "{file}");
        assert!(prefs.iter().any(Option::is_some), "{file}");
    }
}

#[test]
fn compiles_typed_values_with_metallb_defaults() {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/manifests/good/metallb-docs.yaml"
    ))
    .expect("read");
    let compiled = compile(&yaml).unwrap_or_else(|e| panic!("{:#?}", e.errors));
    assert!(compiled.warnings.is_empty(), "{:?}", compiled.warnings);
    let c = &compiled.config;

    let first = &c.pools["first-pool"];
    assert_eq!(first.ranges.len(), 2);
    assert_eq!(first.ipv4_ranges().count(), 1);
    assert_eq!(first.ipv6_ranges().count(), 1);
    assert!(first.auto_assign && !first.avoid_buggy_ips);
    assert!(first.is_dual_stack());
    assert!(expensive_contains(&c.pools["expensive"]));
    let expensive = &c.pools["expensive"];
    assert!(!expensive.auto_assign && expensive.avoid_buggy_ips);
    let alloc = c.pools["ns-pool"]
        .service_allocation
        .as_ref()
        .expect("allocation");
    assert_eq!(alloc.priority, Some(50));
    assert_eq!(alloc.namespaces.len(), 2);
    assert_eq!(alloc.namespace_selectors.len(), 1);
    assert_eq!(alloc.service_selectors.len(), 1);

    let sample = &c.peers["sample"];
    assert_eq!(sample.peer_asn, PeerAsn::Fixed(64501));
    assert_eq!(
        sample.target,
        PeerTarget::Address(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
    );
    assert_eq!(sample.port, 179);
    assert_eq!(sample.timers.hold_time(), Duration::from_secs(90));
    assert_eq!(sample.bfd_profile, None);
    assert!(!sample.is_ibgp());
    assert!(c.peers["ibgp"].is_ibgp());
    assert_eq!(
        c.peers["ibgp"].password.as_ref().map(|p| p.0.as_str()),
        Some("s3cret")
    );
    assert!(!format!("{:?}", c.peers["ibgp"]).contains("s3cret"));
    let dynamic = &c.peers["dynamic"];
    assert_eq!(
        dynamic.target,
        PeerTarget::Address(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)))
    );
    assert_eq!(dynamic.connect_time, Some(Duration::from_secs(5)));
    assert!(dynamic.ebgp_multi_hop && dynamic.vrf.is_none());
    let legacy = &c.peers["legacy"];
    assert_eq!(legacy.port, 1179);
    assert_eq!(legacy.timers.keepalive_time(), Duration::from_secs(3));
    assert_eq!(
        legacy.password.as_ref().map(|p| p.0.as_str()),
        Some("hunter2")
    );

    let full = &c.bfd_profiles["full1"];
    assert_eq!(full.receive_interval, Duration::from_millis(380));
    assert_eq!(full.detect_multiplier, 37);
    assert!(full.passive_mode && !full.echo_mode);
    let defaults = &c.bfd_profiles["defaults"];
    assert_eq!(defaults.transmit_interval, Duration::from_millis(300));
    assert_eq!(defaults.echo_interval, Duration::from_millis(50));
    assert_eq!((defaults.detect_multiplier, defaults.minimum_ttl), (3, 254));

    let local = c
        .bgp_advertisements
        .iter()
        .find(|a| a.name == "local")
        .expect("local");
    assert_eq!(local.local_pref, Some(100));
    assert_eq!(local.communities.len(), 4);
    let everything = c
        .bgp_advertisements
        .iter()
        .find(|a| a.name == "everything")
        .expect("all");
    assert_eq!(everything.pools.len(), 3);
    assert_eq!(
        (
            everything.aggregation_length_v4,
            everything.aggregation_length_v6
        ),
        (32, 128)
    );
    assert_eq!(everything.local_pref, None);
    let selected = c
        .bgp_advertisements
        .iter()
        .find(|a| a.name == "selected")
        .expect("selected");
    assert_eq!(selected.pools.iter().collect::<Vec<_>>(), ["first-pool"]);
    assert_eq!(c.bgp_advertisements_for("expensive").count(), 1);
    assert_eq!(c.l2_advertisements_for("expensive").count(), 2);
    let l2 = c
        .l2_advertisements
        .iter()
        .find(|a| a.name == "l2")
        .expect("l2");
    assert_eq!(l2.interfaces, ["eth0", "eth1"]);
}

#[test]
fn timers_follow_metallb_derivations() {
    let cases = [
        ("", 90, 30),
        ("\n  holdTime: 9s", 9, 3),
        ("\n  keepaliveTime: 10s", 30, 10),
        ("\n  holdTime: 0s", 0, 0),
        ("\n  holdTime: 1m30s\n  keepaliveTime: 1m", 90, 60),
    ];
    for (extra, hold, keepalive) in cases {
        let compiled = compile(&peer("p", &format!("{PEER_OK}{extra}"))).expect("compiles");
        let t = compiled.config.peers["p"].timers;
        assert_eq!(
            (t.hold_time(), t.keepalive_time()),
            (Duration::from_secs(hold), Duration::from_secs(keepalive)),
            "{extra}"
        );
    }
}

#[test]
fn result_does_not_depend_on_object_order() {
    let docs = [
        pool("a", &["10.0.0.0/24"]),
        pool("b", &["10.0.1.0/24"]),
        object("BGPAdvertisement", "x", "  localPref: 1"),
        object("BGPAdvertisement", "y", "  localPref: 1"),
        peer("p", PEER_OK),
    ];
    let forward = compile(&docs.concat()).expect("compiles");
    let backward = compile(&docs.iter().rev().cloned().collect::<String>()).expect("compiles");
    assert_eq!(forward, backward);
}

fn expensive_contains(p: &config::Pool) -> bool {
    p.contains("192.168.9.3".parse().expect("ip"))
        && !p.contains("192.168.9.6".parse().expect("ip"))
}

const NODES: &str = "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels: {rack: a}\nstatus:\n  addresses:\n  - {type: InternalIP, address: 10.0.0.7}\n  - {type: Hostname, address: n1}\n---\napiVersion: v1\nkind: Node\nmetadata:\n  name: n2\n  labels: {rack: b}\n---\n";

#[test]
fn with_nodes_pools_must_not_contain_node_addresses() {
    let yaml = NODES.to_string() + &pool("p", &["10.0.0.0/24"]);
    assert_eq!(
        error_lines(&yaml),
        [
            "IPAddressPool default/p: spec.addresses[0]: 10.0.0.0/24 contains 10.0.0.7, an address of node n1"
        ]
    );
    // Without nodes the check cannot run.
    assert!(error_lines(&pool("p", &["10.0.0.0/24"])).is_empty());
}

#[test]
fn with_nodes_local_pref_conflicts_use_the_selected_nodes() {
    let base = NODES.to_string() + &pool("p", &["10.1.0.0/24"]);
    let same_node_different_selectors = object(
        "BGPAdvertisement",
        "a1",
        "  localPref: 100\n  nodeSelectors: [{matchLabels: {rack: a}}]",
    ) + &object("BGPAdvertisement", "a2", "  localPref: 200");
    assert_eq!(
        error_lines(&(base.clone() + &same_node_different_selectors)).len(),
        1,
        "n1 is selected by both"
    );
    let disjoint_nodes = object(
        "BGPAdvertisement",
        "a1",
        "  localPref: 100\n  nodeSelectors: [{matchLabels: {rack: a}}]",
    ) + &object(
        "BGPAdvertisement",
        "a2",
        "  localPref: 200\n  nodeSelectors: [{matchLabels: {rack: b}}]",
    );
    assert!(error_lines(&(base + &disjoint_nodes)).is_empty());
}

#[test]
fn a_vrf_is_honoured_when_it_can_name_a_device() {
    let compiled = compile(&peer("p", &format!("{PEER_OK}\n  vrf: red"))).expect("compiles");
    assert_eq!(compiled.config.peers["p"].vrf.as_deref(), Some("red"));
    for bad in ["a/b", "vrf-name-too-long", "\"a b\"", "x:y", ".."] {
        let lines = error_lines(&peer("p", &format!("{PEER_OK}\n  vrf: {bad}")));
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("BGPPeer default/p: spec.vrf: ")
                    && l.contains("cannot name a VRF device")),
            "{bad}: {lines:?}"
        );
    }
}

/// A v1beta1 BGPPeer (16-bit ASNs, no v1beta2-only fields).
fn peer_v1beta1(name: &str, spec: &str) -> String {
    peer(name, spec).replacen("v1beta2", "v1beta1", 1)
}

/// MetalLB's v1beta1 BGPPeer takes 4-byte ASNs (its served schema's
/// maximum is 4294967295); the compiler and FerroLB's CRD agree.
#[test]
fn v1beta1_peers_take_four_byte_asns_as_in_metallb() {
    let yaml = peer_v1beta1(
        "p",
        "  myASN: 4200000000\n  peerASN: 4200000001\n  peerAddress: 10.0.0.1",
    );
    let compiled = compile(&yaml).expect("compiles");
    assert_eq!(compiled.config.peers["p"].my_asn, 4_200_000_000);
}

/// BFD runs where its BGP session does: bound to the VRF's device, or to
/// an unnumbered peer's link.
#[test]
fn bfd_in_a_vrf_and_over_an_unnumbered_link_compiles() {
    for (what, spec) in [
        (
            "in a VRF",
            format!("{PEER_OK}\n  vrf: red\n  bfdProfile: b"),
        ),
        (
            "unnumbered",
            "  myASN: 64500\n  dynamicASN: external\n  interface: eth0\n  bfdProfile: b"
                .to_string(),
        ),
    ] {
        let yaml = peer("p", &spec) + &object("BFDProfile", "b", "  detectMultiplier: 3");
        let compiled = compile(&yaml).unwrap_or_else(|e| panic!("BFD {what}: {e:?}"));
        assert_eq!(compiled.config.peers["p"].bfd_profile.as_deref(), Some("b"));
    }
}

#[test]
fn bgppeer_and_bfdprofile_fields_ferrolb_cannot_honour_are_refused_by_name() {
    const UNNUMBERED: &str = "  myASN: 64500\n  dynamicASN: external\n  interface: eth0";
    let table: Vec<(&str, String, &str)> = vec![
        (
            "interface with vrf",
            peer("p", &format!("{UNNUMBERED}\n  vrf: red")),
            "BGPPeer default/p: spec.vrf: vrf is not supported together with interface (unnumbered peering) yet",
        ),
        (
            "interface with password",
            peer("p", &format!("{UNNUMBERED}\n  password: s")),
            "BGPPeer default/p: spec.password: password is not supported together with interface",
        ),
        (
            "interface with sourceAddress",
            peer("p", &format!("{UNNUMBERED}\n  sourceAddress: 10.0.0.11")),
            "BGPPeer default/p: spec.sourceAddress: sourceAddress is not supported together with interface",
        ),
        (
            "interface with disableMP",
            peer("p", &format!("{UNNUMBERED}\n  disableMP: true")),
            "BGPPeer default/p: spec.disableMP: disableMP is not supported together with interface",
        ),
        (
            "interface that cannot name a device",
            peer(
                "p",
                "  myASN: 64500\n  dynamicASN: external\n  interface: a/b",
            ),
            r#"BGPPeer default/p: spec.interface: "a/b" cannot name an interface"#,
        ),
        (
            "disableMP with dualStackAddressFamily",
            peer(
                "p",
                &format!("{PEER_OK}\n  disableMP: true\n  dualStackAddressFamily: true"),
            ),
            "BGPPeer default/p: spec.disableMP: disableMP (one session per address family) and dualStackAddressFamily (both families over one session) contradict each other",
        ),
        (
            "passwordSecret in another namespace",
            peer(
                "p",
                &format!("{PEER_OK}\n  passwordSecret: {{name: s, namespace: other}}"),
            ) + "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\ntype: kubernetes.io/basic-auth\nstringData: {password: x}\n",
            r#"BGPPeer default/p: spec.passwordSecret.namespace: FerroLB reads password Secrets from its own namespace only ("default"), not "other""#,
        ),
        (
            "BFD echo mode",
            object("BFDProfile", "b", "  echoMode: true"),
            "BFDProfile default/b: spec.echoMode: BFD echo mode is not implemented (issue 14); remove echoMode or set it to false",
        ),
    ];
    let mut failures = Vec::new();
    for (name, yaml, want) in &table {
        let lines = error_lines(yaml);
        if lines.len() != 1 || !lines[0].contains(want) {
            failures.push(format!(
                "{name}: want exactly one line containing\n    {want}\n  got {lines:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn honoured_bgppeer_fields_compile() {
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\ntype: kubernetes.io/basic-auth\nstringData: {password: x}\n---\n";
    for (name, spec) in [
        ("disableMP alone", "\n  disableMP: true"),
        (
            "dualStackAddressFamily alone",
            "\n  dualStackAddressFamily: true",
        ),
        (
            "enableGracefulRestart: false",
            "\n  enableGracefulRestart: false",
        ),
        (
            "enableGracefulRestart: true",
            "\n  enableGracefulRestart: true",
        ),
        (
            "passwordSecret in the peer's namespace",
            "\n  passwordSecret: {name: s, namespace: default}",
        ),
        ("an unused BFDProfile", ""),
        ("a BFDProfile", "\n  bfdProfile: unused"),
    ] {
        let yaml = secret.to_string()
            + &object("BFDProfile", "unused", "  receiveInterval: 50")
            + &peer("p", &format!("{PEER_OK}{spec}"));
        let lines = error_lines(&yaml);
        assert!(lines.is_empty(), "{name}: {lines:?}");
    }
    // v1beta1 carries bfdProfile too.
    let yaml = object("BFDProfile", "fast", "  receiveInterval: 50")
        + &peer_v1beta1("p", &format!("{PEER_OK}\n  bfdProfile: fast"));
    let compiled = compile(&yaml).unwrap_or_else(|e| panic!("{:#?}", e.errors));
    assert_eq!(
        compiled.config.peers["p"].bfd_profile.as_deref(),
        Some("fast")
    );
}

/// Unnumbered peering (`interface`) compiles, alone and with what it can
/// honour (multihop TTL, timers, both families, graceful restart).
#[test]
fn an_unnumbered_peer_compiles_with_what_it_can_honour() {
    let yaml = peer(
        "p",
        "  myASN: 64500\n  dynamicASN: external\n  interface: eth0\n  ebgpMultiHop: true\n  holdTime: 9s\n  dualStackAddressFamily: true\n  enableGracefulRestart: true",
    );
    let compiled = compile(&yaml).unwrap_or_else(|e| panic!("{:#?}", e.errors));
    assert_eq!(
        compiled.config.peers["p"].target,
        PeerTarget::Interface("eth0".to_string())
    );
}

#[test]
fn local_asn_replaces_my_asn_for_the_session_and_decides_ibgp() {
    let ok = peer(
        "p",
        "  myASN: 64512\n  localASN: 65001\n  peerASN: 64500\n  peerAddress: 10.0.0.1",
    );
    let compiled = compile(&ok).expect("compiles");
    assert_eq!(compiled.config.peers["p"].my_asn, 65001);
    let multihop_ibgp = peer(
        "p",
        "  myASN: 64512\n  localASN: 64500\n  peerASN: 64500\n  peerAddress: 10.0.0.1\n  ebgpMultiHop: true",
    );
    assert_eq!(
        error_lines(&multihop_ibgp),
        ["BGPPeer default/p: spec.ebgpMultiHop: ebgpMultiHop is set on an iBGP peer"]
    );
}

#[test]
fn preferred_node_selectors_compile_with_metallbs_weight_range() {
    let pools = pool("p", &["10.0.0.0/24"]);
    let good = object(
        "L2Advertisement",
        "l2",
        "  preferredNodeSelectors:\n  - {weight: 100, preference: {matchLabels: {zone: a}}}",
    );
    let compiled = compile(&(pools.clone() + &good)).expect("compiles");
    assert_eq!(
        compiled.config.l2_advertisements[0].preferred_nodes.len(),
        1
    );
    let bad = object(
        "L2Advertisement",
        "l2",
        "  preferredNodeSelectors:\n  - {weight: 0, preference: {}}",
    );
    assert_eq!(
        error_lines(&(pools + &bad)),
        [
            "L2Advertisement default/l2: spec.preferredNodeSelectors[0].weight: 0 is out of range 1..=100"
        ]
    );
}
