//! Kubernetes objects as the decision reads them: Services with their
//! recorded addresses, EndpointSlices, and Nodes. Both shells, the
//! Kubernetes watches and standalone mode's files, read them here only
//! (Services and EndpointSlices into records as soon as they arrive), so
//! that the same objects always mean the same inputs.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

use ferrolb_crds::service::{
    LbView, asks_to_share_ip, is_ours, lb_view, recorded_addresses, recorded_pool, service_key,
};
use k8s_openapi::api::core::v1::{Node, ObjectReference, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use ferrolb_crds::selector::Labels;

use crate::decide::shared::Shared;
use crate::decide::{
    Endpoint, Endpoints, NodeState, ServiceKey, ServiceState, TrafficPolicy, no_labels,
};

/// Where a Service's endpoints come from when it has no EndpointSlice.
#[derive(Debug, Clone, Copy)]
pub enum WithoutSlices<'a> {
    /// It has none (a cluster: the EndpointSlice controller writes a slice
    /// for every Service with a selector).
    NoEndpoints,
    /// These endpoints serve it (standalone hosts serving the address
    /// themselves: [`ready_on`]).
    ReadyOn(&'a Endpoints),
}

/// A ready endpoint on each of `nodes`, for [`WithoutSlices::ReadyOn`].
pub fn ready_on(nodes: &[String]) -> Endpoints {
    nodes.iter().map(|n| Endpoint::ready_on(n)).collect()
}

/// The values records repeat from one object to the next, one copy each:
/// node names (every endpoint names one of a few), pool names and label
/// sets. A speaker holds a record of every Service and EndpointSlice of
/// the cluster, so a copy per record would grow with the cluster.
#[derive(Debug, Default)]
pub struct Interned {
    strings: Shared<Arc<str>>,
    labels: Shared<Arc<Labels>>,
}

impl Interned {
    fn string(&mut self, value: &str) -> Arc<str> {
        self.strings.share_ref(value, |v| Arc::from(v))
    }

    fn labels(&mut self, labels: Option<&Labels>) -> Arc<Labels> {
        match labels {
            Some(labels) if !labels.is_empty() => {
                self.labels.share_ref(labels, |l| Arc::new(l.clone()))
            }
            _ => no_labels(),
        }
    }
}

/// What the decision reads of a Service, and what an Event needs to name
/// it: everything else of the object is dropped as soon as it is read, so
/// that a speaker on every node does not hold every Service's full object
/// (docs/benchmarks.md, speaker memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    pub key: ServiceKey,
    /// `spec.type` is `LoadBalancer`.
    load_balancer: bool,
    /// `spec.loadBalancerClass`.
    class: Option<Box<str>>,
    /// `status.loadBalancer.ingress`.
    addresses: Arc<[IpAddr]>,
    /// `metallb.io/ip-allocated-from-pool`.
    pool: Option<Arc<str>>,
    traffic_policy: TrafficPolicy,
    labels: Arc<Labels>,
    shares_ip: bool,
    /// `metadata.uid`, for Events (which name the object as kube's
    /// `Resource::object_ref` does: no resourceVersion).
    uid: Option<Uid>,
}

impl ServiceRecord {
    /// The record of `svc`, known as `key`.
    pub fn new(key: ServiceKey, svc: &Service, interned: &mut Interned) -> ServiceRecord {
        let spec = svc.spec.as_ref();
        let traffic_policy = match spec.and_then(|s| s.external_traffic_policy.as_deref()) {
            Some("Local") => TrafficPolicy::Local,
            _ => TrafficPolicy::Cluster,
        };
        let boxed = |s: Option<&str>| -> Option<Box<str>> { s.map(Box::from) };
        ServiceRecord {
            key,
            load_balancer: lb_view(svc, None) != LbView::NotLoadBalancer,
            class: boxed(spec.and_then(|s| s.load_balancer_class.as_deref())),
            addresses: recorded_addresses(svc).into(),
            pool: recorded_pool(svc).map(|p| interned.string(p)),
            traffic_policy,
            labels: interned.labels(svc.metadata.labels.as_ref()),
            shares_ip: asks_to_share_ip(svc),
            uid: svc.metadata.uid.as_deref().map(Uid::new),
        }
    }

    /// The record of a watched object (`None` without a name).
    pub fn of(svc: &Service, interned: &mut Interned) -> Option<ServiceRecord> {
        Some(ServiceRecord::new(service_key(svc)?, svc, interned))
    }

    /// `type: LoadBalancer` of `lb_class`: ours to announce.
    fn ours(&self, lb_class: Option<&str>) -> bool {
        self.load_balancer && is_ours(self.class.as_deref(), lb_class)
    }

    /// The Service, as an Event's `regarding` names it.
    pub fn object_ref(&self) -> ObjectReference {
        ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Service".into()),
            name: Some(self.key.name().to_string()),
            namespace: Some(self.key.namespace().to_string()),
            uid: self.uid.as_ref().map(Uid::to_string),
            resource_version: None,
            field_path: None,
        }
    }
}

/// `metadata.uid`: the API server's are UUIDs, kept as their 16 bytes
/// rather than 36 characters of text; anything else as given.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Uid {
    Uuid([u8; 16]),
    Text(Box<str>),
}

impl Uid {
    fn new(text: &str) -> Uid {
        let hex: String = text.chars().filter(|c| *c != '-').collect();
        let canonical = text.len() == 36
            && [8, 13, 18, 23].iter().all(|&i| text.as_bytes()[i] == b'-')
            && hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        match u128::from_str_radix(&hex, 16) {
            Ok(n) if canonical => Uid::Uuid(n.to_be_bytes()),
            _ => Uid::Text(text.into()),
        }
    }
}

impl std::fmt::Display for Uid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Uid::Text(text) => f.write_str(text),
            Uid::Uuid(bytes) => {
                let hex = format!("{:032x}", u128::from_be_bytes(*bytes));
                let (a, rest) = hex.split_at(8);
                let (b, rest) = rest.split_at(4);
                let (c, rest) = rest.split_at(4);
                let (d, e) = rest.split_at(4);
                write!(f, "{a}-{b}-{c}-{d}-{e}")
            }
        }
    }
}

/// What the decision reads of an EndpointSlice: the Service it belongs to
/// and its endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceRecord {
    /// `namespace/name` of the slice.
    pub name: SliceName,
    /// `None` for a slice not managed for a Service.
    pub service: Option<ServiceKey>,
    pub endpoints: Endpoints,
}

/// `namespace/name` of an EndpointSlice: shared by the slice cache's key,
/// its record and its Service's list of slices.
pub type SliceName = Arc<str>;

impl SliceRecord {
    pub fn new(slice: &EndpointSlice, interned: &mut Interned) -> SliceRecord {
        SliceRecord {
            name: format!(
                "{}/{}",
                slice.metadata.namespace.as_deref().unwrap_or_default(),
                slice.metadata.name.as_deref().unwrap_or_default()
            )
            .into(),
            service: slice_service(slice),
            endpoints: endpoints(slice, interned),
        }
    }
}

/// The LoadBalancer Services of `lb_class` that have an address, as the
/// decision reads them, with the endpoints of their slices. A Service of
/// another class is not ours to announce whatever its status says (as
/// MetalLB's speaker filters it out before anything else).
pub fn service_states<'a>(
    services: impl IntoIterator<Item = &'a ServiceRecord>,
    slices: impl IntoIterator<Item = &'a SliceRecord>,
    lb_class: Option<&str>,
    without_slices: WithoutSlices<'_>,
) -> Vec<ServiceState> {
    let mut by_service: BTreeMap<&ServiceKey, Vec<&SliceRecord>> = BTreeMap::new();
    for slice in slices {
        if let Some(key) = &slice.service {
            by_service.entry(key).or_default().push(slice);
        }
    }
    services
        .into_iter()
        .filter_map(|svc| {
            let slices = by_service.get(&svc.key).map(Vec::as_slice);
            service_state(svc, slices.unwrap_or_default(), lb_class, without_slices)
        })
        .collect()
}

/// One Service of [`service_states`], from its slices (in the slices'
/// name order): `None` when it is not ours to announce (another class,
/// not a LoadBalancer, no address yet). What a shell that follows changes
/// Service by Service reads, the same as the whole list would say.
pub fn service_state(
    svc: &ServiceRecord,
    slices: &[&SliceRecord],
    lb_class: Option<&str>,
    without_slices: WithoutSlices<'_>,
) -> Option<ServiceState> {
    if !svc.ours(lb_class) || svc.addresses.is_empty() {
        return None;
    }
    let endpoints = match (slices, without_slices) {
        ([], WithoutSlices::NoEndpoints) => no_endpoints(),
        ([], WithoutSlices::ReadyOn(endpoints)) => Arc::clone(endpoints),
        ([slice], _) => Arc::clone(&slice.endpoints),
        (slices, _) => slices
            .iter()
            .flat_map(|s| s.endpoints.iter().cloned())
            .collect(),
    };
    Some(ServiceState {
        key: svc.key.clone(),
        addresses: Arc::clone(&svc.addresses),
        pool: svc.pool.clone(),
        traffic_policy: svc.traffic_policy,
        endpoints,
        labels: Arc::clone(&svc.labels),
        shares_ip: svc.shares_ip,
    })
}

/// No endpoints, shared.
fn no_endpoints() -> Endpoints {
    static EMPTY: OnceLock<Endpoints> = OnceLock::new();
    Arc::clone(EMPTY.get_or_init(|| Arc::new([])))
}

/// Every endpoint of a slice.
fn endpoints(slice: &EndpointSlice, interned: &mut Interned) -> Endpoints {
    let Some(endpoints) = slice.endpoints.as_ref().filter(|e| !e.is_empty()) else {
        return no_endpoints();
    };
    endpoints
        .iter()
        .map(|e| {
            let c = e.conditions.as_ref();
            Endpoint {
                node: e.node_name.as_deref().map(|n| interned.string(n)),
                ready: c.and_then(|c| c.ready),
                serving: c.and_then(|c| c.serving),
                terminating: c.and_then(|c| c.terminating),
            }
        })
        .collect()
}

/// The Service an EndpointSlice belongs to (its `kubernetes.io/service-name`
/// label), `None` for slices not managed for a Service.
pub fn slice_service(slice: &EndpointSlice) -> Option<ServiceKey> {
    let name = slice
        .metadata
        .labels
        .as_ref()?
        .get("kubernetes.io/service-name")?;
    Some(ServiceKey::new(
        slice.metadata.namespace.clone().unwrap_or_default(),
        name.clone(),
    ))
}

/// This node as the decision reads it.
pub fn node_state(name: &str, node: Option<&Node>) -> NodeState {
    let Some(node) = node else {
        return NodeState::new(name);
    };
    let network_unavailable = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "NetworkUnavailable" && c.status == "True")
        });
    NodeState {
        name: name.to_string(),
        labels: node.metadata.labels.clone().unwrap_or_default(),
        network_unavailable,
    }
}

/// The Node's first IPv4 address, InternalIP first, then ExternalIP: the
/// default BGP router ID.
pub fn node_ipv4(node: &Node) -> Option<Ipv4Addr> {
    let addresses = node.status.as_ref()?.addresses.as_ref()?;
    let v4 = |kind: &str| {
        addresses
            .iter()
            .filter(|a| a.type_ == kind)
            .find_map(|a| match a.address.parse() {
                Ok(IpAddr::V4(v4)) => Some(v4),
                _ => None,
            })
    };
    v4("InternalIP").or_else(|| v4("ExternalIP"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_read_back_as_given() {
        for text in [
            "0f5b8a2e-3c4d-4e6f-8a9b-0c1d2e3f4a5b",
            "00000000-0000-0000-0000-000000000000",
            "0F5B8A2E-3C4D-4E6F-8A9B-0C1D2E3F4A5B",
            "not-a-uuid",
            "0f5b8a2e3c4d4e6f8a9b0c1d2e3f4a5b----",
            "",
        ] {
            assert_eq!(Uid::new(text).to_string(), text);
        }
        assert!(matches!(
            Uid::new("0f5b8a2e-3c4d-4e6f-8a9b-0c1d2e3f4a5b"),
            Uid::Uuid(_)
        ));
    }

    /// What `serviceSelectors` and the shared-IP rule read reaches the
    /// decision, from either annotation name.
    #[test]
    fn labels_and_the_shared_ip_annotation_reach_the_decision() {
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "web", "namespace": "shop",
                "labels": {"tier": "frontend"},
                "annotations": {"metallb.universe.tf/allow-shared-ip": "k"}
            },
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.10"}]}}
        }))
        .expect("service");
        let record = ServiceRecord::of(&svc, &mut Interned::default()).expect("named");
        let states = service_states([&record], [], None, WithoutSlices::NoEndpoints);
        assert_eq!(
            states[0].labels.get("tier").map(String::as_str),
            Some("frontend")
        );
        assert!(states[0].shares_ip);
    }
}
