//! The Helm chart: every template renders with the default values; every
//! flag and environment variable it passes exists in the binary it starts;
//! and the rendered workloads install on the real API server with every
//! field kept (a misspelt field would be dropped silently by 1.20).

#[path = "cluster_support/mod.rs"]
mod cluster_support;

use std::process::Command;

use cluster_support::*;
use interop_tests::chart;
use interop_tests::ferrolb::workspace_binary;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use kube::api::{Api, PostParams};
use serde_json::Value;

const WORKLOADS: [(&str, &str, &str); 2] = [
    (
        "controller.yaml",
        "ferrolb-controller",
        "ferrolb-controller",
    ),
    ("speaker.yaml", "ferrolb-speaker", "ferrolb-speaker"),
];

fn container(doc: &Value) -> &Value {
    &doc["spec"]["template"]["spec"]["containers"][0]
}

#[test]
fn every_flag_and_variable_the_chart_passes_exists() -> TestResult {
    let values = chart::default_values()?;
    for (template, binary, package) in WORKLOADS {
        let docs = chart::render(template, NS, &values)?;
        let c = container(&docs[0]);
        assert_eq!(c["command"][0], binary, "{template}");
        let help = Command::new(workspace_binary(binary, package)?)
            .arg("--help")
            .output()?;
        let help = String::from_utf8(help.stdout)?;
        for arg in c["args"].as_array().into_iter().flatten() {
            let flag = arg
                .as_str()
                .unwrap_or_default()
                .split('=')
                .next()
                .unwrap_or_default();
            assert!(
                help.contains(flag),
                "{template}: {binary} has no {flag}:\n{help}"
            );
        }
        for env in c["env"].as_array().into_iter().flatten() {
            let name = env["name"].as_str().unwrap_or_default();
            assert!(
                help.contains(&format!("env: {name}")),
                "{template}: {binary} does not read {name}:\n{help}"
            );
        }
    }
    Ok(())
}

#[test]
fn the_rendered_workloads_install_with_every_field_kept() -> TestResult {
    block_on(async {
        let cluster = Cluster::start().await?;
        let values = chart::default_values()?;
        let pp = PostParams::default();
        for (template, _, _) in WORKLOADS {
            for doc in chart::render(template, NS, &values)? {
                let stored = match doc["kind"].as_str() {
                    Some("Deployment") => serde_json::to_value(
                        Api::<Deployment>::namespaced(cluster.admin.clone(), NS)
                            .create(&pp, &serde_json::from_value(doc.clone())?)
                            .await?,
                    )?,
                    Some("DaemonSet") => serde_json::to_value(
                        Api::<DaemonSet>::namespaced(cluster.admin.clone(), NS)
                            .create(&pp, &serde_json::from_value(doc.clone())?)
                            .await?,
                    )?,
                    other => return Err(format!("{template}: unexpected kind {other:?}").into()),
                };
                if let Some(missing) = first_missing(&doc, &stored, String::new()) {
                    return Err(format!("{template}: the server dropped {missing}").into());
                }
            }
        }
        Ok(())
    })
}

/// The first path of `sent` that `stored` lacks or holds another value at.
fn first_missing(sent: &Value, stored: &Value, path: String) -> Option<String> {
    match (sent, stored) {
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(k, v)| match b.get(k) {
            Some(w) => first_missing(v, w, format!("{path}.{k}")),
            None => Some(format!("{path}.{k}")),
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (v, w))| first_missing(v, w, format!("{path}[{i}]"))),
        (a, b) if a == b => None,
        // An int-or-string port given by name comes back as the same string.
        (a, b) => Some(format!("{path} ({a} became {b})")),
    }
}
