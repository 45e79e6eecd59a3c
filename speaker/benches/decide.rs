//! The speaker's decision at 1k, 10k and 100k Services: `bgp_plan` (two
//! peers, every fourth Service with `externalTrafficPolicy: Local`) and
//! `l2_plan` (ten candidate nodes, an owner hashed per address), each a
//! whole pass over every Service, as before the decision was incremental;
//! then one Service changed among N, as the books decide it now: the
//! Service alone (`one_changed`), and with the comparison of every
//! Service a pass makes to find it (`one_changed_in_pass`: the inputs
//! copied and compared against the last pass's, as `Speaker::pass` does).
//!
//! `cargo bench -p ferrolb-speaker --bench decide`

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrolb_speaker::decide::{
    BgpBook, Changed, ClusterView, Endpoint, FenceState, InterfaceRules, L2Book, LocalNode,
    NodeState, ServiceBook, ServiceKey, ServiceState, TrafficPolicy, bgp_plan, l2_plan,
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
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// `n` Services with one address each in `base`'s /8 or /12, endpoints
/// spread over the nodes.
fn services(n: usize, base: Ipv4Addr) -> Vec<ServiceState> {
    let base = u32::from(base);
    (0..n)
        .map(|i| ServiceState {
            key: ServiceKey::new(format!("ns{}", i % 50), format!("svc{i}")),
            addresses: [IpAddr::V4(Ipv4Addr::from(base + 1 + i as u32))].into(),
            pool: None,
            traffic_policy: if i % 4 == 0 {
                TrafficPolicy::Local
            } else {
                TrafficPolicy::Cluster
            },
            endpoints: endpoints(i).into(),
            labels: Default::default(),
            shares_ip: false,
        })
        .collect()
}

fn endpoints(i: usize) -> Vec<Endpoint> {
    vec![
        Endpoint::ready_on(&format!("n{}", i % NODES)),
        Endpoint::ready_on(&format!("n{}", (i + 3) % NODES)),
    ]
}

/// The next change: Service `i` (of a thousand spread through the
/// table) loses its endpoints, or gets them back: its route goes or comes.
struct Churn {
    services: Vec<ServiceState>,
    step: usize,
}

impl Churn {
    fn new(services: Vec<ServiceState>) -> Churn {
        Churn { services, step: 0 }
    }

    fn next(&mut self) -> ServiceState {
        let n = self.services.len();
        let i = (self.step % 1000) * (n / 1000);
        let lose = (self.step / 1000).is_multiple_of(2);
        self.step += 1;
        let service = &mut self.services[i];
        service.endpoints = if lose { Vec::new() } else { endpoints(i) }.into();
        service.clone()
    }
}

fn changed(key: &ServiceKey) -> Changed {
    Changed::Some(BTreeSet::from([key.clone()]))
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
    let samples = |n: usize| if n >= 100_000 { 10 } else { 30 };

    let mut bgp = c.benchmark_group("bgp_plan");
    for n in SIZES {
        let services = services(n, Ipv4Addr::new(10, 0, 0, 0));
        bgp.throughput(Throughput::Elements(n as u64));
        bgp.sample_size(samples(n));
        bgp.bench_with_input(BenchmarkId::from_parameter(n), &services, |b, s| {
            b.iter(|| black_box(bgp_plan(&config, &node, s)))
        });
    }
    bgp.finish();

    let mut bgp = c.benchmark_group("bgp_book");
    for n in SIZES {
        let all = services(n, Ipv4Addr::new(10, 0, 0, 0));
        let mut book = ServiceBook::default();
        book.replace(all.clone());
        let mut decision = BgpBook::default();
        decision.update(&config, &node, &book, Changed::All);
        let mut churn = Churn::new(all);
        bgp.sample_size(samples(n));
        bgp.bench_function(BenchmarkId::new("one_changed", n), |b| {
            b.iter(|| {
                let service = churn.next();
                let key = service.key.clone();
                book.upsert(service);
                black_box(decision.update(&config, &node, &book, changed(&key)))
            })
        });
        bgp.bench_function(BenchmarkId::new("one_changed_in_pass", n), |b| {
            b.iter(|| {
                churn.next();
                let keys = book.replace(churn.services.clone());
                black_box(decision.update(&config, &node, &book, Changed::Some(keys)))
            })
        });
    }
    bgp.finish();

    let mut l2 = c.benchmark_group("l2_plan");
    for n in SIZES {
        let services = services(n, Ipv4Addr::new(172, 16, 0, 0));
        l2.throughput(Throughput::Elements(n as u64));
        l2.sample_size(samples(n));
        l2.bench_with_input(BenchmarkId::from_parameter(n), &services, |b, s| {
            b.iter(|| black_box(l2_plan(&config, &local, &cluster, s)))
        });
    }
    l2.finish();

    let mut l2 = c.benchmark_group("l2_book");
    for n in SIZES {
        let all = services(n, Ipv4Addr::new(172, 16, 0, 0));
        let mut book = ServiceBook::default();
        book.replace(all.clone());
        let mut decision = L2Book::default();
        decision.update(&config, &local, &cluster, &book, Changed::All);
        let mut churn = Churn::new(all);
        l2.sample_size(samples(n));
        l2.bench_function(BenchmarkId::new("one_changed", n), |b| {
            b.iter(|| {
                let service = churn.next();
                let key = service.key.clone();
                book.upsert(service);
                black_box(decision.update(&config, &local, &cluster, &book, changed(&key)))
            })
        });
        l2.bench_function(BenchmarkId::new("one_changed_in_pass", n), |b| {
            b.iter(|| {
                churn.next();
                let keys = book.replace(churn.services.clone());
                black_box(decision.update(&config, &local, &cluster, &book, Changed::Some(keys)))
            })
        });
    }
    l2.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
