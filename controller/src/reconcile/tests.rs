//! The pure reconciler decision, pass by pass.

use std::collections::BTreeMap;

use ferrolb_crds::selector::Labels;
use k8s_openapi::api::core::v1::{
    LoadBalancerIngress, LoadBalancerStatus, Service, ServicePort, ServiceSpec, ServiceStatus,
};
use kube::api::ObjectMeta;

use super::core::{Core, Scope, Snapshot, index};
use super::plan::{Desired, Reason};
use crate::ipam::{AddressRange, Pool, PoolSet, ServiceKey};

fn pools(cidr: &str) -> PoolSet {
    PoolSet::new(vec![Pool::new(
        "default",
        vec![cidr.parse::<AddressRange>().unwrap()],
    )])
    .unwrap()
}

pub(super) fn lb(name: &str) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("LoadBalancer".into()),
            ip_families: Some(vec!["IPv4".into()]),
            ports: Some(vec![ServicePort {
                port: 80,
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

fn with_status(mut svc: Service, ip: &str, pool: &str) -> Service {
    svc.status = Some(ServiceStatus {
        load_balancer: Some(LoadBalancerStatus {
            ingress: Some(vec![LoadBalancerIngress {
                ip: Some(ip.into()),
                ..Default::default()
            }]),
        }),
        ..Default::default()
    });
    svc.metadata.annotations = Some(
        [(
            "metallb.io/ip-allocated-from-pool".to_string(),
            pool.to_string(),
        )]
        .into(),
    );
    svc
}

fn sync(core: &mut Core, services: Vec<Service>) -> super::plan::Plan {
    let services = index(services);
    let namespaces: BTreeMap<String, Labels> = BTreeMap::new();
    core.sync(
        Snapshot {
            services: &services,
            namespaces: &namespaces,
        },
        &Scope::All,
    )
}

fn key(name: &str) -> ServiceKey {
    ServiceKey::new("ns", name)
}

fn addr(d: &Desired) -> String {
    d.addresses[0].to_string()
}

#[test]
fn nothing_happens_before_a_valid_configuration() {
    let mut core = Core::new(None);
    let plan = sync(&mut core, vec![lb("a")]);
    assert!(plan.writes.is_empty() && plan.notes.is_empty());
    assert!(!core.started());
}

#[test]
fn a_new_service_gets_the_lowest_address_and_an_event() {
    let mut core = Core::new(None);
    core.set_pools(pools("10.0.0.0/30"));
    let plan = sync(&mut core, vec![lb("a")]);
    assert_eq!(plan.writes.len(), 1);
    assert_eq!(addr(&plan.writes[0].1), "10.0.0.0");
    assert_eq!(plan.writes[0].1.pool.as_deref(), Some("default"));
    assert_eq!(plan.notes.len(), 1);
    assert_eq!(plan.notes[0].reason, Reason::IpAllocated);
    // Once written, the next pass has nothing to do and says nothing.
    let plan = sync(&mut core, vec![with_status(lb("a"), "10.0.0.0", "default")]);
    assert_eq!(plan, Default::default());
}

#[test]
fn a_restart_adopts_every_recorded_address_first() {
    let mut core = Core::new(None);
    core.set_pools(pools("10.0.0.0/30"));
    // "z" holds the lowest address; "a" is new and must not take it.
    let plan = sync(
        &mut core,
        vec![with_status(lb("z"), "10.0.0.0", "default"), lb("a")],
    );
    assert_eq!(plan.writes.len(), 1, "{plan:?}");
    assert_eq!(plan.writes[0].0, key("a"));
    assert_eq!(addr(&plan.writes[0].1), "10.0.0.1");
    assert!(plan.notes.iter().all(|n| n.key == key("a")), "{plan:?}");
}

#[test]
fn exhaustion_is_reported_once() {
    let mut core = Core::new(None);
    core.set_pools(pools("10.0.0.0/32"));
    let services = vec![with_status(lb("a"), "10.0.0.0", "default"), lb("b")];
    let plan = sync(&mut core, services.clone());
    assert!(plan.writes.is_empty(), "{plan:?}");
    assert_eq!(plan.notes.len(), 1);
    assert_eq!(plan.notes[0].reason, Reason::AllocationFailed);
    assert!(plan.notes[0].message.contains("exhausted"), "{plan:?}");
    assert_eq!(sync(&mut core, services), Default::default());
}

#[test]
fn deleting_a_service_frees_its_address_for_the_next() {
    let mut core = Core::new(None);
    core.set_pools(pools("10.0.0.0/32"));
    sync(
        &mut core,
        vec![with_status(lb("a"), "10.0.0.0", "default"), lb("b")],
    );
    let plan = sync(&mut core, vec![lb("b")]);
    assert_eq!(plan.writes.len(), 1);
    assert_eq!(plan.writes[0].0, key("b"));
    assert_eq!(addr(&plan.writes[0].1), "10.0.0.0");
}

#[test]
fn a_service_that_stops_being_a_load_balancer_is_cleared() {
    let mut core = Core::new(None);
    core.set_pools(pools("10.0.0.0/30"));
    sync(&mut core, vec![with_status(lb("a"), "10.0.0.0", "default")]);
    let mut svc = with_status(lb("a"), "10.0.0.0", "default");
    svc.spec.as_mut().unwrap().type_ = Some("ClusterIP".into());
    let plan = sync(&mut core, vec![svc]);
    assert_eq!(plan.writes, vec![(key("a"), Desired::default())]);
    assert_eq!(plan.notes[0].reason, Reason::ClearAssignment);
}

#[test]
fn another_class_is_left_alone_unless_we_wrote_it() {
    let mut core = Core::new(None);
    core.set_pools(pools("10.0.0.0/30"));
    let mut theirs = lb("a");
    theirs.spec.as_mut().unwrap().load_balancer_class = Some("other".into());
    theirs.status = with_status(lb("a"), "192.0.2.1", "x").status;
    assert_eq!(sync(&mut core, vec![theirs]), Default::default());
}

#[test]
fn broken_annotations_keep_the_address_and_say_why() {
    let mut core = Core::new(None);
    core.set_pools(pools("10.0.0.0/30"));
    let mut svc = with_status(lb("a"), "10.0.0.1", "default");
    sync(&mut core, vec![svc.clone()]);
    svc.metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert("metallb.io/loadBalancerIPs".into(), "not-an-ip".into());
    let plan = sync(&mut core, vec![svc]);
    assert!(plan.writes.is_empty(), "{plan:?}");
    assert_eq!(plan.notes.len(), 1);
    assert_eq!(plan.notes[0].reason, Reason::AllocationFailed);
}

#[test]
fn deprecated_annotations_are_warned_about_once() {
    let mut core = Core::new(None);
    core.set_pools(pools("10.0.0.0/30"));
    let mut svc = lb("a");
    svc.metadata.annotations = Some(
        [(
            "metallb.universe.tf/address-pool".to_string(),
            "default".to_string(),
        )]
        .into(),
    );
    let plan = sync(&mut core, vec![svc.clone()]);
    let reasons: Vec<Reason> = plan.notes.iter().map(|n| n.reason).collect();
    assert_eq!(reasons, [Reason::DeprecatedAnnotation, Reason::IpAllocated]);
    let plan = sync(&mut core, vec![svc]);
    assert!(plan.notes.is_empty(), "{plan:?}");
}

#[test]
fn a_shrunk_pool_orphans_without_moving() {
    let mut core = Core::new(None);
    core.set_pools(pools("10.0.0.0/30"));
    let svc = with_status(lb("a"), "10.0.0.3", "default");
    sync(&mut core, vec![svc.clone()]);
    core.set_pools(pools("10.0.0.0/31"));
    let plan = sync(&mut core, vec![svc]);
    // The address stays; the pool annotation goes (it is in no pool).
    assert_eq!(plan.writes.len(), 1);
    assert_eq!(addr(&plan.writes[0].1), "10.0.0.3");
    assert_eq!(plan.writes[0].1.pool, None);
    assert_eq!(plan.notes[0].reason, Reason::AddressOrphaned);
}

#[test]
fn a_service_arriving_with_a_recorded_address_keeps_it() {
    let mut core = Core::new(None);
    core.set_pools(pools("10.0.0.0/30"));
    sync(&mut core, vec![]);
    let plan = sync(&mut core, vec![with_status(lb("a"), "10.0.0.2", "default")]);
    assert!(plan.writes.is_empty(), "{plan:?}");
}

#[test]
fn a_scoped_pass_looks_only_at_changed_services_and_the_waiting() {
    let mut core = Core::new(None);
    core.set_pools(pools("10.0.0.0/32"));
    let all = vec![
        with_status(lb("a"), "10.0.0.0", "default"),
        lb("b"),
        lb("c"),
    ];
    sync(&mut core, all);
    // "c" changes while nothing is free: only "c" is looked at, and its
    // failure was already told.
    let services = index(vec![
        with_status(lb("a"), "10.0.0.0", "default"),
        lb("b"),
        lb("c"),
    ]);
    let namespaces = BTreeMap::new();
    let snap = Snapshot {
        services: &services,
        namespaces: &namespaces,
    };
    let only_c = Scope::Services([key("c")].into());
    assert_eq!(core.sync(snap, &only_c), Default::default());
    // "a" is deleted: the scope names only "a", yet the waiting "b" (first
    // in key order) gets the freed address.
    let services = index(vec![lb("b"), lb("c")]);
    let snap = Snapshot {
        services: &services,
        namespaces: &namespaces,
    };
    let plan = core.sync(snap, &Scope::Services([key("a")].into()));
    assert_eq!(plan.writes.len(), 1, "{plan:?}");
    assert_eq!(plan.writes[0].0, key("b"));
    assert_eq!(addr(&plan.writes[0].1), "10.0.0.0");
}

#[test]
fn scopes_merge_towards_all() {
    let mut s = Scope::default();
    assert!(s.is_empty());
    s.merge(Scope::Services([key("a")].into()));
    s.merge(Scope::Services([key("b")].into()));
    assert_eq!(s, Scope::Services([key("a"), key("b")].into()));
    s.merge(Scope::All);
    s.merge(Scope::Services([key("c")].into()));
    assert_eq!(s, Scope::All);
}
