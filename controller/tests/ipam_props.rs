//! Random sequences of Service and pool changes: the sharing rules always
//! hold, no address is held by two Services that may not share it, pool
//! statistics match the assignments, and rebuilding from the recorded
//! addresses gives back the same state.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ferrolb_controller::ipam::*;
use proptest::prelude::*;

const SERVICES: usize = 8;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Addresses requests may name: some in pools, some not, some .0/.255.
fn universe() -> Vec<IpAddr> {
    [
        "10.0.0.0",
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.5",
        "10.0.0.255",
        "10.0.1.0",
        "10.0.1.1",
        "10.0.9.9",
        "fc00::",
        "fc00::1",
        "fc00::3",
        "fc00::9",
    ]
    .iter()
    .map(|s| ip(s))
    .collect()
}

fn pool(name: &str, ranges: &[&str]) -> Pool {
    Pool::new(name, ranges.iter().map(|r| r.parse().unwrap()).collect())
}

/// Pool configurations the sequence switches between: growing, shrinking,
/// renaming, restricting, avoiding buggy addresses.
fn configs() -> Vec<Vec<Pool>> {
    let pinned = |mut p: Pool, priority: u32, ns: &str| {
        p.service_allocation = Some(ServiceAllocation {
            priority,
            namespaces: BTreeSet::from([ns.to_string()]),
            ..Default::default()
        });
        p
    };
    let buggy = |mut p: Pool| {
        p.avoid_buggy_ips = true;
        p
    };
    let manual = |mut p: Pool| {
        p.auto_assign = false;
        p
    };
    vec![
        vec![
            pool("a", &["10.0.0.0/30", "fc00::/126"]),
            pool("b", &["10.0.1.0/31"]),
        ],
        vec![pool("a", &["10.0.0.2/31", "fc00::2/127"])],
        vec![
            buggy(pool("a", &["10.0.0.254-10.0.1.1", "fc00::/125"])),
            pool("c", &["10.0.0.0/31"]),
        ],
        vec![
            pinned(pool("a", &["10.0.0.0/30"]), 2, "ns0"),
            pinned(pool("p", &["10.0.1.0/31", "fc00::/126"]), 1, "ns1"),
            manual(pool("m", &["10.0.9.9"])),
            pool("z", &["fc00::8/125"]),
        ],
        vec![],
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Assign(usize, Shape),
    Release(usize),
    SetPools(usize),
}

#[derive(Debug, Clone)]
struct Shape {
    families: IpFamilies,
    requested: Vec<usize>,
    pool: Option<&'static str>,
    key: Option<&'static str>,
    ports: Vec<u16>,
    local: Option<&'static str>,
}

fn families() -> impl Strategy<Value = IpFamilies> {
    let fam = prop_oneof![Just(Family::V4), Just(Family::V6)];
    let policy = prop_oneof![Just(DualPolicy::Prefer), Just(DualPolicy::Require)];
    prop_oneof![
        3 => fam.clone().prop_map(IpFamilies::Single),
        1 => (fam, policy).prop_map(|(primary, policy)| IpFamilies::Dual { primary, policy }),
    ]
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        families(),
        prop_oneof![
            4 => Just(vec![]),
            2 => (0..universe().len()).prop_map(|i| vec![i]),
            1 => (0..8usize, 8..12usize).prop_map(|(a, b)| vec![a, b]),
        ],
        prop::option::weighted(0.2, prop::sample::select(vec!["a", "b", "p", "m", "nope"])),
        prop::option::weighted(0.6, prop::sample::select(vec!["k1", "k2"])),
        prop::collection::vec(prop::sample::select(vec![53u16, 80, 443]), 0..3),
        prop::option::weighted(0.3, prop::sample::select(vec!["app=x", "app=y"])),
    )
        .prop_map(|(families, requested, pool, key, ports, local)| Shape {
            families,
            requested,
            pool,
            key,
            ports,
            local,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..SERVICES, shape()).prop_map(|(i, s)| Op::Assign(i, s)),
        2 => (0..SERVICES).prop_map(Op::Release),
        1 => (0..configs().len()).prop_map(Op::SetPools),
    ]
}

fn key(i: usize) -> ServiceKey {
    ServiceKey::new(format!("ns{}", i % 2), format!("svc{i}"))
}

fn request(i: usize, s: &Shape) -> ServiceRequest {
    let all = universe();
    let mut ports: Vec<Port> = s
        .ports
        .iter()
        .map(|&p| Port::new(Protocol::Tcp, p))
        .collect();
    ports.sort();
    ports.dedup();
    ServiceRequest {
        families: s.families,
        requested: s.requested.iter().map(|&r| all[r]).collect(),
        pool: s.pool.map(str::to_string),
        sharing_key: s.key.map(str::to_string),
        ports,
        traffic_policy: match s.local {
            None => TrafficPolicy::Cluster,
            Some(b) => TrafficPolicy::Local {
                backend_key: b.to_string(),
            },
        },
        ..ServiceRequest::new(key(i), Family::V4)
    }
}

/// Every address's holders may share it, and every Service holds one or
/// two addresses of distinct families.
fn check_sharing(a: &Allocator) -> Result<(), TestCaseError> {
    let mut holders: BTreeMap<IpAddr, Vec<ServiceRequest>> = BTreeMap::new();
    for (req, addrs) in a.recorded() {
        prop_assert!(matches!(addrs.len(), 1 | 2), "{addrs:?}");
        if let [x, y] = addrs.as_slice() {
            prop_assert_ne!(Family::of(x), Family::of(y));
        }
        for addr in addrs {
            holders.entry(addr).or_default().push(req.clone());
        }
    }
    for (addr, reqs) in holders {
        prop_assert_eq!(a.holders(&addr).len(), reqs.len());
        if reqs.len() < 2 {
            continue;
        }
        let first = &reqs[0];
        let mut ports = BTreeSet::new();
        for r in &reqs {
            prop_assert!(
                r.sharing_key.is_some(),
                "{addr} shared by a service without key"
            );
            prop_assert_eq!(&r.sharing_key, &first.sharing_key);
            prop_assert_eq!(&r.traffic_policy, &first.traffic_policy);
            for p in &r.ports {
                prop_assert!(ports.insert(*p), "{addr}: {p} used twice");
            }
        }
    }
    Ok(())
}

/// Pool statistics count the distinct held addresses in each pool.
fn check_stats(a: &Allocator) -> Result<(), TestCaseError> {
    let held: BTreeSet<IpAddr> = a.recorded().flat_map(|(_, addrs)| addrs).collect();
    for (pool, stats) in a.pools().pools().iter().zip(a.pool_stats()) {
        prop_assert_eq!(&pool.name, &stats.pool);
        let inside = held
            .iter()
            .filter(|ip| {
                pool.ranges.iter().any(|r| r.contains(ip))
                    && !(pool.avoid_buggy_ips && ferrolb_controller::ipam::range::is_buggy(ip))
            })
            .count() as u128;
        prop_assert_eq!(stats.v4.assigned + stats.v6.assigned, inside);
        prop_assert!(stats.v4.assigned <= stats.v4.capacity);
    }
    Ok(())
}

/// A fresh allocator rebuilt from the recorded state is the same allocator.
fn check_rebuild(a: &Allocator, pools: &[Pool]) -> Result<Allocator, TestCaseError> {
    let mut b = Allocator::new(PoolSet::new(pools.to_vec()).unwrap());
    let mut recorded: Vec<_> = a.recorded().collect();
    recorded.reverse();
    let rejected = b.rebuild(recorded);
    prop_assert!(rejected.is_empty(), "{rejected:?}");
    prop_assert_eq!(
        a.assignments().collect::<Vec<_>>(),
        b.assignments().collect::<Vec<_>>()
    );
    prop_assert_eq!(a.pool_stats(), b.pool_stats());
    Ok(b)
}

/// What an `Ok` from `assign` promises about a Service that got new addresses.
fn check_result(req: &ServiceRequest, got: &Assignment) -> Result<(), TestCaseError> {
    if matches!(got.change, Change::New | Change::Moved { .. }) {
        prop_assert!(!got.is_orphaned());
        if !req.requested.is_empty() {
            let want: BTreeSet<_> = req.requested.iter().collect();
            prop_assert_eq!(want, got.addresses.iter().collect::<BTreeSet<_>>());
        }
        if let Some(p) = &req.pool {
            prop_assert_eq!(got.pool(), Some(p.as_str()));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_operations_keep_every_invariant(ops in prop::collection::vec(op(), 1..40)) {
        let configs = configs();
        let mut current = configs[0].clone();
        let mut a = Allocator::new(PoolSet::new(current.clone()).unwrap());
        for op in &ops {
            match op {
                Op::Assign(i, s) => {
                    let req = request(*i, s);
                    let before = a.assignment(&req.key);
                    match a.assign(&req) {
                        Ok(got) => {
                            check_result(&req, &got)?;
                            // Asking again changes nothing.
                            let again = a.assign(&req).unwrap();
                            prop_assert_eq!(&again.addresses, &got.addresses);
                            prop_assert_eq!(again.change, Change::Unchanged);
                        }
                        Err(AllocationError::LostSharing { .. }) => {
                            prop_assert!(a.assignment(&req.key).is_none());
                        }
                        // Any other refusal leaves the Service as it was.
                        Err(_) => prop_assert_eq!(
                            before.map(|x| x.addresses),
                            a.assignment(&req.key).map(|x| x.addresses)
                        ),
                    }
                }
                Op::Release(i) => {
                    a.release(&key(*i));
                }
                Op::SetPools(c) => {
                    let held: Vec<_> = a.recorded().collect();
                    current = configs[*c].clone();
                    a.set_pools(PoolSet::new(current.clone()).unwrap());
                    // Pool changes move nobody.
                    prop_assert_eq!(held, a.recorded().collect::<Vec<_>>());
                }
            }
            check_sharing(&a)?;
            check_stats(&a)?;
        }
        let mut b = check_rebuild(&a, &current)?;
        // The rebuilt allocator answers every next request exactly as the
        // original does.
        for i in 0..SERVICES {
            let Some((req, _)) = a.recorded().find(|(r, _)| r.key == key(i)) else {
                continue;
            };
            prop_assert_eq!(a.assign(&req), b.assign(&req));
        }
    }
}

/// Against a plain model: a new Service always gets the lowest address of
/// the pool that is neither held nor avoided, whatever was released before.
fn lowest_free_model(pool: &Pool, held: &BTreeSet<IpAddr>) -> Option<IpAddr> {
    let range = pool.ranges[0];
    let mut n = match range.start() {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    };
    loop {
        let addr = match range.start() {
            IpAddr::V4(_) => IpAddr::from(std::net::Ipv4Addr::from(n as u32)),
            IpAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::from(n)),
        };
        if !range.contains(&addr) {
            return None;
        }
        let avoided = pool.avoid_buggy_ips && ferrolb_controller::ipam::range::is_buggy(&addr);
        if !avoided && !held.contains(&addr) {
            return Some(addr);
        }
        n += 1;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn new_services_get_the_lowest_free_address(
        range in prop::sample::select(vec!["10.0.0.0/28", "10.0.0.250-10.0.1.5", "2001:db8::/64"]),
        avoid in any::<bool>(),
        ops in prop::collection::vec((any::<bool>(), 0..24usize), 1..80),
    ) {
        let mut p = pool("p", &[range]);
        p.avoid_buggy_ips = avoid;
        let family = Family::of(&p.ranges[0].start());
        let mut a = Allocator::new(PoolSet::new(vec![p.clone()]).unwrap());
        let mut held: BTreeMap<usize, IpAddr> = BTreeMap::new();
        for (add, i) in ops {
            let req = ServiceRequest::new(key(i), family);
            if !add {
                prop_assert_eq!(a.release(&req.key), held.remove(&i).map(|x| vec![x]));
                continue;
            }
            let expected = match held.get(&i) {
                Some(addr) => Some(*addr),
                None => lowest_free_model(&p, &held.values().copied().collect()),
            };
            let got = a.assign(&req).ok().map(|x| x.addresses[0]);
            prop_assert_eq!(got, expected);
            if let Some(addr) = got {
                held.insert(i, addr);
            }
        }
    }
}
