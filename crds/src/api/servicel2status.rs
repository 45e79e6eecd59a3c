//! `ServiceL2Status`: which node answers ARP/NDP for a service (written by
//! the speaker, one object per service and node).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `ServiceL2Status.spec`: empty, as in MetalLB.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "ServiceL2Status",
    doc = "Which node announces a service in layer-2 mode (MetalLB API, written by FerroLB).",
    namespaced,
    category = "metallb",
    status = "ServiceL2StatusStatus",
    printcolumn = r#"{"name": "Allocated Node", "type": "string", "jsonPath": ".status.node"}"#,
    printcolumn = r#"{"name": "Service Name", "type": "string", "jsonPath": ".status.serviceName"}"#,
    printcolumn = r#"{"name": "Service Namespace", "type": "string", "jsonPath": ".status.serviceNamespace"}"#
)]
pub struct ServiceL2StatusSpec {}

/// `ServiceL2Status.status` (MetalLB's `MetalLBServiceL2Status`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceL2StatusStatus {
    /// Node that receives the traffic.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
    /// Service name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_name: String,
    /// Service namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_namespace: String,
    /// Interfaces that receive the traffic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<InterfaceInfo>,
}

/// One announcing interface.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct InterfaceInfo {
    /// Interface name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}
