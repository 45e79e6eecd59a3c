//! `ConfigurationState`: a status-only object in which each component
//! reports whether it accepted the configuration.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Placeholder for the spec MetalLB's kind does not have: `no_spec` keeps
/// the wire format free of a `spec` key.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "ConfigurationState",
    doc = "Whether a FerroLB component accepted the configuration (MetalLB API).",
    namespaced,
    no_spec,
    category = "metallb",
    status = "ConfigurationStateStatus",
    printcolumn = r#"{"name": "Result", "type": "string", "jsonPath": ".status.result"}"#,
    printcolumn = r#"{"name": "ErrorSummary", "type": "string", "jsonPath": ".status.errorSummary"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
pub struct ConfigurationStateSpec {}

/// `ConfigurationState.status`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationStateStatus {
    /// Whether the configuration was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ConfigurationResult>,
    /// The compiler's errors, one per line; empty when valid.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error_summary: String,
    /// Conditions from the component's reconcilers (`metav1.Condition`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

impl ConfigurationStateStatus {
    /// The status a component reports after compiling: `Valid`, or
    /// `Invalid` with one compiler error per line in `errorSummary`.
    /// Conditions are left to the caller.
    pub fn from_compile(
        result: &Result<crate::config::Compiled, crate::config::CompileError>,
    ) -> Self {
        match result {
            Ok(_) => Self {
                result: Some(ConfigurationResult::Valid),
                ..Default::default()
            },
            Err(e) => Self {
                result: Some(ConfigurationResult::Invalid),
                error_summary: e
                    .errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
                ..Default::default()
            },
        }
    }
}

/// `status.result`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConfigurationResult {
    /// The configuration compiled.
    Valid,
    /// The configuration has errors.
    Invalid,
    /// The component has not reported.
    Unknown,
}

/// `metav1.Condition`, reduced to what a schema needs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, e.g. `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// RFC 3339 time of the last status change.
    pub last_transition_time: String,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// The generation the condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
