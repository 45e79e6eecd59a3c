//! `metallb.io/v1beta2` `BGPPeer`, the stored version.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::selector::LabelSelector;

/// `BGPPeer.spec` (v1beta2).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "metallb.io",
    version = "v1beta2",
    kind = "BGPPeer",
    doc = "A BGP router the nodes peer with (MetalLB API).",
    namespaced,
    category = "metallb",
    printcolumn = r#"{"name": "Address", "type": "string", "jsonPath": ".spec.peerAddress"}"#,
    printcolumn = r#"{"name": "Interface", "type": "string", "jsonPath": ".spec.interface", "priority": 1}"#,
    printcolumn = r#"{"name": "My ASN", "type": "string", "jsonPath": ".spec.myASN"}"#,
    printcolumn = r#"{"name": "ASN", "type": "string", "jsonPath": ".spec.peerASN"}"#,
    printcolumn = r#"{"name": "Dynamic ASN", "type": "string", "jsonPath": ".spec.dynamicASN", "priority": 1}"#,
    printcolumn = r#"{"name": "BFD Profile", "type": "string", "jsonPath": ".spec.bfdProfile"}"#,
    printcolumn = r#"{"name": "Multi Hops", "type": "string", "jsonPath": ".spec.ebgpMultiHop"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.password) || !has(self.passwordSecret)", "message": "password and passwordSecret are mutually exclusive"},
    {"rule": "has(self.peerASN) != has(self.dynamicASN)", "message": "exactly one of peerASN and dynamicASN must be set"},
    {"rule": "has(self.peerAddress) != has(self.interface)", "message": "exactly one of peerAddress and interface must be set"},
    {"rule": "!has(self.holdTime) || !has(self.keepaliveTime) || duration(self.keepaliveTime) <= duration(self.holdTime)", "message": "keepaliveTime must not exceed holdTime"}
]))]
pub struct BGPPeerSpec {
    /// Local AS number.
    #[serde(rename = "myASN")]
    pub my_asn: u32,
    /// The AS this session presents instead of `myASN` (MetalLB v0.16:
    /// FRR's `local-as <ASN> no-prepend replace-as`): the OPEN and the
    /// AS_PATH carry it alone, and iBGP/eBGP follows it.
    #[serde(default, rename = "localASN", skip_serializing_if = "is_zero")]
    #[schemars(range(min = 1))]
    pub local_asn: u32,
    /// Remote AS number; exclusive with `dynamicASN`.
    #[serde(default, rename = "peerASN", skip_serializing_if = "is_zero")]
    pub peer_asn: u32,
    /// Accept whatever remote AS the peer announces, if internal or external.
    #[serde(
        default,
        rename = "dynamicASN",
        skip_serializing_if = "Option::is_none"
    )]
    pub dynamic_asn: Option<DynamicASNMode>,
    /// Address to connect to; exclusive with `interface`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub peer_address: String,
    /// Interface for unnumbered peering; exclusive with `peerAddress`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interface: String,
    /// Local address to connect from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_address: String,
    /// TCP port to connect to.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 16384))]
    pub peer_port: u16,
    /// Requested hold time, a Go duration (`90s`); 0 or at least 3s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<String>,
    /// Keepalive interval, a Go duration; at most the hold time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_time: Option<String>,
    /// Time between connection attempts, whole seconds in 1s..=65535s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "duration(self).getSeconds() >= 1 && duration(self).getSeconds() <= 65535", "message": "connect time should be between 1 seconds to 65535"},
        {"rule": "duration(self).getMilliseconds() % 1000 == 0", "message": "connect time should contain a whole number of seconds"}
    ]))]
    pub connect_time: Option<String>,
    /// BGP identifier to send (an IPv4 address).
    #[serde(default, rename = "routerID", skip_serializing_if = "String::is_empty")]
    pub router_id: String,
    /// Nodes that peer; none means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selectors: Vec<LabelSelector>,
    /// TCP MD5 password; exclusive with `passwordSecret`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// Secret (`kubernetes.io/basic-auth`, key `password`) holding the TCP
    /// MD5 password, in FerroLB's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<SecretReference>,
    /// `BFDProfile` to run BFD with; none means no BFD.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bfd_profile: String,
    /// Graceful restart (RFC 4724). Immutable, as in MetalLB.
    #[serde(default, skip_serializing_if = "crate::api::is_false")]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "self == oldSelf", "message": "EnableGracefulRestart cannot be changed after creation"}
    ]))]
    pub enable_graceful_restart: bool,
    /// The eBGP peer is more than one hop away.
    #[serde(default, skip_serializing_if = "crate::api::is_false")]
    pub ebgp_multi_hop: bool,
    /// Host VRF to peer from.
    #[serde(default, rename = "vrf", skip_serializing_if = "String::is_empty")]
    pub vrf_name: String,
    /// Deprecated in MetalLB: separate sessions per address family.
    #[serde(
        default,
        rename = "disableMP",
        skip_serializing_if = "crate::api::is_false"
    )]
    pub disable_mp: bool,
    /// Exchange both address families over this session.
    #[serde(default, skip_serializing_if = "crate::api::is_false")]
    pub dual_stack_address_family: bool,
}

impl Default for BGPPeerSpec {
    /// The defaults the CRD applies: `peerPort: 179`, everything else unset.
    fn default() -> Self {
        Self {
            my_asn: 0,
            local_asn: 0,
            peer_asn: 0,
            dynamic_asn: None,
            peer_address: String::new(),
            interface: String::new(),
            source_address: String::new(),
            peer_port: default_port(),
            hold_time: None,
            keepalive_time: None,
            connect_time: None,
            router_id: String::new(),
            node_selectors: Vec::new(),
            password: String::new(),
            password_secret: None,
            bfd_profile: String::new(),
            enable_graceful_restart: false,
            ebgp_multi_hop: false,
            vrf_name: String::new(),
            disable_mp: false,
            dual_stack_address_family: false,
        }
    }
}

/// `BGPPeer.spec.dynamicASN`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DynamicASNMode {
    /// The peer must use our AS number (iBGP).
    Internal,
    /// The peer must use another AS number (eBGP).
    External,
}

/// `core/v1` `SecretReference`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct SecretReference {
    /// Secret name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Secret namespace; FerroLB reads Secrets only in its own namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

fn default_port() -> u16 {
    179
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}
