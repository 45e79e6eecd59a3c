//! `metallb.io/v1beta1` `BGPPeer`: still served so that old manifests apply
//! unchanged; a subset of [`super::v1beta2`].

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::selector::LabelSelector;

/// `BGPPeer.spec` (v1beta1): address-only peers. ASNs are 32-bit, as in
/// MetalLB's served v1beta1 schema.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "BGPPeer",
    doc = "A BGP router the nodes peer with (MetalLB API).",
    namespaced,
    category = "metallb",
    storage = false,
    printcolumn = r#"{"name": "Address", "type": "string", "jsonPath": ".spec.peerAddress"}"#,
    printcolumn = r#"{"name": "My ASN", "type": "string", "jsonPath": ".spec.myASN"}"#,
    printcolumn = r#"{"name": "ASN", "type": "string", "jsonPath": ".spec.peerASN"}"#,
    printcolumn = r#"{"name": "BFD Profile", "type": "string", "jsonPath": ".spec.bfdProfile"}"#,
    printcolumn = r#"{"name": "Multi Hops", "type": "string", "jsonPath": ".spec.ebgpMultiHop"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct BGPPeerSpec {
    /// Local AS number.
    #[serde(rename = "myASN")]
    pub my_asn: u32,
    /// Remote AS number.
    #[serde(rename = "peerASN")]
    pub peer_asn: u32,
    /// Address to connect to.
    pub peer_address: String,
    /// Local address to connect from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_address: String,
    /// TCP port to connect to (default 179).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 16384))]
    pub peer_port: Option<u16>,
    /// Requested hold time, a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<String>,
    /// Keepalive interval, a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_time: Option<String>,
    /// BGP identifier to send.
    #[serde(default, rename = "routerID", skip_serializing_if = "String::is_empty")]
    pub router_id: String,
    /// Nodes that peer; none means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selectors: Vec<LabelSelector>,
    /// TCP MD5 password.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// `BFDProfile` to run BFD with.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bfd_profile: String,
    /// The eBGP peer is more than one hop away.
    #[serde(default, skip_serializing_if = "crate::api::is_false")]
    pub ebgp_multi_hop: bool,
}

impl From<BGPPeerSpec> for super::v1beta2::BGPPeerSpec {
    /// What the API server does with conversion strategy `None`: same JSON,
    /// new `apiVersion`.
    fn from(old: BGPPeerSpec) -> Self {
        Self {
            my_asn: old.my_asn,
            peer_asn: old.peer_asn,
            peer_address: old.peer_address,
            source_address: old.source_address,
            peer_port: old.peer_port.unwrap_or(179),
            hold_time: old.hold_time,
            keepalive_time: old.keepalive_time,
            router_id: old.router_id,
            node_selectors: old.node_selectors,
            password: old.password,
            bfd_profile: old.bfd_profile,
            ebgp_multi_hop: old.ebgp_multi_hop,
            ..Default::default()
        }
    }
}
