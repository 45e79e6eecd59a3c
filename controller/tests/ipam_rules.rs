//! One test per allocation rule, through the public API only.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::collections::BTreeSet;
use std::net::IpAddr;

use ferrolb_controller::ipam::*;
use ferrolb_crds::selector::{LabelSelector, Labels};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| ip(s)).collect()
}

fn pool(name: &str, ranges: &[&str]) -> Pool {
    Pool::new(name, ranges.iter().map(|r| r.parse().unwrap()).collect())
}

fn pinned(name: &str, ranges: &[&str], priority: u32, namespaces: &[&str]) -> Pool {
    Pool {
        service_allocation: Some(ServiceAllocation {
            priority,
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }),
        ..pool(name, ranges)
    }
}

fn allocator(pools: Vec<Pool>) -> Allocator {
    Allocator::new(PoolSet::new(pools).unwrap())
}

fn svc(name: &str) -> ServiceRequest {
    ServiceRequest::new(ServiceKey::new("default", name), Family::V4)
}

fn in_ns(ns: &str, name: &str) -> ServiceRequest {
    ServiceRequest::new(ServiceKey::new(ns, name), Family::V4)
}

fn shared(name: &str, key: &str, ports: &[u16]) -> ServiceRequest {
    ServiceRequest {
        sharing_key: Some(key.into()),
        ports: ports.iter().map(|&p| Port::new(Protocol::Tcp, p)).collect(),
        ..svc(name)
    }
}

fn dual(name: &str, primary: Family, policy: DualPolicy) -> ServiceRequest {
    ServiceRequest {
        families: IpFamilies::Dual { primary, policy },
        ..svc(name)
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn addrs(a: &mut Allocator, req: &ServiceRequest) -> Vec<IpAddr> {
    a.assign(req).unwrap().addresses
}

// ---------------------------------------------------------------- basics

#[test]
fn lowest_free_address_first_ranges_in_order() {
    let mut a = allocator(vec![pool(
        "p",
        &["10.0.0.10-10.0.0.11", "10.0.0.1-10.0.0.2"],
    )]);
    let got: Vec<IpAddr> = (0..4)
        .flat_map(|i| addrs(&mut a, &svc(&format!("s{i}"))))
        .collect();
    assert_eq!(
        got,
        ips(&["10.0.0.10", "10.0.0.11", "10.0.0.1", "10.0.0.2"])
    );
    let e = a.assign(&svc("s4")).unwrap_err();
    assert_eq!(e.to_string(), "pool p exhausted: no free IPv4 address");
    // A released address is the lowest free one again.
    a.release(&ServiceKey::new("default", "s1"));
    assert_eq!(addrs(&mut a, &svc("s5")), ips(&["10.0.0.11"]));
}

#[test]
fn assignment_says_which_pool_and_is_idempotent() {
    let mut a = allocator(vec![
        pool("b", &["10.0.1.0/30"]),
        pool("a", &["10.0.0.0/30"]),
    ]);
    let first = a.assign(&svc("web")).unwrap();
    // Fallback pools are tried by name.
    assert_eq!(first.pool(), Some("a"));
    assert_eq!(first.change, Change::New);
    assert_eq!(first.placement, Placement::InPool("a".into()));
    let again = a.assign(&svc("web")).unwrap();
    assert_eq!(again.addresses, first.addresses);
    assert_eq!(again.change, Change::Unchanged);
}

#[test]
fn auto_assign_false_pools_are_only_used_on_request() {
    let mut manual = pool("manual", &["10.0.9.0/30"]);
    manual.auto_assign = false;
    let mut a = allocator(vec![manual, pool("auto", &["10.0.0.1"])]);
    assert_eq!(addrs(&mut a, &svc("s1")), ips(&["10.0.0.1"]));
    assert!(matches!(
        a.assign(&svc("s2")),
        Err(AllocationError::Exhausted { .. })
    ));
    let by_pool = ServiceRequest {
        pool: Some("manual".into()),
        ..svc("s3")
    };
    assert_eq!(addrs(&mut a, &by_pool), ips(&["10.0.9.0"]));
    let by_ip = ServiceRequest {
        requested: ips(&["10.0.9.3"]),
        ..svc("s4")
    };
    assert_eq!(addrs(&mut a, &by_ip), ips(&["10.0.9.3"]));
}

#[test]
fn avoid_buggy_ips_skips_zero_and_broadcast() {
    let mut p = pool("p", &["10.0.0.254-10.0.1.1"]);
    p.avoid_buggy_ips = true;
    let mut a = allocator(vec![p]);
    assert_eq!(addrs(&mut a, &svc("s1")), ips(&["10.0.0.254"]));
    assert_eq!(addrs(&mut a, &svc("s2")), ips(&["10.0.1.1"]));
    assert!(a.assign(&svc("s3")).is_err());
    let e = a
        .assign(&ServiceRequest {
            requested: ips(&["10.0.0.255"]),
            ..svc("s4")
        })
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "requested 10.0.0.255 is in pool p, which avoids .0 and .255 addresses (avoidBuggyIPs)"
    );
    let st = &a.pool_stats()[0];
    assert_eq!((st.v4.capacity, st.v4.assigned, st.v4.available), (2, 2, 0));
}

#[test]
fn no_pools_at_all() {
    let mut a = allocator(vec![]);
    assert_eq!(a.assign(&svc("s")).unwrap_err(), AllocationError::NoPools);
}

// ------------------------------------------------------ requested addresses

#[test]
fn requested_addresses_are_honoured_or_refused_with_a_reason() {
    let mut a = allocator(vec![
        pool("a", &["10.0.0.0/24", "fc00::/120"]),
        pool("b", &["10.0.1.0/24"]),
    ]);
    let want = |name: &str, list: &[&str]| ServiceRequest {
        requested: ips(list),
        ..svc(name)
    };
    let got = a.assign(&want("s1", &["10.0.0.5"])).unwrap();
    assert_eq!(
        (got.addresses.clone(), got.pool()),
        (ips(&["10.0.0.5"]), Some("a"))
    );

    let cases: Vec<(ServiceRequest, &str)> = vec![
        (
            want("s2", &["10.9.9.9"]),
            "requested 10.9.9.9 is not in any pool",
        ),
        (
            want("s3", &["10.0.0.5"]),
            "10.0.0.5 is used by default/s1, which does not allow sharing (no metallb.io/allow-shared-ip)",
        ),
        (
            want("s4", &["fc00::1"]),
            "requested fc00::1 does not match the service's IP families (IPv4)",
        ),
        (
            ServiceRequest {
                pool: Some("b".into()),
                ..want("s5", &["10.0.0.6"])
            },
            "requested 10.0.0.6 is in pool a, not in requested pool b",
        ),
        (
            ServiceRequest {
                families: IpFamilies::Dual {
                    primary: Family::V4,
                    policy: DualPolicy::Require,
                },
                ..want("s6", &["10.0.1.1", "fc00::1"])
            },
            "requested 10.0.1.1 (pool b) and fc00::1 (pool a) must come from the same pool",
        ),
    ];
    for (req, msg) in cases {
        assert_eq!(a.assign(&req).unwrap_err().to_string(), msg, "{}", req.key);
        assert!(a.assignment(&req.key).is_none());
    }
}

#[test]
fn requested_address_shared_under_a_common_key() {
    let mut a = allocator(vec![pool("a", &["10.0.0.0/24"])]);
    let first = shared("s1", "k", &[80]);
    assert_eq!(addrs(&mut a, &first), ips(&["10.0.0.0"]));
    let second = ServiceRequest {
        requested: ips(&["10.0.0.0"]),
        ..shared("s2", "k", &[443])
    };
    assert_eq!(addrs(&mut a, &second), ips(&["10.0.0.0"]));
    let third = ServiceRequest {
        requested: ips(&["10.0.0.0"]),
        ..shared("s3", "k", &[443])
    };
    assert_eq!(
        a.assign(&third).unwrap_err().to_string(),
        "10.0.0.0 is shared with default/s2 which uses TCP/443"
    );
}

#[test]
fn changing_the_request_moves_and_a_refused_change_keeps_the_old_address() {
    let mut a = allocator(vec![
        pool("a", &["10.0.0.0/30"]),
        pool("b", &["10.0.1.0/30"]),
    ]);
    assert_eq!(addrs(&mut a, &svc("s1")), ips(&["10.0.0.0"]));
    let moved = a
        .assign(&ServiceRequest {
            requested: ips(&["10.0.0.3"]),
            ..svc("s1")
        })
        .unwrap();
    assert_eq!(moved.addresses, ips(&["10.0.0.3"]));
    assert_eq!(
        moved.change,
        Change::Moved {
            previous: ips(&["10.0.0.0"]),
            reason: MoveReason::RequestedAddresses
        }
    );
    let refused = a.assign(&ServiceRequest {
        requested: ips(&["192.0.2.1"]),
        ..svc("s1")
    });
    assert!(refused.is_err());
    assert_eq!(
        a.assignment(&ServiceKey::new("default", "s1"))
            .unwrap()
            .addresses,
        ips(&["10.0.0.3"])
    );
    // Asking for a pool the address is not in moves it there.
    let to_b = a
        .assign(&ServiceRequest {
            pool: Some("b".into()),
            ..svc("s1")
        })
        .unwrap();
    assert_eq!(to_b.addresses, ips(&["10.0.1.0"]));
    assert!(matches!(
        to_b.change,
        Change::Moved {
            reason: MoveReason::RequestedPool,
            ..
        }
    ));
}

// ------------------------------------------------------------- pool choice

#[test]
fn pool_annotation_selects_the_pool() {
    let mut a = allocator(vec![
        pool("a", &["10.0.0.0/30"]),
        pool("b", &["10.0.1.0/30"]),
    ]);
    let req = ServiceRequest {
        pool: Some("b".into()),
        ..svc("s1")
    };
    assert_eq!(a.assign(&req).unwrap().pool(), Some("b"));
    let unknown = ServiceRequest {
        pool: Some("nope".into()),
        ..svc("s2")
    };
    assert_eq!(
        a.assign(&unknown).unwrap_err().to_string(),
        "requested pool nope does not exist"
    );
}

#[test]
fn pinned_pools_come_first_by_priority_then_fallback() {
    let mut a = allocator(vec![
        pool("default", &["10.0.0.1"]),
        pinned("low", &["10.0.2.1"], 20, &["team"]),
        pinned("high", &["10.0.1.1"], 10, &["team"]),
        pinned("unset", &["10.0.3.1"], 0, &["team"]),
    ]);
    let pools: Vec<Option<String>> = (0..5)
        .map(|i| {
            a.assign(&in_ns("team", &format!("s{i}")))
                .ok()
                .and_then(|x| x.pool().map(str::to_string))
        })
        .collect();
    assert_eq!(
        pools,
        [
            Some("high"),
            Some("low"),
            Some("unset"),
            Some("default"),
            None
        ]
        .map(|p| p.map(str::to_string))
    );
    // Another namespace never gets a pinned pool.
    let mut b = allocator(vec![pinned("team-only", &["10.0.1.0/24"], 1, &["team"])]);
    let e = b.assign(&in_ns("other", "s")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no pool allows namespace other and these labels (pool team-only does not allow namespace other)"
    );
    // Not even by asking for it.
    let e = b
        .assign(&ServiceRequest {
            pool: Some("team-only".into()),
            ..in_ns("other", "s")
        })
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "pool team-only does not allow namespace other"
    );
}

#[test]
fn namespace_and_service_selectors() {
    let sel = |pairs: &[(&str, &str)]| LabelSelector {
        match_labels: labels(pairs),
        match_expressions: vec![],
    };
    let by_ns_label = Pool {
        service_allocation: Some(ServiceAllocation {
            namespace_selectors: vec![sel(&[("env", "prod")])],
            ..Default::default()
        }),
        ..pool("prod", &["10.0.1.1"])
    };
    let by_svc_label = Pool {
        service_allocation: Some(ServiceAllocation {
            priority: 1,
            service_selectors: vec![sel(&[("tier", "edge")]), sel(&[("tier", "gold")])],
            ..Default::default()
        }),
        ..pool("edge", &["10.0.2.1"])
    };
    let mut a = allocator(vec![
        by_ns_label,
        by_svc_label,
        pool("rest", &["10.0.9.0/24"]),
    ]);
    let prod = ServiceRequest {
        namespace_labels: labels(&[("env", "prod")]),
        ..svc("a")
    };
    assert_eq!(a.assign(&prod).unwrap().pool(), Some("prod"));
    let gold = ServiceRequest {
        labels: labels(&[("tier", "gold")]),
        ..svc("b")
    };
    assert_eq!(a.assign(&gold).unwrap().pool(), Some("edge"));
    assert_eq!(a.assign(&svc("c")).unwrap().pool(), Some("rest"));
}

// ---------------------------------------------------------------- sharing

#[test]
fn sharing_rules() {
    let mut a = allocator(vec![pool("p", &["10.0.0.0/24"])]);
    let local = |name: &str, key: &str, port: u16, backend: &str| ServiceRequest {
        traffic_policy: TrafficPolicy::Local {
            backend_key: backend.into(),
        },
        ..shared(name, key, &[port])
    };
    // Same key, distinct ports: same address.
    assert_eq!(
        addrs(&mut a, &shared("dns-tcp", "dns", &[53])),
        ips(&["10.0.0.0"])
    );
    assert_eq!(
        addrs(&mut a, &shared("web", "dns", &[80])),
        ips(&["10.0.0.0"])
    );
    // Same port: the next address.
    assert_eq!(
        addrs(&mut a, &shared("web2", "dns", &[80])),
        ips(&["10.0.0.1"])
    );
    // Other key, or no key: never shares.
    assert_eq!(
        addrs(&mut a, &shared("other", "x", &[22])),
        ips(&["10.0.0.2"])
    );
    assert_eq!(addrs(&mut a, &svc("plain")), ips(&["10.0.0.3"]));
    // Local traffic policy: same backends only.
    assert_eq!(
        addrs(&mut a, &local("l1", "loc", 1, "app=a")),
        ips(&["10.0.0.4"])
    );
    assert_eq!(
        addrs(&mut a, &local("l2", "loc", 2, "app=a")),
        ips(&["10.0.0.4"])
    );
    assert_eq!(
        addrs(&mut a, &local("l3", "loc", 3, "app=b")),
        ips(&["10.0.0.5"])
    );
    // A Cluster service never joins Local ones.
    assert_eq!(
        addrs(&mut a, &shared("c1", "loc", &[4])),
        ips(&["10.0.0.6"])
    );
    let holders: BTreeSet<String> = a
        .holders(&ip("10.0.0.0"))
        .iter()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(
        holders,
        BTreeSet::from(["default/dns-tcp".into(), "default/web".into()])
    );
    // Released by all: free again (one stat count while shared).
    assert_eq!(a.pool_stats()[0].v4.assigned, 7);
}

#[test]
fn a_port_change_that_breaks_sharing_moves_the_service() {
    let mut a = allocator(vec![pool("p", &["10.0.0.0/31"])]);
    addrs(&mut a, &shared("a", "k", &[80]));
    addrs(&mut a, &shared("b", "k", &[443]));
    let moved = a.assign(&shared("b", "k", &[80])).unwrap();
    assert_eq!(moved.addresses, ips(&["10.0.0.1"]));
    assert!(matches!(
        moved.change,
        Change::Moved {
            reason: MoveReason::SharingConflict(SharingConflict::PortInUse { .. }),
            ..
        }
    ));
    // No room left: the conflicting service gives its address up.
    addrs(&mut a, &shared("c", "k", &[443]));
    let e = a.assign(&shared("c", "k", &[80])).unwrap_err();
    assert!(matches!(e, AllocationError::LostSharing { .. }), "{e}");
    assert!(a.assignment(&ServiceKey::new("default", "c")).is_none());
}

// ------------------------------------------------------------- dual stack

#[test]
fn dual_stack_policies() {
    let mut a = allocator(vec![
        pool("a-v4only", &["10.0.0.0/30"]),
        pool("b-dual", &["10.0.1.0/30", "fc00:1::/126"]),
        pool("c-v6only", &["fc00:2::/126"]),
    ]);
    let require = a
        .assign(&dual("r", Family::V4, DualPolicy::Require))
        .unwrap();
    assert_eq!(require.addresses, ips(&["10.0.1.0", "fc00:1::"]));
    assert_eq!(require.pool(), Some("b-dual"));
    let single6 = a
        .assign(&ServiceRequest {
            families: IpFamilies::Single(Family::V6),
            ..svc("s6")
        })
        .unwrap();
    assert_eq!(single6.addresses, ips(&["fc00:1::1"]));
    // Exhaust the dual pool's IPv6 side; PreferDualStack then settles for
    // the first pool with its primary family.
    for i in 0..2 {
        a.assign(&ServiceRequest {
            families: IpFamilies::Single(Family::V6),
            pool: Some("b-dual".into()),
            ..svc(&format!("fill{i}"))
        })
        .unwrap();
    }
    let prefer6 = a
        .assign(&dual("p6", Family::V6, DualPolicy::Prefer))
        .unwrap();
    assert_eq!(prefer6.addresses, ips(&["fc00:2::"]));
    let prefer4 = a
        .assign(&dual("p4", Family::V4, DualPolicy::Prefer))
        .unwrap();
    assert_eq!(prefer4.addresses, ips(&["10.0.0.0"]));
    let e = a
        .assign(&dual("r2", Family::V4, DualPolicy::Require))
        .unwrap_err();
    assert!(matches!(e, AllocationError::Exhausted { .. }), "{e}");
}

#[test]
fn prefer_dual_stack_gains_its_missing_family_from_the_same_pool() {
    let mut a = allocator(vec![pool("p", &["10.0.0.0/30", "fc00::1"])]);
    addrs(
        &mut a,
        &ServiceRequest {
            families: IpFamilies::Single(Family::V6),
            ..svc("hog")
        },
    );
    let req = dual("p", Family::V4, DualPolicy::Prefer);
    assert_eq!(addrs(&mut a, &req), ips(&["10.0.0.0"]));
    a.release(&ServiceKey::new("default", "hog"));
    let again = a.assign(&req).unwrap();
    assert_eq!(again.addresses, ips(&["10.0.0.0", "fc00::1"]));
    assert_eq!(
        again.change,
        Change::Extended {
            added: ip("fc00::1")
        }
    );
}

#[test]
fn a_family_change_moves_the_service() {
    let mut a = allocator(vec![pool("p", &["10.0.0.0/30", "fc00::/126"])]);
    addrs(&mut a, &svc("s"));
    let v6 = a
        .assign(&ServiceRequest {
            families: IpFamilies::Single(Family::V6),
            ..svc("s")
        })
        .unwrap();
    assert_eq!(v6.addresses, ips(&["fc00::"]));
    assert!(matches!(
        v6.change,
        Change::Moved {
            reason: MoveReason::FamiliesChanged,
            ..
        }
    ));
}

#[test]
fn missing_family_is_named() {
    let mut a = allocator(vec![pool("v4", &["10.0.0.0/30"])]);
    let e = a
        .assign(&ServiceRequest {
            families: IpFamilies::Single(Family::V6),
            ..svc("s")
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "pool v4 has no IPv6 range");
}

// ------------------------------------------------- pool changes and orphans

#[test]
fn shrinking_or_deleting_a_pool_never_moves_a_service() {
    let mut a = allocator(vec![
        pool("a", &["10.0.0.0/30"]),
        pool("b", &["10.0.1.0/30"]),
    ]);
    let kept = addrs(&mut a, &svc("s1"));
    assert_eq!(kept, ips(&["10.0.0.0"]));
    let report = a.set_pools(
        PoolSet::new(vec![
            pool("a", &["10.0.0.2/31"]),
            pool("b", &["10.0.1.0/30"]),
        ])
        .unwrap(),
    );
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].before, Placement::InPool("a".into()));
    assert_eq!(
        report[0].after,
        Placement::Orphaned(OrphanReason::NotInAnyPool)
    );
    // Assign keeps it, reports it, and nobody else gets it.
    let again = a.assign(&svc("s1")).unwrap();
    assert_eq!(again.addresses, kept);
    assert!(again.is_orphaned());
    assert_eq!(a.orphans().len(), 1);
    // Even with a pool annotation that no longer holds the address.
    let annotated = ServiceRequest {
        pool: Some("a".into()),
        ..svc("s1")
    };
    assert_eq!(a.assign(&annotated).unwrap().addresses, kept);
    // The address comes back into a pool: still held, no double use.
    a.set_pools(PoolSet::new(vec![pool("z", &["10.0.0.0/30"])]).unwrap());
    assert_eq!(
        a.assignment(&ServiceKey::new("default", "s1"))
            .unwrap()
            .pool(),
        Some("z")
    );
    assert_eq!(addrs(&mut a, &svc("s2")), ips(&["10.0.0.1"]));
}

#[test]
fn a_narrower_service_allocation_orphans_but_keeps() {
    let mut a = allocator(vec![pinned("p", &["10.0.0.0/30"], 1, &["team"])]);
    let before = addrs(&mut a, &in_ns("team", "s"));
    let report =
        a.set_pools(PoolSet::new(vec![pinned("p", &["10.0.0.0/30"], 1, &["other"])]).unwrap());
    assert!(matches!(
        &report[0].after,
        Placement::Orphaned(OrphanReason::NotAllowed(NotAllowed::Namespace { .. }))
    ));
    let again = a.assign(&in_ns("team", "s")).unwrap();
    assert_eq!(again.addresses, before);
    assert_eq!(again.pool(), Some("p"));
    assert!(again.is_orphaned());
}

// ------------------------------------------------------------- rebuild

#[test]
fn rebuild_restores_the_same_state() {
    let pools = vec![
        pool("a", &["10.0.0.0/29", "fc00::/125"]),
        pool("b", &["10.0.1.0/29"]),
    ];
    let mut a = allocator(pools.clone());
    addrs(&mut a, &shared("x", "k", &[80]));
    addrs(&mut a, &shared("y", "k", &[81]));
    addrs(&mut a, &dual("d", Family::V6, DualPolicy::Require));
    addrs(
        &mut a,
        &ServiceRequest {
            pool: Some("b".into()),
            ..svc("z")
        },
    );
    a.set_pools(PoolSet::new(vec![pool("b", &["10.0.1.0/29"])]).unwrap());
    let mut b = allocator(vec![pool("b", &["10.0.1.0/29"])]);
    let mut recorded: Vec<_> = a.recorded().collect();
    recorded.reverse(); // input order must not matter
    assert!(b.rebuild(recorded).is_empty());
    assert_eq!(
        a.assignments().collect::<Vec<_>>(),
        b.assignments().collect::<Vec<_>>()
    );
    assert_eq!(a.pool_stats(), b.pool_stats());
}

#[test]
fn rebuild_rejects_conflicting_and_malformed_records() {
    let mut a = allocator(vec![pool("a", &["10.0.0.0/29"])]);
    let rejected = a.rebuild(vec![
        (svc("b"), ips(&["10.0.0.1"])),
        (svc("a"), ips(&["10.0.0.1"])),
        (svc("c"), ips(&["10.0.0.2", "10.0.0.3"])),
        (svc("a"), ips(&["10.0.0.4"])),
    ]);
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    assert!(matches!(&rejected[0], RebuildRejection::Duplicate { key } if key.name() == "a"));
    assert!(matches!(&rejected[1], RebuildRejection::Conflict { key, .. } if key.name() == "b"));
    assert!(matches!(&rejected[2], RebuildRejection::Malformed { .. }));
    assert_eq!(
        a.holders(&ip("10.0.0.1")),
        vec![ServiceKey::new("default", "a")]
    );
}

// ------------------------------------------------------------ big pools

#[test]
fn huge_ipv6_pools_are_never_enumerated() {
    let mut a = allocator(vec![
        pool("v6", &["2001:db8::/32"]),
        pool("all", &["8000::/1"]),
    ]);
    let v6 = |name: &str, pool: &str| ServiceRequest {
        families: IpFamilies::Single(Family::V6),
        pool: Some(pool.into()),
        ..svc(name)
    };
    for i in 0..1000 {
        addrs(&mut a, &v6(&format!("s{i}"), "v6"));
    }
    assert_eq!(addrs(&mut a, &v6("last", "v6")), ips(&["2001:db8::3e8"]));
    assert_eq!(addrs(&mut a, &v6("top", "all")), ips(&["8000::"]));
    let stats = a.pool_stats();
    let v6 = stats.iter().find(|s| s.pool == "v6").unwrap().v6;
    assert_eq!(v6.capacity, 1 << 96);
    assert_eq!(v6.assigned, 1001);
    assert_eq!(v6.saturating_u64().0, u64::MAX);
}

#[test]
fn lb_class_helper() {
    assert!(is_ours(None, None));
    assert!(!is_ours(Some("x"), None));
}

#[test]
fn a_range_given_to_another_pool_moves_services_that_name_their_pool() {
    let mut a = allocator(vec![
        pool("a", &["10.0.0.0/30"]),
        pool("b", &["10.0.1.0/30"]),
    ]);
    let named = ServiceRequest {
        pool: Some("a".into()),
        ..svc("named")
    };
    assert_eq!(addrs(&mut a, &named), ips(&["10.0.0.0"]));
    assert_eq!(addrs(&mut a, &svc("free")), ips(&["10.0.0.1"]));
    // The range moves from a to b; a gets a new one.
    a.set_pools(
        PoolSet::new(vec![
            pool("a", &["10.0.2.0/30"]),
            pool("b", &["10.0.0.0/30", "10.0.1.0/30"]),
        ])
        .unwrap(),
    );
    // The unannotated Service just follows its address into b.
    let free = a.assign(&svc("free")).unwrap();
    assert_eq!((free.pool(), &free.change), (Some("b"), &Change::Unchanged));
    // The annotated one goes where its annotation says.
    let moved = a.assign(&named).unwrap();
    assert_eq!(moved.addresses, ips(&["10.0.2.0"]));
    assert!(matches!(
        moved.change,
        Change::Moved {
            reason: MoveReason::RequestedPool,
            ..
        }
    ));
}

#[test]
fn from_annotations_to_assignment() {
    use ferrolb_controller::ipam::annotations::{self, ServiceFields};
    let anns = std::collections::BTreeMap::from([
        (
            "metallb.universe.tf/allow-shared-ip".to_string(),
            "dns".to_string(),
        ),
        ("metallb.io/address-pool".to_string(), "edge".to_string()),
    ]);
    let families = vec!["IPv6".to_string(), "IPv4".to_string()];
    let ports = vec![("UDP".to_string(), 53)];
    let selector = labels(&[("app", "dns")]);
    let fields = ServiceFields {
        annotations: &anns,
        load_balancer_ip: None,
        ip_family_policy: Some("PreferDualStack"),
        ip_families: &families,
        cluster_ips: &[],
        external_traffic_policy: Some("Local"),
        selector: &selector,
        ports: &ports,
    };
    let parsed = annotations::parse(&fields).unwrap();
    assert_eq!(parsed.warnings.len(), 1);
    let req = parsed.into_request(
        ServiceKey::new("kube-system", "dns-udp"),
        Labels::new(),
        Labels::new(),
    );
    let mut a = allocator(vec![
        pool("default", &["10.0.0.0/24"]),
        pool("edge", &["192.0.2.0/29", "2001:db8::/64"]),
    ]);
    let got = a.assign(&req).unwrap();
    assert_eq!(got.addresses, ips(&["192.0.2.0", "2001:db8::"]));
    assert_eq!(got.pool(), Some("edge"));
}

#[test]
fn a_rebuilt_allocator_keeps_orphans_and_refuses_their_addresses_to_others() {
    let mut a = allocator(vec![pool("a", &["10.0.0.0/30"])]);
    let recorded = vec![
        (svc("old"), ips(&["10.0.5.5"])),
        (svc("ok"), ips(&["10.0.0.0"])),
    ];
    assert!(a.rebuild(recorded).is_empty());
    let old = a.assignment(&ServiceKey::new("default", "old")).unwrap();
    assert_eq!(
        old.placement,
        Placement::Orphaned(OrphanReason::NotInAnyPool)
    );
    assert_eq!(addrs(&mut a, &svc("new")), ips(&["10.0.0.1"]));
    let e = a
        .assign(&ServiceRequest {
            requested: ips(&["10.0.5.5"]),
            ..svc("thief")
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "requested 10.0.5.5 is not in any pool");
}

#[test]
fn requested_addresses_are_never_extended_to_dual_stack() {
    // Found by the property test: MetalLB adds the missing family, then
    // finds the addresses differ from the request and starts over.
    let mut a = allocator(vec![pool("p", &["10.0.0.0/30", "fc00::/126"])]);
    let pinned = ServiceRequest {
        requested: ips(&["10.0.0.1"]),
        ..svc("s")
    };
    addrs(&mut a, &pinned);
    let prefer = ServiceRequest {
        families: IpFamilies::Dual {
            primary: Family::V4,
            policy: DualPolicy::Prefer,
        },
        ..pinned
    };
    for _ in 0..2 {
        let got = a.assign(&prefer).unwrap();
        assert_eq!(
            (got.addresses, got.change),
            (ips(&["10.0.0.1"]), Change::Unchanged)
        );
    }
}

#[test]
fn only_manual_pools() {
    let mut manual = pool("manual", &["10.0.9.0/30"]);
    manual.auto_assign = false;
    let mut a = allocator(vec![manual]);
    assert_eq!(
        a.assign(&svc("s")).unwrap_err(),
        AllocationError::NoAutoAssignPool
    );
}
