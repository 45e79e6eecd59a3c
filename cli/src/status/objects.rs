//! The Kubernetes objects `ferrolb status` reads, and their reduction to a
//! [`Snapshot`]. Pure: the cluster reader fills [`Objects`] and the tests
//! build them from YAML, so both go through the same reduction.

use std::collections::BTreeMap;

use ferrolb_crds::api::{
    BFDProfile, BGPAdvertisement, BGPPeer, BGPSessionState, Community, ConfigurationState,
    IPAddressPool, L2Advertisement, NodeAnnouncementState, ServiceBGPStatus, ServiceL2Status,
};
use ferrolb_crds::config::{Resources, compile};
use ferrolb_crds::service::{recorded_addresses, recorded_pool};
use k8s_openapi::api::core::v1::Service as KubeService;
use k8s_openapi::api::events::v1::Event as KubeEvent;
use k8s_openapi::jiff::Timestamp;

use super::snapshot::{
    BgpStatus, ComponentState, Event, L2Status, NodeReason, PoolUsage, Reporter, Service, Session,
    Snapshot,
};

/// The `reportingController` of the controller's and the speakers' Events.
pub const CONTROLLER_REPORTER: &str = "ferrolb-controller";
pub const SPEAKER_REPORTER: &str = "ferrolb-speaker";
/// The controller's `ConfigurationState`.
pub const CONTROLLER_STATE: &str = "controller";

/// Annotations a Service asks with (new and MetalLB's older names).
const ADDRESS_POOL: [&str; 2] = [
    "metallb.io/address-pool",
    "metallb.universe.tf/address-pool",
];
const LOAD_BALANCER_IPS: [&str; 2] = [
    "metallb.io/loadBalancerIPs",
    "metallb.universe.tf/loadBalancerIPs",
];

/// Every object the views use.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    pub services: Vec<KubeService>,
    pub events: Vec<KubeEvent>,
    pub pools: Vec<IPAddressPool>,
    pub l2_advertisements: Vec<L2Advertisement>,
    pub bgp_advertisements: Vec<BGPAdvertisement>,
    pub peers: Vec<BGPPeer>,
    pub bfd_profiles: Vec<BFDProfile>,
    pub communities: Vec<Community>,
    pub bgp_statuses: Vec<ServiceBGPStatus>,
    pub l2_statuses: Vec<ServiceL2Status>,
    pub sessions: Vec<BGPSessionState>,
    pub configuration_states: Vec<ConfigurationState>,
    /// Why each node does not announce (empty from an installation whose
    /// CRDs predate the kind).
    pub announcement_states: Vec<NodeAnnouncementState>,
}

impl Objects {
    /// Objects from a list of documents (a `List`'s items, or the
    /// documents of a YAML file), by `kind`; other kinds are skipped.
    pub fn from_items(items: Vec<serde_json::Value>) -> Result<Objects, String> {
        fn push<T: serde::de::DeserializeOwned>(
            to: &mut Vec<T>,
            doc: serde_json::Value,
        ) -> Result<(), String> {
            let kind = doc["kind"].as_str().unwrap_or_default().to_string();
            let name = doc["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            to.push(serde_json::from_value(doc).map_err(|e| format!("{kind} {name}: {e}"))?);
            Ok(())
        }
        let mut o = Objects::default();
        for doc in items {
            let kind = doc["kind"].as_str().unwrap_or_default().to_string();
            match kind.as_str() {
                "Service" => push(&mut o.services, doc)?,
                "Event" => push(&mut o.events, doc)?,
                "IPAddressPool" => push(&mut o.pools, doc)?,
                "L2Advertisement" => push(&mut o.l2_advertisements, doc)?,
                "BGPAdvertisement" => push(&mut o.bgp_advertisements, doc)?,
                "BGPPeer" => push(&mut o.peers, doc)?,
                "BFDProfile" => push(&mut o.bfd_profiles, doc)?,
                "Community" => push(&mut o.communities, doc)?,
                "ServiceBGPStatus" => push(&mut o.bgp_statuses, doc)?,
                "ServiceL2Status" => push(&mut o.l2_statuses, doc)?,
                "BGPSessionState" => push(&mut o.sessions, doc)?,
                "ConfigurationState" => push(&mut o.configuration_states, doc)?,
                "NodeAnnouncementState" => push(&mut o.announcement_states, doc)?,
                _ => {}
            }
        }
        Ok(o)
    }

    /// The snapshot these objects make at `now`.
    pub fn snapshot(&self, now: Timestamp) -> Snapshot {
        let (config, config_errors) = match compile(&self.resources()) {
            Ok(compiled) => (compiled.config, Vec::new()),
            Err(e) => (
                Default::default(),
                e.errors.iter().map(ToString::to_string).collect(),
            ),
        };
        Snapshot {
            now,
            config,
            config_errors,
            controller: self.controller_state(),
            pool_usage: self
                .pools
                .iter()
                .filter_map(|p| {
                    let s = p.status.as_ref()?;
                    let n = |v: i64| u64::try_from(v).unwrap_or(0);
                    Some((
                        p.metadata.name.clone().unwrap_or_default(),
                        PoolUsage {
                            assigned_v4: n(s.assigned_ipv4),
                            available_v4: n(s.available_ipv4),
                            assigned_v6: n(s.assigned_ipv6),
                            available_v6: n(s.available_ipv6),
                        },
                    ))
                })
                .collect(),
            services: self.services.iter().filter_map(service).collect(),
            bgp_statuses: self
                .bgp_statuses
                .iter()
                .filter_map(|o| {
                    let s = o.status.as_ref()?;
                    Some(BgpStatus {
                        node: s.node.clone(),
                        namespace: s.service_namespace.clone(),
                        service: s.service_name.clone(),
                        peers: s.peers.clone(),
                    })
                })
                .collect(),
            l2_statuses: self
                .l2_statuses
                .iter()
                .filter_map(|o| {
                    let s = o.status.as_ref()?;
                    Some(L2Status {
                        node: s.node.clone(),
                        namespace: s.service_namespace.clone(),
                        service: s.service_name.clone(),
                        interfaces: s.interfaces.iter().map(|i| i.name.clone()).collect(),
                    })
                })
                .collect(),
            sessions: self.sessions.iter().map(session).collect(),
            events: self.events.iter().filter_map(event).collect(),
            node_reasons: self
                .announcement_states
                .iter()
                .flat_map(node_reasons)
                .collect(),
            omitted_reasons: self
                .announcement_states
                .iter()
                .filter(|o| o.status.as_ref().is_some_and(|s| s.omitted > 0))
                .map(|o| o.spec.node.clone())
                .collect(),
        }
    }

    /// The compiler's input. Passwords are left out: the status needs none
    /// and its user may not read Secrets.
    fn resources(&self) -> Resources {
        Resources {
            pools: self.pools.clone(),
            l2_advertisements: self.l2_advertisements.clone(),
            bgp_advertisements: self.bgp_advertisements.clone(),
            peers: self
                .peers
                .iter()
                .cloned()
                .map(|mut p| {
                    p.spec.password.clear();
                    p.spec.password_secret = None;
                    p
                })
                .collect(),
            bfd_profiles: self.bfd_profiles.clone(),
            communities: self.communities.clone(),
            secrets: BTreeMap::new(),
            nodes: None,
        }
    }

    fn controller_state(&self) -> Option<ComponentState> {
        let state = self
            .configuration_states
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(CONTROLLER_STATE))?;
        let status = state.status.as_ref()?;
        Some(ComponentState {
            result: status.result.map_or("Unknown".into(), |r| format!("{r:?}")),
            errors: status
                .error_summary
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

fn annotation<'a>(svc: &'a KubeService, keys: &[&str]) -> Option<&'a str> {
    let annotations = svc.metadata.annotations.as_ref()?;
    keys.iter()
        .find_map(|k| annotations.get(*k))
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
}

/// A `LoadBalancer` Service; `None` for any other type.
fn service(svc: &KubeService) -> Option<Service> {
    let spec = svc.spec.as_ref()?;
    if spec.type_.as_deref() != Some("LoadBalancer") {
        return None;
    }
    let mut requested_addresses: Vec<String> = annotation(svc, &LOAD_BALANCER_IPS)
        .map(|v| v.split(',').map(|a| a.trim().to_string()).collect())
        .unwrap_or_default();
    if let Some(ip) = spec.load_balancer_ip.as_deref().filter(|v| !v.is_empty()) {
        requested_addresses.push(ip.to_string());
    }
    Some(Service {
        namespace: svc.metadata.namespace.clone().unwrap_or_default(),
        name: svc.metadata.name.clone()?,
        addresses: recorded_addresses(svc),
        allocated_from: recorded_pool(svc).map(str::to_string),
        requested_pool: annotation(svc, &ADDRESS_POOL).map(str::to_string),
        requested_addresses,
        lb_class: spec.load_balancer_class.clone().filter(|c| !c.is_empty()),
        traffic_policy: spec
            .external_traffic_policy
            .clone()
            .unwrap_or_else(|| "Cluster".into()),
    })
}

/// A node's reasons, one per Service (or address) it names.
fn node_reasons(o: &NodeAnnouncementState) -> Vec<NodeReason> {
    let Some(status) = &o.status else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in &status.reasons {
        for entry in &r.services {
            // `ns/name` or `ns/name ADDRESS`.
            let (service, address) = match entry.split_once(' ') {
                Some((s, a)) => (s, Some(a.to_string())),
                None => (entry.as_str(), None),
            };
            let Some((namespace, name)) = service.split_once('/') else {
                continue;
            };
            out.push(NodeReason {
                node: o.spec.node.clone(),
                protocol: r.protocol.clone(),
                reason: r.reason.clone(),
                message: r.message.clone(),
                namespace: namespace.to_string(),
                service: name.to_string(),
                address,
            });
        }
    }
    out
}

fn session(o: &BGPSessionState) -> Session {
    let status = o.status.clone().unwrap_or_default();
    Session {
        node: o.spec.node.clone(),
        peer: o.spec.peer.clone(),
        peer_address: o.spec.peer_address.clone(),
        state: status.state.map_or("Unknown".into(), |s| format!("{s:?}")),
        established_since: status
            .established_since
            .as_deref()
            .and_then(|t| t.parse().ok()),
        prefixes_sent: status.prefixes_sent,
        prefixes_received: status.prefixes_received,
        last_error: status.last_error,
        bfd: status.bfd_status,
    }
}

/// An Event about a Service from FerroLB; `None` for anything else.
fn event(e: &KubeEvent) -> Option<Event> {
    let regarding = e.regarding.as_ref()?;
    if regarding.kind.as_deref() != Some("Service") {
        return None;
    }
    let reporter = match e.reporting_controller.as_deref()? {
        CONTROLLER_REPORTER => Reporter::Controller,
        SPEAKER_REPORTER => Reporter::Speaker(e.reporting_instance.clone().unwrap_or_default()),
        _ => return None,
    };
    let time = e
        .series
        .as_ref()
        .map(|s| s.last_observed_time.0)
        .or(e.event_time.as_ref().map(|t| t.0))
        .or(e.deprecated_last_timestamp.as_ref().map(|t| t.0))
        .or(e.metadata.creation_timestamp.as_ref().map(|t| t.0));
    Some(Event {
        namespace: regarding
            .namespace
            .clone()
            .or_else(|| e.metadata.namespace.clone())
            .unwrap_or_default(),
        service: regarding.name.clone()?,
        reporter,
        reason: e.reason.clone().unwrap_or_default(),
        message: e.note.clone().unwrap_or_default(),
        warning: e.type_.as_deref() == Some("Warning"),
        time,
    })
}
