//! The Adj-RIB-Out at 1k, 10k and 100k Services (one /32 each): the first
//! full table (every route to send), and a pass in which 1% of the routes
//! change attributes and 1% are withdrawn (the speaker hands every session
//! its full table on every pass; only the diff may cost).
//!
//! `cargo bench -p ferrolb-bgp --bench adj_rib_out`

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrolb_bgp::adj_rib_out::AdjRibOut;
use ferrolb_bgp::peer::RouteAttributes;
use ferrolb_bgp::wire::{Community, LargeCommunity};
use ipnet::{IpNet, Ipv4Net};

fn prefix(i: u32) -> IpNet {
    IpNet::V4(Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i), 32).expect("a /32"))
}

fn attrs(community: u32) -> RouteAttributes {
    RouteAttributes::new(
        [Community(community)],
        Vec::<LargeCommunity>::new(),
        Some(150),
    )
}

fn table(n: u32, changed: u32) -> Vec<(IpNet, RouteAttributes)> {
    let (usual, other) = (attrs(100), attrs(200));
    // Every 100th route changes attributes and every 100th + 1 is gone.
    (0..n)
        .filter(|i| changed == 0 || i % 100 != 1)
        .map(|i| {
            let a = if changed != 0 && i % 100 == 0 {
                &other
            } else {
                &usual
            };
            (prefix(i), a.clone())
        })
        .collect()
}

fn adj_rib_out(c: &mut Criterion) {
    let mut full = c.benchmark_group("adj_rib_out_full_table");
    for n in [1_000u32, 10_000, 100_000] {
        let routes = table(n, 0);
        full.throughput(Throughput::Elements(u64::from(n)));
        full.sample_size(if n >= 100_000 { 10 } else { 30 });
        full.bench_with_input(BenchmarkId::from_parameter(n), &routes, |b, r| {
            b.iter_batched(
                || r.clone(),
                |routes| {
                    let mut rib = AdjRibOut::new();
                    rib.replace_all(routes);
                    black_box(rib.take_changes())
                },
                BatchSize::LargeInput,
            )
        });
    }
    full.finish();
    let mut diff = c.benchmark_group("adj_rib_out_1pct_diff");
    for n in [1_000u32, 10_000, 100_000] {
        let (before, after) = (table(n, 0), table(n, 1));
        diff.throughput(Throughput::Elements(u64::from(n)));
        diff.sample_size(if n >= 100_000 { 10 } else { 30 });
        diff.bench_with_input(BenchmarkId::from_parameter(n), &after, |b, after| {
            b.iter_batched(
                || {
                    let mut rib = AdjRibOut::new();
                    rib.replace_all(before.clone());
                    rib.take_changes();
                    (rib, after.clone())
                },
                |(mut rib, after)| {
                    rib.replace_all(after);
                    black_box(rib.take_changes())
                },
                BatchSize::LargeInput,
            )
        });
    }
    diff.finish();
}

criterion_group!(benches, adj_rib_out);
criterion_main!(benches);
