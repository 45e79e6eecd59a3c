//! `BFDProfile`: BFD timers a `BGPPeer` can refer to.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `BFDProfile.spec`. Every field is optional; the compiler fills in
/// MetalLB's (FRR's) defaults.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "BFDProfile",
    doc = "BFD settings a BGPPeer can use (MetalLB API).",
    namespaced,
    category = "metallb",
    printcolumn = r#"{"name": "Passive Mode", "type": "boolean", "jsonPath": ".spec.passiveMode"}"#,
    printcolumn = r#"{"name": "Transmit Interval", "type": "integer", "jsonPath": ".spec.transmitInterval"}"#,
    printcolumn = r#"{"name": "Receive Interval", "type": "integer", "jsonPath": ".spec.receiveInterval"}"#,
    printcolumn = r#"{"name": "Multiplier", "type": "integer", "jsonPath": ".spec.detectMultiplier"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct BFDProfileSpec {
    /// Minimum receive interval in milliseconds (10–60000, default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 60000))]
    pub receive_interval: Option<u32>,
    /// Minimum transmit interval in milliseconds (10–60000, default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 60000))]
    pub transmit_interval: Option<u32>,
    /// Detection multiplier (2–255, default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 255))]
    pub detect_multiplier: Option<u32>,
    /// Minimum echo receive interval in milliseconds (10–60000, default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 60000))]
    pub echo_interval: Option<u32>,
    /// Echo mode (default off; not for multi-hop sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_mode: Option<bool>,
    /// Wait for the peer's control packets before sending (default off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_mode: Option<bool>,
    /// Multi-hop only: minimum expected TTL (1–254, default 254).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "minimumTtl"
    )]
    #[schemars(range(min = 1, max = 254))]
    pub minimum_ttl: Option<u32>,
}
