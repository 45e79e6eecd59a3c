//! What a pass tells its shell to publish: Events on Services, the status
//! of each announced Service, and the sessions. Plain data; the Kubernetes
//! shell writes it to the API server, standalone mode has its log lines.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use ferrolb_bfd::shell::SessionStatus as BfdStatus;
use ferrolb_bgp::peer::PeerStatus;

use crate::decide::{Changed, L2Status, ServiceKey};
use crate::report::NoticeKind;

/// What one pass (or one Layer-2 change) asks to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Events worth publishing on Services, in order.
    pub events: Vec<ServiceEvent>,
    /// The Services whose status ([`super::Speaker::service_statuses`])
    /// may differ from the last report's: those decided again. A shell
    /// rewrites only those, not every Service on every change.
    pub statuses: Changed,
}

impl Default for Report {
    fn default() -> Self {
        Report {
            events: Vec::new(),
            statuses: Changed::none(),
        }
    }
}

/// An Event about a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEvent {
    pub service: ServiceKey,
    pub kind: NoticeKind,
    /// The Event's message.
    pub note: String,
}

/// Per announced Service, what this node announces it with: the status
/// objects (`ServiceBGPStatus`, `ServiceL2Status`) it should hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceStatuses {
    /// The BGP peers each Service is announced to.
    pub bgp: BTreeMap<ServiceKey, Vec<String>>,
    /// The interfaces each Service is answered on.
    pub l2: BTreeMap<ServiceKey, L2Status>,
}

/// One BGP session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The BGPPeer's name.
    pub peer: String,
    /// The peer's address.
    pub address: SocketAddr,
    pub status: PeerStatus,
    /// The BFD session watching the path, when the peer names a profile.
    pub bfd: Option<BfdState>,
}

/// A BFD session as reported: its state and its packet counts.
#[derive(Debug, Clone)]
pub struct BfdState {
    pub status: BfdStatus,
    pub packets_in: u64,
    pub packets_out: u64,
}
