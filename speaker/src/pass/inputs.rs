//! What one pass reads and how the speaker runs: plain data, the same
//! whichever shell (Kubernetes watches or files) gathered it.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use crate::announce::{GracefulRestartSettings, L2Settings};
use crate::decide::{NodeState, ServiceKey, ServiceState};
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
    /// The LoadBalancer Services of our class that have an address: all
    /// of them, or those that changed since the last pass.
    pub services: Services,
}

/// The Services of a pass. A shell that knows what changed (the
/// Kubernetes shell, from its watch events) hands only that, so that a
/// change to one Service costs one Service however many the cluster
/// holds; a shell that reads everything again (the files shell) hands
/// everything, and the pass compares it with what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Services {
    /// Every Service now: the pass finds which came, went or changed.
    All(Vec<ServiceState>),
    /// Only the Services whose inputs may have changed since the last
    /// pass, each as it is now, or `None` when it is no longer one to
    /// announce (deleted, of another class, without an address). Every
    /// other Service is as the last pass had it.
    Changed(BTreeMap<ServiceKey, Option<ServiceState>>),
}

impl Default for Services {
    fn default() -> Self {
        Services::All(Vec::new())
    }
}

impl Services {
    /// Every Service, when these are all of them.
    pub fn all(&self) -> Option<&[ServiceState]> {
        match self {
            Services::All(all) => Some(all),
            Services::Changed(_) => None,
        }
    }
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
