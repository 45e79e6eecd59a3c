//! Standalone mode's inputs: YAML files holding what a cluster would hold:
//! the `metallb.io` configuration (and Secrets), Services, their
//! EndpointSlices, Namespaces and Nodes, read into the API's own types.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ferrolb_crds::config::Resources;
use ferrolb_crds::manifest::{self, ManifestError};
use ferrolb_crds::selector::Labels;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::Value;

use crate::adapt::slice_service;
use crate::decide::ServiceKey;

/// Everything read from the files.
#[derive(Debug, Default)]
pub struct Inputs {
    pub resources: Resources,
    pub services: BTreeMap<ServiceKey, Service>,
    /// EndpointSlices of Services.
    pub slices: Vec<EndpointSlice>,
    pub namespaces: BTreeMap<String, Labels>,
    /// Nodes, by name (the configuration's compiler reads them from
    /// `resources` too).
    pub nodes: BTreeMap<String, Node>,
}

/// A problem in one file.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Manifest { path: String, source: ManifestError },
    #[error("{path}: document {index}: {kind} {name}: {reason}")]
    Object {
        path: String,
        index: usize,
        kind: String,
        name: String,
        reason: String,
    },
}

/// The YAML files of `path`: the file itself, or a directory's `*.yaml` and
/// `*.yml` files in name order.
pub fn files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// What identifies a version of the files: names, sizes and times. A change
/// of any means "read again".
pub fn fingerprint(files: &[PathBuf]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f).ok();
            (
                f.clone(),
                meta.as_ref().map_or(0, |m| m.len()),
                meta.and_then(|m| m.modified().ok()),
            )
        })
        .collect()
}

/// Reads every file; objects that fail are reported, the others kept.
pub fn read(files: &[PathBuf]) -> (Inputs, Vec<InputError>) {
    let mut inputs = Inputs::default();
    let mut errors = Vec::new();
    for file in files {
        let path = file.display().to_string();
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(source) => {
                errors.push(InputError::Read { path, source });
                continue;
            }
        };
        // The configuration kinds go through the same reader as `validate`.
        let (_, manifest_errors) = manifest::read_yaml(&text, &mut inputs.resources);
        errors.extend(
            manifest_errors
                .into_iter()
                .map(|source| InputError::Manifest {
                    path: path.clone(),
                    source,
                }),
        );
        read_cluster_objects(&text, &path, &mut inputs, &mut errors);
    }
    (inputs, errors)
}

/// Services, EndpointSlices, Namespaces and Nodes as the API's types (the
/// configuration reader keeps only what the compiler needs of Nodes, and
/// skips the rest).
fn read_cluster_objects(text: &str, path: &str, inputs: &mut Inputs, errors: &mut Vec<InputError>) {
    for (index, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        let Ok(value) = <Value as serde::Deserialize>::deserialize(doc) else {
            // Syntax errors were reported by the configuration reader.
            return;
        };
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        let name = value["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let namespace = value["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let error = |reason: String| InputError::Object {
            path: path.to_string(),
            index: index + 1,
            kind: kind.clone(),
            name: name.clone(),
            reason,
        };
        match (value["apiVersion"].as_str(), kind.as_str()) {
            (Some("v1"), "Service") => match serde_json::from_value::<Service>(value.clone()) {
                Ok(mut svc) => {
                    svc.metadata.namespace = Some(namespace.clone());
                    default_families(&mut svc);
                    inputs
                        .services
                        .insert(ServiceKey::new(namespace, name.clone()), svc);
                }
                Err(e) => errors.push(error(e.to_string())),
            },
            (Some("discovery.k8s.io/v1"), "EndpointSlice") => {
                match serde_json::from_value::<EndpointSlice>(value.clone()) {
                    Ok(mut slice) => {
                        slice.metadata.namespace = Some(namespace.clone());
                        match slice_service(&slice) {
                            Some(_) => inputs.slices.push(slice),
                            None => {
                                errors.push(error("no kubernetes.io/service-name label".into()))
                            }
                        }
                    }
                    Err(e) => errors.push(error(e.to_string())),
                }
            }
            (Some("v1"), "Node") => {
                // Errors were reported by the configuration reader.
                if let Ok(node) = serde_json::from_value::<Node>(value.clone()) {
                    inputs.nodes.insert(name.clone(), node);
                }
            }
            (Some("v1"), "Namespace") => {
                let labels: Labels =
                    serde_json::from_value(value["metadata"]["labels"].clone()).unwrap_or_default();
                inputs.namespaces.insert(name.clone(), labels);
            }
            _ => {}
        }
    }
}

/// What an API server fills in: with no `ipFamilies`, the families of the
/// requested addresses, else IPv4 single stack (a cluster whose primary
/// service range is IPv4). Set `ipFamilies` and `ipFamilyPolicy` for IPv6
/// or dual stack.
fn default_families(svc: &mut Service) {
    let requested: Vec<std::net::IpAddr> = svc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| {
            a.get("metallb.io/loadBalancerIPs")
                .or_else(|| a.get("metallb.universe.tf/loadBalancerIPs"))
        })
        .map(|v| {
            v.split(',')
                .filter_map(|ip| ip.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let spec = svc.spec.get_or_insert_default();
    if spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()) {
        return;
    }
    let requested_spec = spec
        .load_balancer_ip
        .as_deref()
        .and_then(|ip| ip.parse().ok());
    let mut families: Vec<String> = requested
        .iter()
        .chain(requested_spec.as_ref())
        .map(|ip: &std::net::IpAddr| if ip.is_ipv4() { "IPv4" } else { "IPv6" }.to_string())
        .collect();
    families.dedup();
    if families.is_empty() {
        families.push("IPv4".into());
    }
    if spec.ip_family_policy.is_none() {
        let policy = if families.len() > 1 {
            "RequireDualStack"
        } else {
            "SingleStack"
        };
        spec.ip_family_policy = Some(policy.into());
    }
    spec.ip_families = Some(families);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(yaml: &str) -> Service {
        let mut svc: Service = serde_norway::from_str(yaml).expect("service yaml");
        default_families(&mut svc);
        svc
    }

    fn families(svc: &Service) -> (Vec<String>, Option<String>) {
        let spec = svc.spec.clone().unwrap_or_default();
        (spec.ip_families.unwrap_or_default(), spec.ip_family_policy)
    }

    /// `ferrolb run` refuses a misspelt field as `ferrolb validate` does:
    /// a peer without the MD5 password its author set must not start.
    #[test]
    fn a_misspelt_field_is_a_problem_that_refuses_the_files() {
        let path = std::env::temp_dir().join(format!("ferrolb-read-{}.yaml", std::process::id()));
        let peer = "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: tor}\nspec: {myASN: 64500, peerASN: 64501, peerAddress: 10.0.0.1, pasword: x}\n";
        std::fs::write(&path, peer).expect("write");
        let (inputs, errors) = read(std::slice::from_ref(&path));
        let _ = std::fs::remove_file(&path);
        assert!(inputs.resources.peers.is_empty(), "{errors:?}");
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(
            text[0].ends_with(r#"spec.pasword: unknown field; did you mean "password"?"#),
            "{text:?}"
        );
    }

    #[test]
    fn services_get_the_families_an_api_server_would_give() {
        let plain = service("metadata: {name: a}\nspec: {type: LoadBalancer}");
        assert_eq!(
            families(&plain),
            (vec!["IPv4".into()], Some("SingleStack".into()))
        );
        let v6 = service(
            "metadata: {name: a, annotations: {metallb.io/loadBalancerIPs: '2001:db8::1'}}\nspec: {type: LoadBalancer}",
        );
        assert_eq!(families(&v6).0, ["IPv6"]);
        let dual = service(
            "metadata: {name: a, annotations: {metallb.io/loadBalancerIPs: '10.0.0.1,2001:db8::1'}}\nspec: {type: LoadBalancer}",
        );
        assert_eq!(
            families(&dual),
            (
                vec!["IPv4".into(), "IPv6".into()],
                Some("RequireDualStack".into())
            )
        );
        let explicit = service(
            "metadata: {name: a}\nspec: {type: LoadBalancer, ipFamilies: [IPv6], ipFamilyPolicy: PreferDualStack}",
        );
        assert_eq!(
            families(&explicit),
            (vec!["IPv6".into()], Some("PreferDualStack".into()))
        );
    }
}
