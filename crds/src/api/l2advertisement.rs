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
    /// Soft preferences in the choice of the announcing node: a node's
    /// score is the sum of the weights whose selector matches it, and the
    /// highest score wins (MetalLB, after v0.16.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_node_selectors: Vec<PreferredNodeSelector>,
}

/// A weighted soft preference for nodes (Kubernetes'
/// `PreferredSchedulingTerm` pattern, as MetalLB).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct PreferredNodeSelector {
    /// 1..=100; weights of selectors that all match a node add up.
    #[schemars(range(min = 1, max = 100))]
    pub weight: i32,
    /// The nodes that get the weight; empty matches every node. Only nodes
    /// the advertisement's `nodeSelectors` allow are scored.
    pub preference: LabelSelector,
}
