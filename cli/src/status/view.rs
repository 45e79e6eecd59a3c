//! The view models `ferrolb status` prints: plain data, serialised as the
//! documented JSON/YAML schema (docs/status.md) and rendered as text.
//! Fields are only ever added to this schema, never renamed or removed,
//! within one `apiVersion`.

use serde::Serialize;

/// The `apiVersion` of every document `ferrolb status -o json|yaml` prints.
pub const API_VERSION: &str = "status.ferrolb.io/v1";

/// `ferrolb status`: one row per `LoadBalancer` Service.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ServicesView {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub services: Vec<ServiceRow>,
    /// Problems that concern every Service (an invalid configuration).
    pub warnings: Vec<String>,
}

/// Where a Service stands.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub enum ServiceState {
    /// Addresses assigned and announced by at least one node.
    Announced,
    /// Addresses assigned, announced by no node.
    NotAnnounced,
    /// No address assigned.
    Pending,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Announced => "announced",
            ServiceState::NotAnnounced => "not announced",
            ServiceState::Pending => "pending",
        }
    }
}

/// How a pool's addresses are announced.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    #[serde(rename = "bgp")]
    Bgp,
    #[serde(rename = "l2")]
    L2,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Bgp => "BGP",
            Mode::L2 => "L2",
        }
    }
}

/// One Service.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRow {
    pub namespace: String,
    pub name: String,
    pub state: ServiceState,
    /// The ingress addresses.
    pub addresses: Vec<String>,
    /// The pool the addresses came from.
    pub pool: Option<String>,
    /// How the pool is announced (from the advertisements that select it).
    pub modes: Vec<Mode>,
    /// Nodes advertising it by BGP, with their peers.
    pub bgp: Vec<BgpAnnouncer>,
    /// Nodes answering ARP/NDP for it.
    pub l2: Vec<L2Announcer>,
    /// Why it is pending, not announced, or announced with trouble.
    pub reason: Option<String>,
}

/// A node advertising a Service by BGP.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BgpAnnouncer {
    pub node: String,
    pub peers: Vec<String>,
}

/// The node answering ARP/NDP for a Service.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct L2Announcer {
    pub node: String,
    pub interfaces: Vec<String>,
}

/// `ferrolb status sessions`: one row per node and peer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SessionsView {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub sessions: Vec<SessionRow>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    pub node: String,
    pub peer: String,
    pub peer_address: String,
    pub state: String,
    /// Seconds since the session reached Established; `None` when it is
    /// not Established.
    pub uptime_seconds: Option<u64>,
    pub prefixes_sent: u64,
    pub prefixes_received: u64,
    pub last_error: Option<String>,
    /// BFD state; `None` when the peer has no BFD profile.
    pub bfd: Option<String>,
}

/// `ferrolb status pools`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PoolsView {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub pools: Vec<PoolRow>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PoolRow {
    pub name: String,
    pub auto_assign: bool,
    pub modes: Vec<Mode>,
    /// One entry per family the pool has addresses of; empty when the
    /// controller has not reported usage.
    pub families: Vec<FamilyUsage>,
    /// Services with addresses from the pool (`namespace/name`).
    pub services: Vec<String>,
    /// Exhaustion, or nothing announcing the pool.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FamilyUsage {
    /// `ipv4` or `ipv6`.
    pub family: &'static str,
    pub used: u64,
    pub free: u64,
}

/// `ferrolb status why NS/NAME`: the chain of decisions for one Service.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WhyView {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub service: ServiceRow,
    pub steps: Vec<Step>,
}

/// One decision.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// `service`, `configuration`, `allocation`, `pool`, `node`, `session`.
    pub stage: &'static str,
    /// What the step is about: the Service, a pool, a node, `node → peer`.
    pub subject: String,
    pub outcome: Outcome,
    pub detail: String,
}

/// How a step went.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// As it should be.
    Ok,
    /// Facts without a verdict.
    Info,
    /// Works, but not fully (a peer down while others carry the route).
    Warning,
    /// The reason the Service is not (fully) served.
    Failed,
}
