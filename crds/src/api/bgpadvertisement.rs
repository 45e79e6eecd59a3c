//! `BGPAdvertisement`: how pools are announced over BGP.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::selector::LabelSelector;

/// `BGPAdvertisement.spec`. Optional as in MetalLB: an empty advertisement
/// announces every pool to every peer as /32 and /128.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "BGPAdvertisement",
    doc = "Announces pools to BGP peers (MetalLB API).",
    namespaced,
    category = "metallb",
    printcolumn = r#"{"name": "IPAddressPools", "type": "string", "jsonPath": ".spec.ipAddressPools"}"#,
    printcolumn = r#"{"name": "IPAddressPool Selectors", "type": "string", "jsonPath": ".spec.ipAddressPoolSelectors"}"#,
    printcolumn = r#"{"name": "Peers", "type": "string", "jsonPath": ".spec.peers"}"#,
    printcolumn = r#"{"name": "Node Selectors", "type": "string", "jsonPath": ".spec.nodeSelectors", "priority": 10}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.serviceSelectors) || self.serviceSelectors.size() == 0 || ((!has(self.aggregationLength) || self.aggregationLength == 32) && (!has(self.aggregationLengthV6) || self.aggregationLengthV6 == 128))", "message": "serviceSelectors and aggregationLength are mutually exclusive, can only be used together with default aggregationLength (32) and aggregationLengthV6 (128)"}
]))]
pub struct BGPAdvertisementSpec {
    /// IPv4 prefix length the service addresses are rolled up to.
    #[serde(default = "default_aggregation_v4")]
    #[schemars(range(min = 1))]
    pub aggregation_length: i32,
    /// IPv6 prefix length the service addresses are rolled up to.
    #[serde(default = "default_aggregation_v6", rename = "aggregationLengthV6")]
    pub aggregation_length_v6: i32,
    /// LOCAL_PREF for iBGP peers; 0 means not set, as in MetalLB.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub local_pref: u32,
    /// Communities: `65000:100`, `large:1:2:3`, a well-known name or a
    /// `Community` alias.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<String>,
    /// Pools announced, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pools: Vec<String>,
    /// Pools announced, by label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pool_selectors: Vec<LabelSelector>,
    /// Nodes that announce; none means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selectors: Vec<LabelSelector>,
    /// `BGPPeer` names to announce to; none means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<String>,
    /// Services announced, by label (any one selector matching); none
    /// means every Service of the pools. Only with the default
    /// aggregation lengths (/32, /128).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_selectors: Vec<LabelSelector>,
}

impl Default for BGPAdvertisementSpec {
    fn default() -> Self {
        Self {
            aggregation_length: default_aggregation_v4(),
            aggregation_length_v6: default_aggregation_v6(),
            local_pref: 0,
            communities: Vec::new(),
            ip_address_pools: Vec::new(),
            ip_address_pool_selectors: Vec::new(),
            node_selectors: Vec::new(),
            peers: Vec::new(),
            service_selectors: Vec::new(),
        }
    }
}

fn default_aggregation_v4() -> i32 {
    32
}

fn default_aggregation_v6() -> i32 {
    128
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}
