//! What one pass reads and how the speaker runs: plain data, the same
//! whichever shell (Kubernetes watches or files) gathered it.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use crate::announce::{GracefulRestartSettings, L2Settings};
use crate::decide::{NodeState, ServiceState};
use crate::metrics::Metrics;

/// Everything a pass decides from, but the configuration (which changes
/// rarely, and is compiled once per change: [`super::Speaker::configure`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// This node.
    pub node: NodeState,
    /// This node's IPv4 address, the default router ID.
    pub node_ipv4: Option<Ipv4Addr>,
    /// Every node, by name (Layer-2 mode chooses an owner among them).
    pub nodes: BTreeMap<String, NodeState>,
    /// The nodes that run a speaker, with its address: the Layer-2
    /// membership's known members.
    pub speakers: BTreeMap<String, IpAddr>,
    /// The LoadBalancer Services of our class that have an address.
    pub services: Vec<ServiceState>,
}

/// How the speaker runs: fixed for its lifetime.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This node's name.
    pub node: String,
    /// Router ID when a BGPPeer sets none; else [`Inputs::node_ipv4`].
    pub router_id: Option<Ipv4Addr>,
    /// Accept routers' BGP connections here too.
    pub bgp_listen: Option<SocketAddr>,
    /// Layer-2 announcement options and interface rules.
    pub l2: L2Settings,
    /// Graceful restart: the restart time, whether this is a restart, and
    /// what SIGTERM does.
    pub graceful_restart: GracefulRestartSettings,
    /// Where the speaker's metrics go, when served.
    pub metrics: Option<Arc<Metrics>>,
}
