//! The generated CRDs: checked in up to date, valid on old API servers, and
//! carrying MetalLB's defaults, limits and columns.

use ferrolb_crds::crdgen::{self, GeneratedCrd};
use serde_json::Value;

const CHART_CRDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/ferrolb/crds");

fn generated() -> Vec<GeneratedCrd> {
    crdgen::all().expect("generate CRDs")
}

fn json(name: &str) -> Value {
    let g = generated()
        .into_iter()
        .find(|g| g.crd.spec.names.plural == name)
        .unwrap_or_else(|| panic!("no CRD {name}"));
    serde_json::to_value(&g.crd).expect("json")
}

fn schema<'a>(crd: &'a Value, version: &str) -> &'a Value {
    crd["spec"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["name"] == version)
        .map(|v| &v["schema"]["openAPIV3Schema"])
        .unwrap_or_else(|| panic!("no version {version}"))
}

fn all_objects<'a>(v: &'a Value, out: &mut Vec<&'a serde_json::Map<String, Value>>) {
    match v {
        Value::Object(m) => {
            out.push(m);
            m.values().for_each(|x| all_objects(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| all_objects(x, out)),
        _ => {}
    }
}

#[test]
fn checked_in_crds_are_up_to_date() {
    let mut stale = Vec::new();
    let crds = generated();
    for g in &crds {
        let want = crdgen::to_yaml(&g.crd).expect("yaml");
        let path = format!("{CHART_CRDS}/{}", g.file_name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            stale.push(path);
        }
    }
    let files = std::fs::read_dir(CHART_CRDS)
        .expect("chart crds dir")
        .count();
    assert!(
        stale.is_empty() && files == crds.len(),
        "stale CRDs {stale:?} ({files} files for {} CRDs); run `cargo run -p ferrolb-crds --bin crdgen`",
        crds.len()
    );
}

#[test]
fn no_null_in_enums_and_no_rust_formats() {
    for g in generated() {
        let v = serde_json::to_value(&g.crd).expect("json");
        let mut objects = Vec::new();
        all_objects(&v, &mut objects);
        for m in objects {
            if let Some(Value::Array(e)) = m.get("enum") {
                assert!(e.iter().all(|x| !x.is_null()), "{}: {e:?}", g.file_name);
            }
            if let Some(Value::String(f)) = m.get("format") {
                assert!(!f.starts_with("uint"), "{}: format {f}", g.file_name);
            }
        }
    }
}

#[test]
fn strip_cel_removes_only_cel_rules() {
    let peers = generated()
        .into_iter()
        .find(|g| g.crd.spec.names.kind == "BGPPeer")
        .expect("peers");
    let text = serde_json::to_string(&peers.crd).expect("json");
    assert!(text.contains("x-kubernetes-validations"));
    let stripped = crdgen::strip_cel(&peers.crd).expect("strip");
    let stripped_text = serde_json::to_string(&stripped).expect("json");
    assert!(!stripped_text.contains("x-kubernetes-validations"));
    assert!(stripped_text.contains("\"default\":179"));
}

#[test]
fn metallb_defaults_limits_and_required_fields() {
    let pools = json("ipaddresspools");
    let spec = &schema(&pools, "v1beta1")["properties"]["spec"];
    assert_eq!(spec["properties"]["autoAssign"]["default"], true);
    assert_eq!(spec["required"], serde_json::json!(["addresses"]));

    let adv = json("bgpadvertisements");
    let root = schema(&adv, "v1beta1");
    let spec = &root["properties"]["spec"];
    assert_eq!(spec["default"], serde_json::json!({}));
    assert!(root.get("required").is_none(), "spec must be optional");
    assert_eq!(spec["properties"]["aggregationLength"]["default"], 32);
    assert_eq!(spec["properties"]["aggregationLengthV6"]["default"], 128);

    let bfd = json("bfdprofiles");
    let spec = &schema(&bfd, "v1beta1")["properties"]["spec"];
    assert_eq!(spec["properties"]["detectMultiplier"]["minimum"], 2.0);
    assert_eq!(spec["properties"]["detectMultiplier"]["maximum"], 255.0);
    assert_eq!(spec["properties"]["minimumTtl"]["maximum"], 254.0);
}

#[test]
fn bgppeer_serves_both_versions_without_a_webhook() {
    let peers = json("bgppeers");
    assert_eq!(peers["spec"]["conversion"]["strategy"], "None");
    let versions = peers["spec"]["versions"].as_array().expect("versions");
    let storage: Vec<&Value> = versions
        .iter()
        .filter(|v| v["storage"] == true)
        .map(|v| &v["name"])
        .collect();
    assert_eq!(storage, ["v1beta2"]);
    assert!(versions.iter().all(|v| v["served"] == true));

    let v2 = &schema(&peers, "v1beta2")["properties"]["spec"];
    assert_eq!(v2["properties"]["peerPort"]["default"], 179);
    assert_eq!(
        v2["properties"]["dynamicASN"]["enum"],
        serde_json::json!(["internal", "external"])
    );
    let rules: Vec<&str> = v2["x-kubernetes-validations"]
        .as_array()
        .expect("CEL rules")
        .iter()
        .filter_map(|r| r["rule"].as_str())
        .collect();
    for needle in ["passwordSecret", "dynamicASN", "interface", "keepaliveTime"] {
        assert!(
            rules.iter().any(|r| r.contains(needle)),
            "no CEL rule on {needle}: {rules:?}"
        );
    }
    let v1 = &schema(&peers, "v1beta1")["properties"]["spec"];
    // MetalLB's served v1beta1 schema takes 4-byte ASNs, as the compiler
    // does: one set of rules, and MetalLB's v1beta1 manifests apply.
    for version in ["v1beta1", "v1beta2"] {
        let spec = &schema(&peers, version)["properties"]["spec"]["properties"];
        for field in ["myASN", "peerASN"] {
            assert_eq!(spec[field]["maximum"], 4294967295.0, "{version} {field}");
        }
    }
    assert_eq!(
        v1["required"],
        serde_json::json!(["myASN", "peerASN", "peerAddress"])
    );
}

#[test]
fn printer_columns() {
    let columns = |plural: &str, version: &str| -> Vec<String> {
        let crd = json(plural);
        crd["spec"]["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .find(|v| v["name"] == version)
            .and_then(|v| v["additionalPrinterColumns"].as_array())
            .map(|cols| {
                cols.iter()
                    .filter_map(|c| c["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let pool = columns("ipaddresspools", "v1beta1");
    for c in [
        "Addresses",
        "Auto Assign",
        "Assigned IPv4",
        "Available IPv6",
    ] {
        assert!(pool.iter().any(|x| x == c), "{pool:?}");
    }
    let peer = columns("bgppeers", "v1beta2");
    for c in ["Address", "My ASN", "ASN"] {
        assert!(peer.iter().any(|x| x == c), "{peer:?}");
    }
    let session = columns("bgpsessionstates", "v1beta1");
    for c in [
        "Node",
        "Peer",
        "State",
        "Prefixes Sent",
        "Prefixes Received",
    ] {
        assert!(session.iter().any(|x| x == c), "{session:?}");
    }
}

/// The structural-schema rules an API server enforces (a 422 otherwise):
/// every node has a `type`, no `$ref`, and no `properties` next to
/// `additionalProperties`.
fn check_structural(node: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(m) = node.as_object() else {
        problems.push(format!("{path}: not an object"));
        return;
    };
    let escape = m.contains_key("x-kubernetes-int-or-string")
        || m.contains_key("x-kubernetes-preserve-unknown-fields");
    if !m.contains_key("type") && !escape {
        problems.push(format!("{path}: no type"));
    }
    for bad in ["$ref", "definitions", "$defs", "oneOf", "anyOf", "allOf"] {
        if m.contains_key(bad) {
            problems.push(format!("{path}: has {bad}"));
        }
    }
    if m.contains_key("properties") && m.contains_key("additionalProperties") {
        problems.push(format!("{path}: properties and additionalProperties"));
    }
    if let Some(Value::Object(props)) = m.get("properties") {
        for (k, v) in props {
            check_structural(v, &format!("{path}.{k}"), problems);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v @ Value::Object(_)) = m.get(key) {
            check_structural(v, &format!("{path}[{key}]"), problems);
        }
    }
}

#[test]
fn schemas_are_structural() {
    let mut problems = Vec::new();
    for g in generated() {
        let crd = serde_json::to_value(&g.crd).expect("json");
        for v in crd["spec"]["versions"].as_array().expect("versions") {
            let name = format!("{} {}", g.file_name, v["name"]);
            check_structural(&v["schema"]["openAPIV3Schema"], &name, &mut problems);
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Bounds are floats in a CRD schema: every one must be an integer that a
/// float holds exactly, or the API server misreads it (2^63-1 rounds to
/// 2^63 and wraps to i64::MIN).
#[test]
fn every_schema_bound_is_an_exact_integer() {
    fn check(path: &str, value: &serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for key in ["minimum", "maximum"] {
                    if let Some(v) = map.get(key) {
                        let exact = v.as_i64().is_some_and(|n| n.unsigned_abs() < (1 << 53));
                        assert!(exact, "{path}.{key} = {v}");
                    }
                }
                for (k, v) in map {
                    check(&format!("{path}.{k}"), v);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| check(path, v)),
            _ => {}
        }
    }
    for generated in ferrolb_crds::crdgen::all().expect("generate") {
        let yaml = ferrolb_crds::crdgen::to_yaml(&generated.crd).expect("yaml");
        let value: serde_json::Value = serde_norway::from_str(&yaml).expect("parse");
        check(&generated.file_name, &value);
    }
}
