//! `NodeAnnouncementState` (FerroLB extension): why a node does *not*
//! announce Services, one object per node, written by that node's speaker
//! from its decision (docs/adr/0011-node-announcement-state.md). What a node
//! does announce is in MetalLB's `ServiceBGPStatus` and `ServiceL2Status`;
//! MetalLB has no kind for the rest, so it lives in `metallb.io` beside
//! `BGPSessionState`.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `NodeAnnouncementState.spec`: the node it describes.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "NodeAnnouncementState",
    doc = "Why one node does not announce Services (FerroLB extension).",
    namespaced,
    category = "metallb",
    status = "NodeAnnouncementStateStatus",
    printcolumn = r#"{"name": "Node", "type": "string", "jsonPath": ".spec.node"}"#,
    printcolumn = r#"{"name": "Not Announced", "type": "integer", "jsonPath": ".status.notAnnouncedCount"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct NodeAnnouncementStateSpec {
    /// Node whose speaker wrote it.
    pub node: String,
}

/// `NodeAnnouncementState.status`: the node's reasons, grouped so that a
/// reason shared by many Services is written once.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeAnnouncementStateStatus {
    /// One entry per distinct reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<NotAnnounced>,
    /// Service addresses not announced from this node, counted before any
    /// is left out.
    #[serde(default)]
    pub not_announced_count: u64,
    /// Services left out of `reasons` to keep the object small.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One reason, and the Services it holds for.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotAnnounced {
    /// `bgp` or `layer2`.
    pub protocol: String,
    /// A stable name for programs (`NoLocalReadyEndpoint`, `OwnedBy`, ...).
    pub reason: String,
    /// The reason as people read it.
    pub message: String,
    /// `namespace/name` when the reason holds for every address of the
    /// Service, `namespace/name ADDRESS` when only for that one.
    pub services: Vec<String>,
}
