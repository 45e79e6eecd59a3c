//! The Helm chart rendered without Helm: its templates use only
//! `{{ .Release.Namespace }}` and `{{ .Values.a.b }}` scalars, which this
//! renderer substitutes; anything else is an error, so a template that
//! grows real Helm logic fails the tests until the renderer learns it.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{LabError, Result};

/// `charts/ferrolb`.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/ferrolb")
}

/// The chart's default values (`values.yaml`).
pub fn default_values() -> Result<Value> {
    let path = dir().join("values.yaml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| LabError::io(format!("cannot read {}", path.display()), e))?;
    serde_norway::from_str(&text).map_err(|e| LabError::parse("values.yaml", e, &text))
}

/// Renders one template of `templates/` into its YAML documents.
pub fn render(template: &str, namespace: &str, values: &Value) -> Result<Vec<Value>> {
    let path = dir().join("templates").join(template);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| LabError::io(format!("cannot read {}", path.display()), e))?;
    let rendered = substitute(&text, namespace, values)
        .map_err(|e| LabError::Invalid(format!("{template}: {e}")))?;
    serde_norway::Deserializer::from_str(&rendered)
        .map(|doc| {
            serde::Deserialize::deserialize(doc)
                .map_err(|e| LabError::parse(template.to_string(), e, &rendered))
        })
        .filter(|doc: &Result<Value>| !matches!(doc, Ok(Value::Null)))
        .collect()
}

fn substitute(text: &str, namespace: &str, values: &Value) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("unclosed {{{{ at {:?}", &rest[start..]))?;
        let expr = rest[start + 2..start + end].trim();
        out.push_str(&lookup(expr, namespace, values)?);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup(expr: &str, namespace: &str, values: &Value) -> std::result::Result<String, String> {
    if expr == ".Release.Namespace" {
        return Ok(namespace.to_string());
    }
    let path = expr
        .strip_prefix(".Values.")
        .ok_or_else(|| format!("{{{{ {expr} }}}} is more than this renderer knows"))?;
    let value = path
        .split('.')
        .try_fold(values, |v, key| v.get(key))
        .ok_or_else(|| format!("no value {path} in values.yaml"))?;
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("{path} is not a scalar: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn scalars_are_substituted_and_anything_else_refused() {
        let values = json!({"a": {"b": 3, "s": "x"}});
        assert_eq!(
            substitute(
                "n={{ .Release.Namespace }} b={{ .Values.a.b }}{{.Values.a.s}}",
                "ns",
                &values
            ),
            Ok("n=ns b=3x".into())
        );
        assert!(substitute("{{ .Values.a.missing }}", "ns", &values).is_err());
        assert!(substitute("{{- if .Values.a }}", "ns", &values).is_err());
        assert!(substitute("{{ .Values.a }}", "ns", &values).is_err());
        assert!(substitute("{{ .Values.a.b", "ns", &values).is_err());
    }
}
