//! `L2Advertisement`: which pools are announced with ARP/NDP, from which nodes
//! and interfaces.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::selector::LabelSelector;

/// `L2Advertisement.spec`. MetalLB's spec is optional: an advertisement
/// without one announces every pool from every node.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "L2Advertisement",
    doc = "Announces pools on the local network with ARP/NDP (MetalLB API).",
    namespaced,
    category = "metallb",
    printcolumn = r#"{"name": "IPAddressPools", "type": "string", "jsonPath": ".spec.ipAddressPools"}"#,
    printcolumn = r#"{"name": "IPAddressPool Selectors", "type": "string", "jsonPath": ".spec.ipAddressPoolSelectors"}"#,
    printcolumn = r#"{"name": "Interfaces", "type": "string", "jsonPath": ".spec.interfaces"}"#,
    printcolumn = r#"{"name": "Node Selectors", "type": "string", "jsonPath": ".spec.nodeSelectors", "priority": 10}"#
)]
#[serde(rename_all = "camelCase")]
pub struct L2AdvertisementSpec {
    /// Pools announced, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pools: Vec<String>,
    /// Pools announced, by label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pool_selectors: Vec<LabelSelector>,
    /// Nodes that may announce; none means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selectors: Vec<LabelSelector>,
    /// Interfaces to answer ARP/NDP on; none means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<String>,
    /// Services announced, by label (any one selector matching); none
    /// means every Service of the pools. A Service with
    /// `allow-shared-ip` is not announced in layer 2 when one of the
    /// advertisements that select it has service selectors (MetalLB).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_selectors: Vec<LabelSelector>,
}
