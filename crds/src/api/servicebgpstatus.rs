//! `ServiceBGPStatus`: the peers a node advertises a service to (written by
//! the speaker, one object per service and node).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `ServiceBGPStatus.spec`: empty, as in MetalLB.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "ServiceBGPStatus",
    doc = "Which peers a node advertises a service to (MetalLB API, written by FerroLB).",
    namespaced,
    category = "metallb",
    status = "ServiceBGPStatusStatus",
    printcolumn = r#"{"name": "Node", "type": "string", "jsonPath": ".status.node"}"#,
    printcolumn = r#"{"name": "Service Name", "type": "string", "jsonPath": ".status.serviceName"}"#,
    printcolumn = r#"{"name": "Service Namespace", "type": "string", "jsonPath": ".status.serviceNamespace"}"#
)]
pub struct ServiceBGPStatusSpec {}

/// `ServiceBGPStatus.status` (MetalLB's `MetalLBServiceBGPStatus`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceBGPStatusStatus {
    /// Node announcing the service.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
    /// Service name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_name: String,
    /// Service namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_namespace: String,
    /// `BGPPeer` names the service is configured to be advertised to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<String>,
}
