//! The speaker's decision at 1k, 10k and 100k Services: `bgp_plan` (two
//! peers, every fourth Service with `externalTrafficPolicy: Local`) and
//! `l2_plan` (ten candidate nodes, an owner hashed per address), each a
//! whole pass over every Service, as after any change.
//!
//! `cargo bench -p ferrolb-speaker --bench decide`

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrolb_speaker::decide::{
    ClusterView, Endpoint, FenceState, InterfaceRules, LocalNode, NodeState, ServiceKey,
    ServiceState, TrafficPolicy, bgp_plan, l2_plan,
};

const CONFIG: &str = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: bgp, namespace: metallb-system}
spec: {addresses: ["10.0.0.0/8"]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lan, namespace: metallb-system}
spec: {addresses: ["172.16.0.0/12"]}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: bgp, namespace: metallb-system}
spec: {ipAddressPools: [bgp], communities: ["64512:100"], localPref: 150}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: lan, namespace: metallb-system}
spec: {ipAddressPools: [lan]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor-a, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64512, peerAddress: 192.0.2.1}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor-b, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 65000, peerAddress: 192.0.2.2}
"#;

const NODES: usize = 10;

/// `n` Services with one address each in `base`'s /8 or /12, endpoints
/// spread over the nodes.
fn services(n: usize, base: Ipv4Addr) -> Vec<ServiceState> {
    let base = u32::from(base);
    (0..n)
        .map(|i| ServiceState {
            key: ServiceKey::new(format!("ns{}", i % 50), format!("svc{i}")),
            addresses: vec![IpAddr::V4(Ipv4Addr::from(base + 1 + i as u32))],
            pool: None,
            traffic_policy: if i % 4 == 0 {
                TrafficPolicy::Local
            } else {
                TrafficPolicy::Cluster
            },
            endpoints: vec![
                Endpoint::ready_on(&format!("n{}", i % NODES)),
                Endpoint::ready_on(&format!("n{}", (i + 3) % NODES)),
            ],
            labels: Default::default(),
            shares_ip: false,
        })
        .collect()
}

fn decide(c: &mut Criterion) {
    let config = common::compile_yaml(CONFIG);
    let node = NodeState::new("n0");
    let cluster = ClusterView::new((0..NODES).map(|i| NodeState::new(format!("n{i}"))));
    let local = LocalNode {
        name: "n0".into(),
        links: vec![common::lan_link("eth0", None)],
        interface_rules: InterfaceRules::standard(),
        fence: FenceState::MayAnnounce,
    };
    let mut bgp = c.benchmark_group("bgp_plan");
    for n in [1_000, 10_000, 100_000] {
        let services = services(n, Ipv4Addr::new(10, 0, 0, 0));
        bgp.throughput(Throughput::Elements(n as u64));
        bgp.sample_size(if n >= 100_000 { 10 } else { 30 });
        bgp.bench_with_input(BenchmarkId::from_parameter(n), &services, |b, s| {
            b.iter(|| black_box(bgp_plan(&config, &node, s)))
        });
    }
    bgp.finish();
    let mut l2 = c.benchmark_group("l2_plan");
    for n in [1_000, 10_000, 100_000] {
        let services = services(n, Ipv4Addr::new(172, 16, 0, 0));
        l2.throughput(Throughput::Elements(n as u64));
        l2.sample_size(if n >= 100_000 { 10 } else { 30 });
        l2.bench_with_input(BenchmarkId::from_parameter(n), &services, |b, s| {
            b.iter(|| black_box(l2_plan(&config, &local, &cluster, s)))
        });
    }
    l2.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
