//! MetalLB's `metallb-excludel2` ConfigMap: the interfaces layer 2 never
//! answers on when an L2Advertisement names none, as regular expressions
//! under the key `announcedInterfacesToExclude` of `excludel2.yaml`.
//!
//! MetalLB's speaker reads the ConfigMap mounted at [`MOUNT_PATH`] once, at
//! start; FerroLB's speaker does the same in Kubernetes, and `ferrolb run`
//! takes the ConfigMap from its configuration files. A user's list replaces
//! the default one (an empty list excludes nothing by name, as in
//! MetalLB); `--l2-exclude-interface` overrides both.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

/// Where MetalLB's manifests and chart mount the ConfigMap's key.
pub const MOUNT_PATH: &str = "/etc/metallb/excludel2.yaml";

/// The ConfigMap's name and key.
pub const CONFIGMAP: &str = "metallb-excludel2";
const KEY: &str = "excludel2.yaml";

/// Why the exclusion list cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {reason}")]
pub struct ExcludeL2Error {
    origin: String,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExcludeL2 {
    #[serde(default)]
    announced_interfaces_to_exclude: Vec<String>,
}

/// The list in `excludel2.yaml` text; empty text is an empty list.
pub fn parse(text: &str, origin: &str) -> Result<Vec<String>, ExcludeL2Error> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_norway::from_str::<ExcludeL2>(text)
        .map(|c| c.announced_interfaces_to_exclude)
        .map_err(|e| ExcludeL2Error {
            origin: origin.to_string(),
            reason: e.to_string(),
        })
}

/// The list in the file MetalLB's speaker reads, `None` when it does not
/// exist (no ConfigMap mounted).
pub fn read_mounted(path: &Path) -> Result<Option<Vec<String>>, ExcludeL2Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &path.display().to_string()).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ExcludeL2Error {
            origin: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

/// The list of a `metallb-excludel2` ConfigMap among YAML documents (any
/// namespace: files hold one configuration), `None` without one.
pub fn from_documents(text: &str, origin: &str) -> Result<Option<Vec<String>>, ExcludeL2Error> {
    for doc in serde_norway::Deserializer::from_str(text) {
        // Syntax errors are the configuration reader's to report.
        let Ok(value) = Value::deserialize(doc) else {
            return Ok(None);
        };
        let is_ours = value["apiVersion"] == "v1"
            && value["kind"] == "ConfigMap"
            && value["metadata"]["name"] == CONFIGMAP;
        if is_ours {
            let text = value["data"][KEY].as_str().unwrap_or_default();
            return parse(text, &format!("{origin}: ConfigMap {CONFIGMAP} {KEY}")).map(Some);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MetalLB's own manifest (config/native/exclude-l2-config.yaml).
    const METALLB_CONFIGMAP: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: metallb-excludel2
  namespace: metallb-system
data:
  excludel2.yaml: |
    announcedInterfacesToExclude: ["^docker.*", "^cbr.*", "^dummy.*", "^virbr.*", "^lxcbr.*", "^veth.*", "^lo$", "^cali.*", "^tunl.*", "^flannel.*", "^kube-ipvs.*", "^cni.*", "^nodelocaldns.*", "^lxc.*"]
"#;

    #[test]
    fn metallbs_configmap_is_read_from_files() {
        let other = "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n---\n";
        let list = from_documents(&format!("{other}{METALLB_CONFIGMAP}"), "f.yaml")
            .expect("parses")
            .expect("found");
        assert_eq!(list.len(), 14);
        assert_eq!(list[6], "^lo$");
        assert_eq!(from_documents(other, "f.yaml").expect("parses"), None);
    }

    /// The chart's ConfigMap holds the built-in list, so installing it
    /// changes nothing until a user edits it.
    #[test]
    fn the_charts_configmap_holds_the_built_in_list() {
        let template = include_str!("../../../charts/ferrolb/templates/excludel2-config.yaml");
        let start = template.find("excludel2.yaml: |").expect("key") + "excludel2.yaml: |".len();
        let end = template.rfind("{{- end }}").expect("end");
        let text: String = template[start..end]
            .lines()
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let list = parse(&text, "chart").expect("parses");
        let built_in: Vec<&str> = crate::decide::interfaces::METALLB_EXCLUDED
            .iter()
            .chain(crate::decide::interfaces::FERROLB_EXCLUDED)
            .copied()
            .collect();
        assert_eq!(list, built_in);
    }

    #[test]
    fn the_mounted_key_is_read_and_slips_are_refused() {
        assert_eq!(
            parse("announcedInterfacesToExclude: [\"^eth9$\"]\n", "m").expect("parses"),
            ["^eth9$"]
        );
        assert!(parse("", "m").expect("empty").is_empty());
        let e = parse("announcedInterfaceToExclude: [x]\n", "m").unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let missing = std::env::temp_dir().join("ferrolb-no-such-excludel2.yaml");
        assert!(read_mounted(&missing).expect("absent is fine").is_none());
    }
}
