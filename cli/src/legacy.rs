//! MetalLB's legacy configuration (before v0.13): one YAML text with
//! `address-pools` (each with `protocol: layer2|bgp`), `peers`,
//! `bgp-communities` and `bfd-profiles`, held in the `config` key of a
//! ConfigMap, or under `configInline` in a Helm values file (Bitnami's
//! chart). FerroLB, like MetalLB since v0.13, reads `metallb.io` objects
//! only; this module recognises the old format and converts it, meaning
//! what MetalLB's own converter (`configmaptocrs`) produces: one
//! IPAddressPool per pool (its name kept), an L2Advertisement per layer-2
//! pool, a BGPAdvertisement per `bgp-advertisements` entry (or one plain
//! one for a BGP pool without any), one BGPPeer per peer (`peer1`, ...),
//! one BFDProfile per profile, and one Community `communities` holding
//! the aliases. Every field is mapped; an unknown one is an error.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Where legacy text was found in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A `v1` ConfigMap with the text under `data.config`.
    ConfigMap,
    /// A Helm values file with the configuration under `configInline`.
    Values,
    /// The bare `config` text.
    Bare,
}

impl Shape {
    /// What the user holds, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Shape::ConfigMap => "a MetalLB ConfigMap in the legacy (pre-0.13) format",
            Shape::Values => {
                "a Helm values file with configInline (MetalLB's legacy pre-0.13 format)"
            }
            Shape::Bare => "MetalLB configuration in the legacy (pre-0.13) format",
        }
    }
}

/// Legacy configuration found in one YAML document.
pub struct Found {
    /// How it was held.
    pub shape: Shape,
    /// The configuration itself.
    pub config: Value,
    /// The ConfigMap's namespace, when it had one.
    pub namespace: Option<String>,
}

const LEGACY_KEYS: [&str; 4] = ["address-pools", "peers", "bgp-communities", "bfd-profiles"];

/// The legacy configuration in `doc`, if it holds one.
pub fn detect(doc: &Value) -> Option<Found> {
    let is_bare = |v: &Value| {
        v.as_object()
            .is_some_and(|m| !m.is_empty() && m.keys().all(|k| LEGACY_KEYS.contains(&k.as_str())))
    };
    if doc["apiVersion"] == "v1" && doc["kind"] == "ConfigMap" {
        let text = doc["data"]["config"].as_str()?;
        let config: Value = serde_norway::from_str(text).ok()?;
        return is_bare(&config).then(|| Found {
            shape: Shape::ConfigMap,
            namespace: doc["metadata"]["namespace"].as_str().map(str::to_string),
            config,
        });
    }
    if let Some(inline) = doc.get("configInline") {
        // Bitnami's chart takes it as YAML or as a string of YAML.
        let config = match inline {
            Value::String(text) => serde_norway::from_str(text).ok()?,
            other => other.clone(),
        };
        return Some(Found {
            shape: Shape::Values,
            config,
            namespace: None,
        });
    }
    is_bare(doc).then(|| Found {
        shape: Shape::Bare,
        config: doc.clone(),
        namespace: None,
    })
}

/// Why legacy configuration cannot be converted.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("not the legacy format: {0}")]
    Shape(String),
    #[error("address-pools[{index}] ({pool}): protocol {protocol:?}: expected layer2 or bgp")]
    Protocol {
        index: usize,
        pool: String,
        protocol: String,
    },
    #[error("address-pools[{index}] ({pool}): bgp-advertisements on a layer2 pool")]
    AdvertisementsOnLayer2 { index: usize, pool: String },
    #[error("{what} name {name:?} cannot be made a Kubernetes name (it has no letter)")]
    Name { what: &'static str, name: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Legacy {
    #[serde(default)]
    peers: Vec<Peer>,
    #[serde(default, rename = "bgp-communities")]
    communities: BTreeMap<String, String>,
    #[serde(default, rename = "address-pools")]
    pools: Vec<Pool>,
    #[serde(default, rename = "bfd-profiles")]
    bfd_profiles: Vec<BfdProfile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Peer {
    my_asn: u32,
    peer_asn: u32,
    peer_address: String,
    source_address: Option<String>,
    peer_port: Option<u16>,
    hold_time: Option<String>,
    keepalive_time: Option<String>,
    router_id: Option<String>,
    #[serde(default)]
    node_selectors: Vec<NodeSelector>,
    password: Option<String>,
    bfd_profile: Option<String>,
    #[serde(default)]
    ebgp_multihop: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct NodeSelector {
    #[serde(default)]
    match_labels: BTreeMap<String, String>,
    #[serde(default)]
    match_expressions: Vec<Requirement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Requirement {
    key: String,
    operator: String,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Pool {
    name: String,
    protocol: String,
    addresses: Vec<String>,
    auto_assign: Option<bool>,
    avoid_buggy_ips: Option<bool>,
    #[serde(default)]
    bgp_advertisements: Vec<Advertisement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Advertisement {
    aggregation_length: Option<i32>,
    aggregation_length_v6: Option<i32>,
    localpref: Option<u32>,
    #[serde(default)]
    communities: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct BfdProfile {
    name: String,
    receive_interval: Option<u32>,
    transmit_interval: Option<u32>,
    detect_multiplier: Option<u32>,
    echo_interval: Option<u32>,
    echo_mode: Option<bool>,
    passive_mode: Option<bool>,
    minimum_ttl: Option<u32>,
}

/// The `metallb.io` objects equivalent to `config`, in `namespace`.
pub fn convert(config: &Value, namespace: &str) -> Result<Vec<Value>, MigrateError> {
    let legacy: Legacy = serde_path_to_error::deserialize(config.clone())
        .map_err(|e| MigrateError::Shape(format!("{}: {}", e.path(), e.inner())))?;
    let object = |api: &str, kind: &str, name: &str, spec: Value| {
        json!({
            "apiVersion": format!("metallb.io/{api}"),
            "kind": kind,
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        })
    };
    let mut out = Vec::new();
    for (i, p) in legacy.peers.iter().enumerate() {
        let mut spec = Map::new();
        spec.insert("myASN".into(), json!(p.my_asn));
        spec.insert("peerASN".into(), json!(p.peer_asn));
        spec.insert("peerAddress".into(), json!(p.peer_address));
        let optional = [
            ("sourceAddress", p.source_address.clone()),
            ("holdTime", p.hold_time.clone()),
            ("keepaliveTime", p.keepalive_time.clone()),
            ("routerID", p.router_id.clone()),
            ("password", p.password.clone()),
        ];
        for (key, value) in optional {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                spec.insert(key.into(), json!(v));
            }
        }
        if let Some(port) = p.peer_port {
            spec.insert("peerPort".into(), json!(port));
        }
        if let Some(profile) = p.bfd_profile.as_deref().filter(|v| !v.is_empty()) {
            spec.insert("bfdProfile".into(), json!(k8s_name(profile, "BFDProfile")?));
        }
        if p.ebgp_multihop {
            spec.insert("ebgpMultiHop".into(), json!(true));
        }
        if !p.node_selectors.is_empty() {
            let selectors: Vec<Value> = p.node_selectors.iter().map(selector).collect();
            spec.insert("nodeSelectors".into(), Value::Array(selectors));
        }
        out.push(object(
            "v1beta2",
            "BGPPeer",
            &format!("peer{}", i + 1),
            Value::Object(spec),
        ));
    }
    let mut bgp_index = 0;
    let mut l2_index = 0;
    let mut advertisements = Vec::new();
    for (i, pool) in legacy.pools.iter().enumerate() {
        let name = k8s_name(&pool.name, "IPAddressPool")?;
        let mut spec = Map::new();
        spec.insert("addresses".into(), json!(pool.addresses));
        if let Some(a) = pool.auto_assign {
            spec.insert("autoAssign".into(), json!(a));
        }
        if let Some(a) = pool.avoid_buggy_ips {
            spec.insert("avoidBuggyIPs".into(), json!(a));
        }
        out.push(object(
            "v1beta1",
            "IPAddressPool",
            &name,
            Value::Object(spec),
        ));
        match pool.protocol.as_str() {
            "layer2" => {
                if !pool.bgp_advertisements.is_empty() {
                    return Err(MigrateError::AdvertisementsOnLayer2 {
                        index: i,
                        pool: pool.name.clone(),
                    });
                }
                l2_index += 1;
                advertisements.push(object(
                    "v1beta1",
                    "L2Advertisement",
                    &format!("l2advertisement{l2_index}"),
                    json!({"ipAddressPools": [name]}),
                ));
            }
            "bgp" => {
                let plain = [Advertisement {
                    aggregation_length: None,
                    aggregation_length_v6: None,
                    localpref: None,
                    communities: Vec::new(),
                }];
                let advs = if pool.bgp_advertisements.is_empty() {
                    &plain[..]
                } else {
                    &pool.bgp_advertisements[..]
                };
                for adv in advs {
                    bgp_index += 1;
                    let mut spec = Map::new();
                    spec.insert("ipAddressPools".into(), json!([name]));
                    if let Some(l) = adv.aggregation_length {
                        spec.insert("aggregationLength".into(), json!(l));
                    }
                    if let Some(l) = adv.aggregation_length_v6 {
                        spec.insert("aggregationLengthV6".into(), json!(l));
                    }
                    if let Some(p) = adv.localpref.filter(|p| *p != 0) {
                        spec.insert("localPref".into(), json!(p));
                    }
                    if !adv.communities.is_empty() {
                        spec.insert("communities".into(), json!(adv.communities));
                    }
                    advertisements.push(object(
                        "v1beta1",
                        "BGPAdvertisement",
                        &format!("bgpadvertisement{bgp_index}"),
                        Value::Object(spec),
                    ));
                }
            }
            other => {
                return Err(MigrateError::Protocol {
                    index: i,
                    pool: pool.name.clone(),
                    protocol: other.to_string(),
                });
            }
        }
    }
    out.extend(advertisements);
    for profile in &legacy.bfd_profiles {
        let mut spec = Map::new();
        let numbers = [
            ("receiveInterval", profile.receive_interval),
            ("transmitInterval", profile.transmit_interval),
            ("detectMultiplier", profile.detect_multiplier),
            ("echoInterval", profile.echo_interval),
            ("minimumTtl", profile.minimum_ttl),
        ];
        for (key, value) in numbers {
            if let Some(v) = value {
                spec.insert(key.into(), json!(v));
            }
        }
        for (key, value) in [
            ("echoMode", profile.echo_mode),
            ("passiveMode", profile.passive_mode),
        ] {
            if let Some(v) = value {
                spec.insert(key.into(), json!(v));
            }
        }
        let name = k8s_name(&profile.name, "BFDProfile")?;
        out.push(object("v1beta1", "BFDProfile", &name, Value::Object(spec)));
    }
    if !legacy.communities.is_empty() {
        let aliases: Vec<Value> = legacy
            .communities
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        out.push(object(
            "v1beta1",
            "Community",
            "communities",
            json!({"communities": aliases}),
        ));
    }
    Ok(out)
}

fn selector(s: &NodeSelector) -> Value {
    let mut out = Map::new();
    if !s.match_labels.is_empty() {
        out.insert("matchLabels".into(), json!(s.match_labels));
    }
    if !s.match_expressions.is_empty() {
        let expressions: Vec<Value> = s
            .match_expressions
            .iter()
            .map(|r| json!({"key": r.key, "operator": r.operator, "values": r.values}))
            .collect();
        out.insert("matchExpressions".into(), Value::Array(expressions));
    }
    Value::Object(out)
}

/// A legacy name as a Kubernetes object name, as MetalLB's converter makes
/// it: lower case, `_` as `-`, at most 63 characters, from the first letter.
fn k8s_name(name: &str, what: &'static str) -> Result<String, MigrateError> {
    let lower: String = name
        .chars()
        .take(63)
        .collect::<String>()
        .to_lowercase()
        .replace('_', "-");
    match lower.find(|c: char| c.is_ascii_lowercase()) {
        Some(start) => Ok(lower[start..].to_string()),
        None => Err(MigrateError::Name {
            what,
            name: name.to_string(),
        }),
    }
}
