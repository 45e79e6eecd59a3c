//! Unknown fields in a manifest, found as `kubectl apply --validate=strict`
//! finds them: against the schemas of the CRDs FerroLB serves (generated
//! from the API types, so the check and the types cannot disagree).
//!
//! Serde would drop a misspelt field (`pasword`, `holdtime`) without a
//! word and the object would mean something else than the user wrote; a
//! field of a newer MetalLB that FerroLB lacks would be dropped the same
//! way. Each is reported with its path, and with the field meant (a
//! misspelling) or the MetalLB release that added it.
//!
//! In Kubernetes the API server checks the same schemas: `kubectl apply`
//! (strict field validation, the default since Kubernetes 1.27) refuses an
//! unknown field, and older servers prune it; the controller and speakers
//! never see one. This module serves the paths that read files:
//! `ferrolb validate` and `ferrolb run`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use serde_json::Value;

/// A field a newer MetalLB has and FerroLB does not implement yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewerField {
    /// `apiVersion` version, e.g. `v1beta2`.
    pub version: &'static str,
    /// Kind, e.g. `BGPPeer`.
    pub kind: &'static str,
    /// Path inside the object, list indices left out: `spec.localASN`.
    pub path: &'static str,
    /// The MetalLB release that added it.
    pub since: &'static str,
}

/// MetalLB's fields FerroLB does not implement yet (none today: every field
/// of MetalLB's CRDs up to main after v0.16.1 is honoured or refused by
/// the compiler with a reason): each gets "not supported by FerroLB yet"
/// instead of "unknown field". A test compares
/// this list with MetalLB's CRDs (`tests/metallb-fields.txt`).
pub const NEWER_METALLB_FIELDS: &[NewerField] = &[];

/// One field the schema does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// Where, e.g. `spec.pasword` or `spec.nodeSelectors[0].matchLabel`.
    pub path: String,
    /// What to say about it.
    pub hint: Hint,
}

/// Why a field is unknown, as far as can be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// Close to this field of the schema: most likely a misspelling.
    DidYouMean(String),
    /// A field of a newer MetalLB.
    Newer {
        /// The MetalLB release that added it.
        since: &'static str,
    },
    /// Neither.
    None,
}

impl fmt::Display for UnknownField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.hint {
            Hint::DidYouMean(field) => {
                write!(f, "{}: unknown field; did you mean {field:?}?", self.path)
            }
            Hint::Newer { since } => write!(
                f,
                "{}: a field of MetalLB {since}, not supported by FerroLB yet; remove it",
                self.path
            ),
            Hint::None => write!(f, "{}: unknown field", self.path),
        }
    }
}

/// The `openAPIV3Schema` of every served (version, kind).
static SCHEMAS: LazyLock<BTreeMap<(String, String), Value>> = LazyLock::new(|| {
    let mut out = BTreeMap::new();
    // Generation fails only on a bug in the types, which the CRD tests
    // catch; without schemas nothing is reported, as before this check.
    for generated in crate::crdgen::all().unwrap_or_default() {
        let kind = generated.crd.spec.names.kind.clone();
        for version in &generated.crd.spec.versions {
            let schema = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .and_then(|s| serde_json::to_value(s).ok());
            if let Some(schema) = schema {
                out.insert((version.name.clone(), kind.clone()), schema);
            }
        }
    }
    out
});

/// The fields of `object` (a `metallb.io/<version>` `kind`) that its CRD
/// schema does not have. Empty for a kind FerroLB does not serve.
pub fn unknown_fields(version: &str, kind: &str, object: &Value) -> Vec<UnknownField> {
    unknown_fields_with(version, kind, object, NEWER_METALLB_FIELDS)
}

/// Whether FerroLB's schema for `version` `kind` has the field at `path`
/// (dotted, list indices left out), or names it as a newer MetalLB field.
/// `status` is never checked in manifests, so it counts as served.
pub fn served(version: &str, kind: &str, path: &str) -> bool {
    if path == "status" || path.starts_with("status.") {
        return true;
    }
    let newer = NEWER_METALLB_FIELDS.iter().any(|f| {
        f.version == version
            && f.kind == kind
            && (path == f.path || path.starts_with(&format!("{}.", f.path)))
    });
    let Some(mut schema) = SCHEMAS.get(&(version.to_string(), kind.to_string())) else {
        return newer;
    };
    for segment in path.split('.') {
        while let Some(items) = schema.get("items") {
            schema = items;
        }
        let next = schema
            .get("properties")
            .and_then(|p| p.get(segment))
            .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()));
        match next {
            Some(next) => schema = next,
            None => return newer,
        }
    }
    true
}

fn unknown_fields_with(
    version: &str,
    kind: &str,
    object: &Value,
    newer: &[NewerField],
) -> Vec<UnknownField> {
    let Some(schema) = SCHEMAS.get(&(version.to_string(), kind.to_string())) else {
        return Vec::new();
    };
    let mut walk = Walk {
        version,
        kind,
        newer,
        found: Vec::new(),
    };
    let Value::Object(top) = object else {
        return Vec::new();
    };
    for (key, value) in top {
        match key.as_str() {
            // Every object has these; the schemas leave metadata open, and
            // `kubectl get -o yaml` writes `status: {}` on every kind.
            "apiVersion" | "kind" | "metadata" | "status" => {}
            _ => walk.field(schema, key, value, "", ""),
        }
    }
    walk.found
}

struct Walk<'a> {
    version: &'a str,
    kind: &'a str,
    newer: &'a [NewerField],
    found: Vec<UnknownField>,
}

impl Walk<'_> {
    /// `key` of an object whose schema is `parent`; `path` and `bare`
    /// (the path without list indices) lead to that object.
    fn field(&mut self, parent: &Value, key: &str, value: &Value, path: &str, bare: &str) {
        let join = |p: &str| {
            if p.is_empty() {
                key.to_string()
            } else {
                format!("{p}.{key}")
            }
        };
        let (path, bare) = (join(path), join(bare));
        let properties = parent.get("properties").and_then(Value::as_object);
        let schema = properties
            .and_then(|p| p.get(key))
            .or_else(|| parent.get("additionalProperties").filter(|a| a.is_object()));
        match schema {
            Some(schema) => self.value(schema, value, &path, &bare),
            None => {
                let hint = self.hint(&bare, key, properties);
                self.found.push(UnknownField { path, hint });
            }
        }
    }

    fn value(&mut self, schema: &Value, value: &Value, path: &str, bare: &str) {
        if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
            return;
        }
        match value {
            Value::Object(map) => {
                let open = schema.get("properties").is_none()
                    && schema.get("additionalProperties").is_none();
                if open {
                    return;
                }
                for (key, v) in map {
                    self.field(schema, key, v, path, bare);
                }
            }
            Value::Array(items) => {
                if let Some(item) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.value(item, v, &format!("{path}[{i}]"), bare);
                    }
                }
            }
            _ => {}
        }
    }

    fn hint(
        &self,
        bare: &str,
        key: &str,
        properties: Option<&serde_json::Map<String, Value>>,
    ) -> Hint {
        if let Some(f) = self
            .newer
            .iter()
            .find(|f| f.version == self.version && f.kind == self.kind && f.path == bare)
        {
            return Hint::Newer { since: f.since };
        }
        let names = properties.into_iter().flat_map(|p| p.keys());
        match closest(key, names) {
            Some(name) => Hint::DidYouMean(name.to_string()),
            None => Hint::None,
        }
    }
}

/// The known name `typed` most likely misspells: equal but for case, else
/// the nearest by edit distance, if near enough (a third of its length,
/// at least 2) to be a slip rather than another word.
fn closest<'a>(typed: &str, known: impl Iterator<Item = &'a String>) -> Option<&'a str> {
    let lower = typed.to_lowercase();
    let limit = (typed.chars().count() / 3).max(2);
    known
        .map(|k| {
            let d = if k.to_lowercase() == lower {
                0
            } else {
                edit_distance(&lower, &k.to_lowercase())
            };
            (d, k)
        })
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k.as_str())
}

/// Levenshtein distance, over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(version: &str, kind: &str, object: Value) -> Vec<String> {
        unknown_fields(version, kind, &object)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn misspellings_are_refused_with_the_field_meant() {
        let peer = json!({
            "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
            "metadata": {"name": "p", "labels": {"any": "thing"}},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "10.0.0.1",
                     "pasword": "secret", "holdtime": "3s",
                     "nodeSelectors": [{"matchLabel": {"a": "b"}}]}
        });
        assert_eq!(
            paths("v1beta2", "BGPPeer", peer),
            [
                r#"spec.holdtime: unknown field; did you mean "holdTime"?"#,
                r#"spec.nodeSelectors[0].matchLabel: unknown field; did you mean "matchLabels"?"#,
                r#"spec.pasword: unknown field; did you mean "password"?"#,
            ]
        );
        let l2 = json!({"spec": {"ipAddressPool": ["a"]}, "status": {}});
        assert_eq!(
            paths("v1beta1", "L2Advertisement", l2),
            [r#"spec.ipAddressPool: unknown field; did you mean "ipAddressPools"?"#]
        );
    }

    #[test]
    fn label_maps_and_known_fields_pass() {
        let pool = json!({
            "spec": {"addresses": ["10.0.0.0/24"], "autoAssign": false,
                     "serviceAllocation": {"priority": 1,
                        "namespaceSelectors": [{"matchLabels": {"x/y": "z"}}]}}
        });
        assert!(paths("v1beta1", "IPAddressPool", pool).is_empty());
        let far = json!({"spec": {"frobnicate": 1}});
        assert_eq!(
            paths("v1beta1", "IPAddressPool", far),
            ["spec.frobnicate: unknown field"]
        );
        assert!(paths("v1", "Unserved", json!({"spec": {"x": 1}})).is_empty());
    }

    #[test]
    fn fields_of_a_newer_metallb_say_so() {
        let table = [NewerField {
            version: "v1beta1",
            kind: "L2Advertisement",
            path: "spec.futureField",
            since: "v9.9",
        }];
        let found = unknown_fields_with(
            "v1beta1",
            "L2Advertisement",
            &json!({"spec": {"futureField": []}}),
            &table,
        );
        assert_eq!(
            found[0].to_string(),
            "spec.futureField: a field of MetalLB v9.9, not supported by FerroLB yet; remove it"
        );
    }

    #[test]
    fn every_served_kind_has_a_schema() {
        for kind in [
            "IPAddressPool",
            "L2Advertisement",
            "BGPAdvertisement",
            "BFDProfile",
            "Community",
        ] {
            assert!(
                SCHEMAS.contains_key(&("v1beta1".into(), kind.into())),
                "{kind}"
            );
        }
        assert!(SCHEMAS.contains_key(&("v1beta1".into(), "BGPPeer".into())));
        assert!(SCHEMAS.contains_key(&("v1beta2".into(), "BGPPeer".into())));
    }
}
