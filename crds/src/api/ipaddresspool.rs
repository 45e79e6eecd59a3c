//! `IPAddressPool`: the addresses FerroLB may hand out.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::selector::LabelSelector;

/// `IPAddressPool.spec`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "IPAddressPool",
    doc = "A pool of IP addresses that FerroLB assigns to LoadBalancer services (MetalLB API).",
    namespaced,
    status = "IPAddressPoolStatus",
    category = "metallb",
    printcolumn = r#"{"name": "Auto Assign", "type": "boolean", "jsonPath": ".spec.autoAssign"}"#,
    printcolumn = r#"{"name": "Avoid Buggy IPs", "type": "boolean", "jsonPath": ".spec.avoidBuggyIPs"}"#,
    printcolumn = r#"{"name": "Addresses", "type": "string", "jsonPath": ".spec.addresses"}"#,
    printcolumn = r#"{"name": "Assigned IPv4", "type": "integer", "jsonPath": ".status.assignedIPv4", "priority": 1}"#,
    printcolumn = r#"{"name": "Assigned IPv6", "type": "integer", "jsonPath": ".status.assignedIPv6", "priority": 1}"#,
    printcolumn = r#"{"name": "Available IPv4", "type": "integer", "jsonPath": ".status.availableIPv4", "priority": 1}"#,
    printcolumn = r#"{"name": "Available IPv6", "type": "integer", "jsonPath": ".status.availableIPv6", "priority": 1}"#
)]
#[serde(rename_all = "camelCase")]
pub struct IPAddressPoolSpec {
    /// Address ranges, each a CIDR (`10.0.0.0/24`) or an explicit
    /// `start-end` range (`10.0.0.10-10.0.0.20`), IPv4 or IPv6.
    pub addresses: Vec<String>,
    /// Whether services get addresses from this pool without asking for it.
    #[serde(default = "super::default_true")]
    pub auto_assign: bool,
    /// Never hand out IPv4 addresses ending in `.0` or `.255`.
    #[serde(default, rename = "avoidBuggyIPs")]
    pub avoid_buggy_ips: bool,
    /// Restricts the pool to some namespaces or services, with a priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_allocation: Option<ServiceAllocation>,
}

impl Default for IPAddressPoolSpec {
    /// The defaults the CRD applies: `autoAssign: true`.
    fn default() -> Self {
        Self {
            addresses: Vec::new(),
            auto_assign: true,
            avoid_buggy_ips: false,
            service_allocation: None,
        }
    }
}

/// `IPAddressPool.spec.serviceAllocation`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAllocation {
    /// Lower numbers are preferred; pools without a priority come last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Namespaces whose services may use the pool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Namespaces, by label, whose services may use the pool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_selectors: Vec<LabelSelector>,
    /// Services, by label, that may use the pool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_selectors: Vec<LabelSelector>,
}

/// `IPAddressPool.status`, written by the controller.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct IPAddressPoolStatus {
    /// IPv4 addresses assigned to services.
    #[serde(default, rename = "assignedIPv4")]
    pub assigned_ipv4: i64,
    /// IPv6 addresses assigned to services.
    #[serde(default, rename = "assignedIPv6")]
    pub assigned_ipv6: i64,
    /// IPv4 addresses still free.
    #[serde(default, rename = "availableIPv4")]
    pub available_ipv4: i64,
    /// IPv6 addresses still free (saturates at 2^63-1).
    #[serde(default, rename = "availableIPv6")]
    pub available_ipv6: i64,
}
