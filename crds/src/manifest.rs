//! Reading manifests: multi-document YAML as users `kubectl apply` it, into
//! the compiler's [`Resources`]. Kinds outside `metallb.io` are skipped,
//! except `v1` Secrets, which hold `passwordSecret` passwords, and `v1`
//! Nodes, which make the node checks exact.

use serde_json::Value;

use crate::api;
use crate::config::{Node, Resources, Secret};

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
// Each variant's `#[error]` text is its documentation.
#[allow(missing_docs)]
pub enum ManifestError {
    #[error("document {index}: not YAML: {source}")]
    Yaml {
        index: usize,
        source: serde_norway::Error,
    },
    #[error("document {index} ({kind} {name}): {path}: {source}")]
    Shape {
        index: usize,
        kind: String,
        name: String,
        /// Where in the object, e.g. `spec.holdTime`.
        path: String,
        source: serde_json::Error,
    },
    #[error("document {index} ({kind} {name}): {field}")]
    UnknownField {
        index: usize,
        kind: String,
        name: String,
        field: crate::fields::UnknownField,
    },
    #[error("document {index}: unknown metallb.io kind or version {api_version} {kind}")]
    UnknownKind {
        index: usize,
        api_version: String,
        kind: String,
    },
}

/// What a file held besides errors: the number of documents skipped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadSummary {
    /// metallb.io objects and Secrets read.
    pub read: usize,
    /// Other documents (Deployments, Services, ...), ignored.
    pub skipped: usize,
}

/// Adds every object of `text` (one or more YAML documents) to `into`.
/// Documents that fail are reported and skipped; the others are kept.
pub fn read_yaml(text: &str, into: &mut Resources) -> (ReadSummary, Vec<ManifestError>) {
    let mut summary = ReadSummary::default();
    let mut errors = Vec::new();
    for (index, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        let index = index + 1;
        let value = match <Value as serde::Deserialize>::deserialize(doc) {
            Ok(Value::Null) => continue,
            Ok(v) => v,
            Err(source) => {
                errors.push(ManifestError::Yaml { index, source });
                // A syntax error ends the stream: nothing after it is reliable.
                break;
            }
        };
        let unknown = unknown_fields(&value, index);
        if !unknown.is_empty() {
            // The object would not mean what its author wrote: refuse it.
            errors.extend(unknown);
            continue;
        }
        match add_object(value, index, into) {
            Ok(true) => summary.read += 1,
            Ok(false) => summary.skipped += 1,
            Err(e) => errors.push(e),
        }
    }
    (summary, errors)
}

/// The fields of a `metallb.io` object its CRD schema does not have.
fn unknown_fields(value: &Value, index: usize) -> Vec<ManifestError> {
    let api_version = str_at(value, "apiVersion");
    let Some(version) = api_version.strip_prefix("metallb.io/") else {
        return Vec::new();
    };
    let kind = str_at(value, "kind");
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    crate::fields::unknown_fields(version, &kind, value)
        .into_iter()
        .map(|field| ManifestError::UnknownField {
            index,
            kind: kind.clone(),
            name: name.to_string(),
            field,
        })
        .collect()
}

/// Adds one object; `Ok(false)` when it is not one the compiler reads.
pub fn add_object(
    mut value: Value,
    index: usize,
    into: &mut Resources,
) -> Result<bool, ManifestError> {
    let api_version = str_at(&value, "apiVersion");
    let kind = str_at(&value, "kind");
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let doc = Doc {
        index,
        kind: &kind,
        name: &name,
    };
    if api_version == "v1" && kind == "Secret" {
        let secret: k8s_openapi::api::core::v1::Secret = doc.typed(value)?;
        into.secrets.insert(name.clone(), secret_data(secret));
        return Ok(true);
    }
    if api_version == "v1" && kind == "Node" {
        let node: k8s_openapi::api::core::v1::Node = doc.typed(value)?;
        into.nodes
            .get_or_insert_with(Vec::new)
            .push(node_data(node));
        return Ok(true);
    }
    let Some(version) = api_version.strip_prefix("metallb.io/") else {
        return Ok(false);
    };
    // MetalLB's spec is optional for these kinds; the CRDs default it to {}.
    if let Value::Object(map) = &mut value {
        map.entry("spec")
            .or_insert_with(|| Value::Object(Default::default()));
    }
    match (version, kind.as_str()) {
        ("v1beta1", "IPAddressPool") => into.pools.push(doc.typed(value)?),
        ("v1beta1", "L2Advertisement") => into.l2_advertisements.push(doc.typed(value)?),
        ("v1beta1", "BGPAdvertisement") => into.bgp_advertisements.push(doc.typed(value)?),
        ("v1beta2", "BGPPeer") => into.peers.push(doc.typed(value)?),
        ("v1beta1", "BGPPeer") => {
            let old: api::bgppeer::v1beta1::BGPPeer = doc.typed(value)?;
            into.peers.push(api::BGPPeer {
                metadata: old.metadata,
                spec: old.spec.into(),
            });
        }
        ("v1beta1", "BFDProfile") => into.bfd_profiles.push(doc.typed(value)?),
        ("v1beta1", "Community") => into.communities.push(doc.typed(value)?),
        // Status kinds carry no configuration.
        (
            "v1beta1",
            "ServiceL2Status"
            | "ServiceBGPStatus"
            | "ConfigurationState"
            | "BGPSessionState"
            | "NodeAnnouncementState",
        ) => {
            return Ok(false);
        }
        _ => {
            return Err(ManifestError::UnknownKind {
                index,
                api_version,
                kind,
            });
        }
    }
    Ok(true)
}

/// Which document is being read, for errors.
struct Doc<'a> {
    index: usize,
    kind: &'a str,
    name: &'a str,
}

impl Doc<'_> {
    /// Deserializes with the path of the offending field in the error.
    fn typed<T: serde::de::DeserializeOwned>(&self, value: Value) -> Result<T, ManifestError> {
        serde_path_to_error::deserialize(value).map_err(|e| ManifestError::Shape {
            index: self.index,
            kind: self.kind.to_string(),
            name: self.name.to_string(),
            path: e.path().to_string(),
            source: e.into_inner(),
        })
    }
}

fn str_at(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Adds a Secret read from the API (watched objects come without
/// apiVersion and kind, so they cannot go through [`add_object`]).
pub fn add_secret(secret: &k8s_openapi::api::core::v1::Secret, into: &mut Resources) {
    if let Some(name) = &secret.metadata.name {
        into.secrets
            .insert(name.clone(), secret_data(secret.clone()));
    }
}

fn secret_data(secret: k8s_openapi::api::core::v1::Secret) -> Secret {
    let mut data: std::collections::BTreeMap<String, Vec<u8>> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    // As the API server does: stringData wins over data.
    for (k, v) in secret.string_data.unwrap_or_default() {
        data.insert(k, v.into_bytes());
    }
    Secret {
        type_: secret.type_.unwrap_or_else(|| "Opaque".to_string()),
        data,
    }
}

fn node_data(node: k8s_openapi::api::core::v1::Node) -> Node {
    Node {
        name: node.metadata.name.unwrap_or_default(),
        labels: node.metadata.labels.unwrap_or_default(),
        addresses: node
            .status
            .and_then(|s| s.addresses)
            .unwrap_or_default()
            .iter()
            .filter_map(|a| a.address.parse().ok())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_reach_the_compiler() {
        let secret = k8s_openapi::api::core::v1::Secret {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("pw".into()),
                ..Default::default()
            },
            string_data: Some([("password".to_string(), "x".to_string())].into()),
            ..Default::default()
        };
        let mut r = Resources::default();
        add_secret(&secret, &mut r);
        assert!(r.secrets.contains_key("pw"));
    }
}
