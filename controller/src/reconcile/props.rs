//! The reconciler's decision over random histories of Service creations,
//! deletions, type changes, pool changes and controller restarts, with every
//! planned write applied to the cluster as the API server would:
//!
//! - no address is held by two Services (none of them share);
//! - a Service that holds an address keeps it for as long as it exists and
//!   stays a LoadBalancer, whatever happens to pools or the controller;
//! - a restarted controller writes nothing on its first pass over an
//!   unchanged cluster (it adopts, it does not rewrite);
//! - a pass over an unchanged cluster plans nothing (writes are idempotent).

use std::collections::BTreeMap;

use ferrolb_crds::selector::Labels;
use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, Service, ServiceStatus};
use proptest::prelude::*;

use super::core::{Core, Scope, Snapshot};
use super::plan::{Desired, Plan};
use super::tests::lb;
use crate::ipam::{AddressRange, Pool, PoolSet, ServiceKey};
use ferrolb_crds::service::recorded_addresses;

const NAMES: u8 = 12;

#[derive(Debug, Clone)]
enum Op {
    Create(u8),
    Delete(u8),
    ToggleType(u8),
    /// Pool "a" covers 10.0.0.0/29 (8 addresses) or 10.0.0.4/30 (shrunk).
    Pools {
        shrunk: bool,
    },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..NAMES).prop_map(Op::Create),
        2 => (0..NAMES).prop_map(Op::Delete),
        1 => (0..NAMES).prop_map(Op::ToggleType),
        1 => any::<bool>().prop_map(|shrunk| Op::Pools { shrunk }),
        1 => Just(Op::Restart),
    ]
}

fn pools(shrunk: bool) -> PoolSet {
    let range = if shrunk { "10.0.0.4/30" } else { "10.0.0.0/29" };
    PoolSet::new(vec![Pool::new(
        "a",
        vec![range.parse::<AddressRange>().unwrap()],
    )])
    .unwrap()
}

fn key(i: u8) -> ServiceKey {
    ServiceKey::new("ns", format!("s{i:02}"))
}

fn service(i: u8) -> Service {
    lb(&format!("s{i:02}"))
}

fn addresses(svc: &Service) -> Vec<String> {
    recorded_addresses(svc)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn is_lb(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
}

/// What the API server would hold after the writes.
fn apply(cluster: &mut BTreeMap<ServiceKey, Service>, plan: &Plan) {
    for (key, desired) in &plan.writes {
        let svc = cluster.get_mut(key).unwrap();
        write(svc, desired);
    }
}

fn write(svc: &mut Service, desired: &Desired) {
    svc.status = Some(ServiceStatus {
        load_balancer: Some(LoadBalancerStatus {
            ingress: (!desired.addresses.is_empty()).then(|| {
                desired
                    .addresses
                    .iter()
                    .map(|ip| LoadBalancerIngress {
                        ip: Some(ip.to_string()),
                        ..Default::default()
                    })
                    .collect()
            }),
        }),
        ..Default::default()
    });
    let annotations = svc
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    match &desired.pool {
        Some(p) => {
            annotations.insert("metallb.io/ip-allocated-from-pool".into(), p.clone());
        }
        None => {
            annotations.remove("metallb.io/ip-allocated-from-pool");
        }
    }
}

fn pass(core: &mut Core, cluster: &BTreeMap<ServiceKey, Service>, scope: &Scope) -> Plan {
    let namespaces: BTreeMap<String, Labels> = BTreeMap::new();
    core.sync(
        Snapshot {
            services: cluster,
            namespaces: &namespaces,
        },
        scope,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn addresses_are_unique_kept_and_survive_restarts(ops in prop::collection::vec(op(), 1..40)) {
        let mut cluster: BTreeMap<ServiceKey, Service> = BTreeMap::new();
        let mut shrunk = false;
        let mut core = Core::new(None);
        core.set_pools(pools(shrunk));
        pass(&mut core, &cluster, &Scope::All);
        for op in ops {
            let before = cluster.clone();
            let scope = match op {
                Op::Create(i) => {
                    cluster.entry(key(i)).or_insert_with(|| service(i));
                    Scope::Services([key(i)].into())
                }
                Op::Delete(i) => {
                    cluster.remove(&key(i));
                    Scope::Services([key(i)].into())
                }
                Op::ToggleType(i) => {
                    if let Some(svc) = cluster.get_mut(&key(i)) {
                        let next = if is_lb(svc) { "ClusterIP" } else { "LoadBalancer" };
                        svc.spec.as_mut().unwrap().type_ = Some(next.into());
                    }
                    Scope::Services([key(i)].into())
                }
                Op::Pools { shrunk: s } => {
                    shrunk = s;
                    core.set_pools(pools(shrunk));
                    Scope::default()
                }
                Op::Restart => {
                    core = Core::new(None);
                    core.set_pools(pools(shrunk));
                    let plan = pass(&mut core, &cluster, &Scope::All);
                    // Adopting rewrites nothing that was consistent.
                    prop_assert!(plan.writes.is_empty(), "restart rewrote: {:?}", plan.writes);
                    continue;
                }
            };
            let plan = pass(&mut core, &cluster, &scope);
            apply(&mut cluster, &plan);

            // Unique addresses.
            let mut held: BTreeMap<String, ServiceKey> = BTreeMap::new();
            for (k, svc) in &cluster {
                for a in addresses(svc) {
                    prop_assert!(held.insert(a.clone(), k.clone()).is_none(), "{a} held twice");
                }
            }
            // Kept while the Service exists and stays a LoadBalancer.
            for (k, old) in &before {
                let Some(now) = cluster.get(k) else { continue };
                if is_lb(now) && !addresses(old).is_empty() {
                    prop_assert_eq!(addresses(old), addresses(now), "{} moved", k);
                }
                if !is_lb(now) {
                    prop_assert!(addresses(now).is_empty(), "{} not cleared", k);
                }
            }
            // Idempotent: nothing more to do on the same cluster.
            let again = pass(&mut core, &cluster, &Scope::All);
            prop_assert!(again.writes.is_empty(), "second pass wrote: {:?}", again.writes);
        }
    }
}
