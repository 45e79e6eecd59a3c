//! What `ferrolb status` reads, as plain values: the objects of the
//! cluster (or of a standalone `ferrolb run`) reduced to the fields the
//! views use. The views are computed from a snapshot without I/O, so every
//! reason they print is tested on scenarios built in memory.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ferrolb_crds::config::Config;
use k8s_openapi::jiff::Timestamp;

/// Everything the views are made of, read at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// When the snapshot was read: uptimes are measured to it.
    pub now: Timestamp,
    /// The configuration compiled by the one compiler the components use
    /// (passwords left out: the status needs none).
    pub config: Config,
    /// Why the configuration did not compile here, if it did not.
    pub config_errors: Vec<String>,
    /// What the controller reported in its `ConfigurationState`, if it did.
    pub controller: Option<ComponentState>,
    /// Usage per pool, from `IPAddressPool.status` (the controller's count).
    pub pool_usage: BTreeMap<String, PoolUsage>,
    /// The `LoadBalancer` Services.
    pub services: Vec<Service>,
    /// `ServiceBGPStatus` objects: a node advertising a Service.
    pub bgp_statuses: Vec<BgpStatus>,
    /// `ServiceL2Status` objects: the node answering ARP/NDP for a Service.
    pub l2_statuses: Vec<L2Status>,
    /// `BGPSessionState` objects: one per node and peer.
    pub sessions: Vec<Session>,
    /// Events about Services from the controller and the speakers.
    pub events: Vec<Event>,
    /// `NodeAnnouncementState` objects: why a node does not announce a
    /// Service, one entry per node and Service (or address).
    pub node_reasons: Vec<NodeReason>,
    /// Nodes whose record left Services out (too many to list).
    pub omitted_reasons: Vec<String>,
}

/// One node's reason for not announcing a Service (or one address of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeReason {
    pub node: String,
    /// `bgp` or `layer2`.
    pub protocol: String,
    /// The reason's stable name (`NoLocalReadyEndpoint`, `OwnedBy`, ...).
    pub reason: String,
    pub message: String,
    pub namespace: String,
    pub service: String,
    /// The address, when the reason holds for it alone.
    pub address: Option<String>,
}

impl NodeReason {
    /// `message`, or `ADDRESS: message` when the reason is the address's.
    pub fn line(&self) -> String {
        match &self.address {
            Some(a) => format!("{a}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// The reason an address another host holds (`speaker::report`).
pub const ADDRESS_IN_USE: &str = "AddressInUse";

/// A component's verdict on the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentState {
    /// `Valid`, `Invalid` or `Unknown`.
    pub result: String,
    /// The compiler's errors, one per line.
    pub errors: Vec<String>,
}

/// Addresses of one pool, per family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    pub assigned_v4: u64,
    pub available_v4: u64,
    pub assigned_v6: u64,
    pub available_v6: u64,
}

/// The parts of a `LoadBalancer` Service the views use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    /// `status.loadBalancer.ingress` IPs.
    pub addresses: Vec<IpAddr>,
    /// `metallb.io/ip-allocated-from-pool`.
    pub allocated_from: Option<String>,
    /// `metallb.io/address-pool`: the pool the user asked for.
    pub requested_pool: Option<String>,
    /// `metallb.io/loadBalancerIPs` or `spec.loadBalancerIP`.
    pub requested_addresses: Vec<String>,
    /// `spec.loadBalancerClass`.
    pub lb_class: Option<String>,
    /// `spec.externalTrafficPolicy` (`Cluster` when unset).
    pub traffic_policy: String,
}

impl Service {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A `ServiceBGPStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BgpStatus {
    pub node: String,
    pub namespace: String,
    pub service: String,
    pub peers: Vec<String>,
}

/// A `ServiceL2Status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct L2Status {
    pub node: String,
    pub namespace: String,
    pub service: String,
    pub interfaces: Vec<String>,
}

/// A `BGPSessionState`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    pub node: String,
    pub peer: String,
    pub peer_address: String,
    /// RFC 4271 state name (`Established`, `Active`, ...); `Unknown` when
    /// the speaker has not written it yet.
    pub state: String,
    pub established_since: Option<Timestamp>,
    pub prefixes_sent: u64,
    pub prefixes_received: u64,
    pub last_error: String,
    /// `up`, `down`, `init`, `admin-down`; empty without BFD.
    pub bfd: String,
}

impl Session {
    pub fn is_established(&self) -> bool {
        self.state == "Established"
    }
}

/// Who wrote an Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reporter {
    /// The controller (allocation).
    Controller,
    /// The speaker of this node (announcement).
    Speaker(String),
}

/// An Event about a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub namespace: String,
    pub service: String,
    pub reporter: Reporter,
    /// `IPAllocated`, `AllocationFailed`, `nodeAssigned`, `announceFailed`, ...
    pub reason: String,
    pub message: String,
    pub warning: bool,
    /// When it last happened; events are ordered by it.
    pub time: Option<Timestamp>,
}

/// Controller Event reasons (`controller::reconcile::plan::Reason`).
pub const ALLOCATION_FAILED: &str = "AllocationFailed";
pub const IP_ALLOCATED: &str = "IPAllocated";
pub const CLEAR_ASSIGNMENT: &str = "ClearAssignment";
/// Speaker Event reason (`speaker::report::NoticeKind`).
pub const ANNOUNCE_FAILED: &str = "announceFailed";
