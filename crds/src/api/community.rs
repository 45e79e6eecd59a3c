//! `Community`: named aliases for BGP community values.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `Community.spec`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "Community",
    doc = "Named aliases for BGP communities (MetalLB API).",
    namespaced,
    category = "metallb"
)]
#[serde(rename_all = "camelCase")]
pub struct CommunitySpec {
    /// The aliases this object defines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<CommunityAlias>,
}

/// One alias: `BGPAdvertisement.spec.communities` may name it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct CommunityAlias {
    /// The alias.
    #[serde(default)]
    pub name: String,
    /// `65000:100` or `large:1:2:3`.
    #[serde(default)]
    pub value: String,
}
