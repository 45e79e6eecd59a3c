//! kubectl and Helm, run from the client's namespace on the LAN (as a person
//! at a workstation would), with typed views of what the tests read:
//! Services, Events, FerroLB's status objects, Nodes and Pods.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::cmd;
use crate::error::{LabError, Result};
use crate::netns::Netns;

/// kubectl 1.20 (the one built with the cluster) as cluster-admin.
#[derive(Debug, Clone)]
pub struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    netns: Netns,
}

/// What the tests read of a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    pub name: String,
    pub cluster_ip: String,
    /// `status.loadBalancer.ingress[].ip`.
    pub ingress: Vec<IpAddr>,
    pub annotations: serde_json::Map<String, Value>,
    pub external_traffic_policy: Option<String>,
}

/// One Event about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventView {
    pub type_: String,
    pub reason: String,
    pub message: String,
    pub source: String,
}

/// One ServiceL2Status: which node answers for a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2StatusView {
    pub node: String,
    pub service_name: String,
    pub service_namespace: String,
}

/// One Pod: where it runs and whether it is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodView {
    pub name: String,
    pub node: String,
    pub ip: String,
    pub ready: bool,
}

impl Kubectl {
    pub fn new(binary: PathBuf, kubeconfig: PathBuf, netns: Netns) -> Kubectl {
        Kubectl {
            binary,
            kubeconfig,
            netns,
        }
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    fn command(&self) -> Command {
        let mut command = self.netns.command(&self.binary.display().to_string());
        command.arg(format!("--kubeconfig={}", self.kubeconfig.display()));
        command
    }

    /// `kubectl args...`; its stdout.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<String> {
        let mut command = self.command();
        command.args(args);
        let out = cmd::output_of(&mut command)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `kubectl apply -f -` with `yaml` on stdin.
    pub fn apply(&self, yaml: &str) -> Result<String> {
        self.with_stdin(&["apply", "-f", "-"], yaml)
    }

    /// `kubectl delete --ignore-not-found -f -` with `yaml` on stdin.
    pub fn delete(&self, yaml: &str) -> Result<String> {
        self.with_stdin(
            &["delete", "--ignore-not-found", "--wait=false", "-f", "-"],
            yaml,
        )
    }

    /// `kubectl replace --raw PATH -f -` with `json` on stdin: a PUT of a
    /// subresource (kubectl 1.20 has no `--subresource`), e.g. a Service's
    /// `/status` as a load balancer writes it.
    pub fn replace_raw(&self, path: &str, json: &Value) -> Result<String> {
        self.with_stdin(&["replace", "--raw", path, "-f", "-"], &json.to_string())
    }

    fn with_stdin(&self, args: &[&str], input: &str) -> Result<String> {
        let mut command = self.command();
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let line = cmd::describe(&command);
        let mut child = command
            .spawn()
            .map_err(|e| LabError::io(format!("cannot run `{line}`"), e))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .map_err(|e| LabError::io(format!("cannot feed `{line}`"), e))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| LabError::io(format!("cannot run `{line}`"), e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(LabError::Command {
                command: format!("{line} <<< {input}"),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }

    /// `kubectl get args... -o json`, parsed.
    pub fn get_json(&self, args: &[&str]) -> Result<Value> {
        let mut all: Vec<&str> = vec!["get"];
        all.extend(args);
        all.extend(["-o", "json"]);
        let text = self.run(&all)?;
        serde_json::from_str(&text).map_err(|e| LabError::parse("kubectl get -o json", e, &text))
    }

    pub fn service(&self, namespace: &str, name: &str) -> Result<ServiceView> {
        let v = self.get_json(&["service", "-n", namespace, name])?;
        let ingress = v["status"]["loadBalancer"]["ingress"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|i| i["ip"].as_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        Ok(ServiceView {
            name: name.to_string(),
            cluster_ip: str_at(&v, &["spec", "clusterIP"]),
            ingress,
            annotations: v["metadata"]["annotations"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
            external_traffic_policy: v["spec"]["externalTrafficPolicy"]
                .as_str()
                .map(str::to_string),
        })
    }

    /// Events (core/v1) about the object `name` of `kind` in `namespace`.
    pub fn events(&self, namespace: &str, kind: &str, name: &str) -> Result<Vec<EventView>> {
        let selector = format!("involvedObject.kind={kind},involvedObject.name={name}");
        let v = self.get_json(&["events", "-n", namespace, "--field-selector", &selector])?;
        Ok(items(&v)
            .iter()
            .map(|e| EventView {
                type_: str_at(e, &["type"]),
                reason: str_at(e, &["reason"]),
                message: str_at(e, &["message"]),
                source: str_at(e, &["source", "component"]),
            })
            .collect())
    }

    /// Every ServiceL2Status in `namespace`.
    pub fn l2_statuses(&self, namespace: &str) -> Result<Vec<L2StatusView>> {
        let v = self.get_json(&["servicel2statuses.metallb.io", "-n", namespace])?;
        Ok(items(&v)
            .iter()
            .map(|s| L2StatusView {
                node: str_at(s, &["status", "node"]),
                service_name: str_at(s, &["status", "serviceName"]),
                service_namespace: str_at(s, &["status", "serviceNamespace"]),
            })
            .collect())
    }

    /// The node whose speaker answers for `namespace/service`, if any.
    pub fn l2_owner(
        &self,
        speaker_namespace: &str,
        namespace: &str,
        service: &str,
    ) -> Result<Option<String>> {
        Ok(self
            .l2_statuses(speaker_namespace)?
            .into_iter()
            .find(|s| s.service_name == service && s.service_namespace == namespace)
            .map(|s| s.node))
    }

    /// Pods in `namespace` matching the label `selector`.
    pub fn pods(&self, namespace: &str, selector: &str) -> Result<Vec<PodView>> {
        let v = self.get_json(&["pods", "-n", namespace, "-l", selector])?;
        Ok(items(&v)
            .iter()
            .map(|p| PodView {
                name: str_at(p, &["metadata", "name"]),
                node: str_at(p, &["spec", "nodeName"]),
                ip: str_at(p, &["status", "podIP"]),
                ready: condition_true(p, "Ready"),
            })
            .collect())
    }

    /// The last `lines` lines of every container of the pods `selector`
    /// matches, each line prefixed with its pod (for failure reports).
    pub fn log_tails(&self, namespace: &str, selector: &str, lines: usize) -> String {
        let tail = format!("--tail={lines}");
        let args = [
            "logs",
            "-n",
            namespace,
            "-l",
            selector,
            "--prefix",
            "--all-containers",
            "--max-log-requests=10",
            tail.as_str(),
        ];
        self.run(&args)
            .unwrap_or_else(|e| format!("(no logs of {selector}: {e})"))
    }

    /// `(name, Ready)` of every Node.
    pub fn nodes(&self) -> Result<Vec<(String, bool)>> {
        let v = self.get_json(&["nodes"])?;
        Ok(items(&v)
            .iter()
            .map(|n| (str_at(n, &["metadata", "name"]), condition_true(n, "Ready")))
            .collect())
    }

    /// `NODE: TYPE (message)` for every Node condition other than Ready
    /// that is True: a kubelet under disk, memory or PID pressure evicts
    /// pods and admits none.
    pub fn node_pressures(&self) -> Result<Vec<String>> {
        let v = self.get_json(&["nodes"])?;
        Ok(items(&v)
            .iter()
            .flat_map(|n| {
                let name = str_at(n, &["metadata", "name"]);
                pressures(n)
                    .into_iter()
                    .map(move |(kind, message)| format!("{name}: {kind} ({message})"))
            })
            .collect())
    }
}

/// `(type, message)` of a Node's True conditions other than Ready.
fn pressures(node: &Value) -> Vec<(String, String)> {
    node["status"]["conditions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|c| c["status"] == "True" && c["type"] != "Ready")
        .map(|c| (str_at(c, &["type"]), str_at(c, &["message"])))
        .collect()
}

/// Helm v4 against the cluster, from the client's namespace, with its
/// caches and configuration in the cluster's state directory.
#[derive(Debug, Clone)]
pub struct Helm {
    binary: PathBuf,
    kubeconfig: PathBuf,
    home: PathBuf,
    netns: Netns,
}

impl Helm {
    pub fn new(binary: PathBuf, kubeconfig: PathBuf, home: PathBuf, netns: Netns) -> Helm {
        Helm {
            binary,
            kubeconfig,
            home,
            netns,
        }
    }

    /// `helm args... --kubeconfig K`; its stdout.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<String> {
        let mut command = self.netns.command(&self.binary.display().to_string());
        command
            .args(args)
            .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .env("HELM_CACHE_HOME", self.home.join("cache"))
            .env("HELM_CONFIG_HOME", self.home.join("config"))
            .env("HELM_DATA_HOME", self.home.join("data"));
        let out = cmd::output_of(&mut command)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }
}

fn items(v: &Value) -> &[Value] {
    v["items"].as_array().map(Vec::as_slice).unwrap_or_default()
}

fn str_at(v: &Value, path: &[&str]) -> String {
    path.iter()
        .fold(v, |v, key| &v[*key])
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn condition_true(v: &Value, kind: &str) -> bool {
    v["status"]["conditions"].as_array().is_some_and(|list| {
        list.iter()
            .any(|c| c["type"] == kind && c["status"] == "True")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_under_disk_pressure_is_named_with_the_kubelets_message() {
        // As a 1.20 kubelet reports a disk below its eviction threshold.
        let node = serde_json::json!({"status": {"conditions": [
            {"type": "MemoryPressure", "status": "False", "message": "kubelet has sufficient memory available"},
            {"type": "DiskPressure", "status": "True", "message": "kubelet has disk pressure"},
            {"type": "PIDPressure", "status": "False", "message": "kubelet has sufficient PID available"},
            {"type": "Ready", "status": "True", "message": "kubelet is posting ready status"},
        ]}});
        assert_eq!(
            pressures(&node),
            [(
                "DiskPressure".to_string(),
                "kubelet has disk pressure".to_string()
            )]
        );
    }
}
