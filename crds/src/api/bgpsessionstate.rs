//! `BGPSessionState` (FerroLB extension): the live state of one BGP session,
//! one object per node and peer, written by that node's speaker. MetalLB has
//! no such kind; it lives in `metallb.io` with the rest so one RBAC rule and
//! the `metallb` category cover it (see docs/configuration.md).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `BGPSessionState.spec`: which session this object describes.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "BGPSessionState",
    doc = "Live state of one BGP session of one node (FerroLB extension).",
    namespaced,
    category = "metallb",
    status = "BGPSessionStateStatus",
    printcolumn = r#"{"name": "Node", "type": "string", "jsonPath": ".spec.node"}"#,
    printcolumn = r#"{"name": "Peer", "type": "string", "jsonPath": ".spec.peer"}"#,
    printcolumn = r#"{"name": "State", "type": "string", "jsonPath": ".status.state"}"#,
    printcolumn = r#"{"name": "BFD", "type": "string", "jsonPath": ".status.bfdStatus"}"#,
    printcolumn = r#"{"name": "Prefixes Sent", "type": "integer", "jsonPath": ".status.prefixesSent"}"#,
    printcolumn = r#"{"name": "Prefixes Received", "type": "integer", "jsonPath": ".status.prefixesReceived"}"#,
    printcolumn = r#"{"name": "Since", "type": "date", "jsonPath": ".status.establishedSince"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct BGPSessionStateSpec {
    /// Node the session runs on.
    pub node: String,
    /// `BGPPeer` name.
    pub peer: String,
    /// Peer address (or interface, for unnumbered peers).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub peer_address: String,
}

/// `BGPSessionState.status`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BGPSessionStateStatus {
    /// RFC 4271 session state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<SessionState>,
    /// RFC 3339 time the session last reached Established.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub established_since: Option<String>,
    /// BGP messages sent.
    #[serde(default)]
    pub messages_sent: u64,
    /// BGP messages received.
    #[serde(default)]
    pub messages_received: u64,
    /// Prefixes advertised to the peer.
    #[serde(default)]
    pub prefixes_sent: u64,
    /// Prefixes received from the peer.
    #[serde(default)]
    pub prefixes_received: u64,
    /// Last error, e.g. the NOTIFICATION that closed the session.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_error: String,
    /// State of the BFD session watching the path (`up`, `init`, `down`,
    /// `admin-down`) when the peer names a `BFDProfile`; empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bfd_status: String,
}

/// RFC 4271 §8.2.2 states.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum SessionState {
    /// Not trying to connect.
    Idle,
    /// Waiting for the TCP connection.
    Connect,
    /// Listening after a failed connection.
    Active,
    /// OPEN sent.
    OpenSent,
    /// OPEN received, waiting for KEEPALIVE.
    OpenConfirm,
    /// Up.
    Established,
}
