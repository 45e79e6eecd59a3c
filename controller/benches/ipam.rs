//! Allocation cost per Service as the number of Services grows (must stay
//! flat), and rebuilding 100k Services from their recorded addresses.
//!
//! `cargo bench -p ferrolb-controller --bench ipam -- --quick`

#![allow(clippy::unwrap_used)] // benches may unwrap

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use ferrolb_controller::ipam::*;

fn pools() -> PoolSet {
    let ranges = ["10.0.0.0/8", "2001:db8::/32"];
    PoolSet::new(vec![Pool::new(
        "main",
        ranges.iter().map(|r| r.parse().unwrap()).collect(),
    )])
    .unwrap()
}

fn service(i: usize, family: Family) -> ServiceRequest {
    ServiceRequest {
        ports: vec![Port::new(Protocol::Tcp, 443)],
        ..ServiceRequest::new(
            ServiceKey::new(format!("ns{}", i % 100), format!("svc{i}")),
            family,
        )
    }
}

/// An allocator holding `n` Services, every tenth one a dual-stack one.
fn filled(n: usize) -> Allocator {
    let mut a = Allocator::new(pools());
    for i in 0..n {
        let mut req = service(i, Family::V4);
        if i % 10 == 0 {
            req.families = IpFamilies::Dual {
                primary: Family::V4,
                policy: DualPolicy::Require,
            };
        }
        a.assign(&req).unwrap();
    }
    a
}

fn assign_one(c: &mut Criterion) {
    let mut group = c.benchmark_group("assign+release one service");
    for n in [1_000usize, 10_000, 100_000] {
        let mut a = filled(n);
        for (label, family) in [("v4", Family::V4), ("v6", Family::V6)] {
            let req = service(usize::MAX, family);
            group.bench_with_input(BenchmarkId::new(label, n), &req, |b, req| {
                b.iter(|| {
                    let got = a.assign(black_box(req)).unwrap();
                    a.release(&got.key);
                })
            });
        }
    }
    group.finish();
}

fn rebuild(c: &mut Criterion) {
    let mut group = c.benchmark_group("whole state");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    let full = filled(100_000);
    let recorded: Vec<_> = full.recorded().collect();
    group.bench_function("rebuild 100k services", |b| {
        b.iter_batched(
            || (Allocator::new(pools()), recorded.clone()),
            |(mut a, recorded)| {
                assert!(a.rebuild(recorded).is_empty());
                a
            },
            BatchSize::LargeInput,
        )
    });
    // A pool change that orphans a tenth of the Services and reports them.
    let shrunk =
        PoolSet::new(vec![Pool::new("main", vec!["10.0.0.0/8".parse().unwrap()])]).unwrap();
    group.bench_function("set_pools over 100k services", |b| {
        b.iter_batched(
            || (full.clone(), shrunk.clone()),
            |(mut a, pools)| {
                assert_eq!(a.set_pools(pools).len(), 10_000);
                a
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, assign_one, rebuild);
criterion_main!(benches);
