//! Kubernetes label selectors (`matchLabels` + `matchExpressions`), as a pure
//! type: pools, advertisements and peers select namespaces, services and nodes
//! with them, and every component must evaluate them the same way.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Labels of an object, as Kubernetes stores them.
pub type Labels = BTreeMap<String, String>;

/// `metav1.LabelSelector`. Its serialized form is the Kubernetes one, so it
/// reads straight from manifests. An empty selector matches everything, as in
/// Kubernetes.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must all be present with these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: Labels,
    /// Requirements that must all hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<Requirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// How the label's value is tested.
    pub operator: Operator,
    /// Values for `In` / `NotIn`; empty for the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
/// A `matchExpressions` operator.
pub enum Operator {
    /// The label is present with one of the values.
    In,
    /// The label is absent or has none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

/// Why a selector cannot be evaluated; the API server enforces the same rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// Each variant's `#[error]` text is its documentation.
#[allow(missing_docs)]
pub enum SelectorError {
    #[error(
        "matchExpressions[{index}] (key {key:?}): operator {operator:?} needs at least one value"
    )]
    MissingValues {
        index: usize,
        key: String,
        operator: Operator,
    },
    #[error("matchExpressions[{index}] (key {key:?}): operator {operator:?} takes no values")]
    UnexpectedValues {
        index: usize,
        key: String,
        operator: Operator,
    },
}

impl LabelSelector {
    /// Checks the operator/values rules of `metav1.LabelSelector`.
    pub fn validate(&self) -> Result<(), SelectorError> {
        for (index, r) in self.match_expressions.iter().enumerate() {
            let needs_values = matches!(r.operator, Operator::In | Operator::NotIn);
            if needs_values && r.values.is_empty() {
                return Err(SelectorError::MissingValues {
                    index,
                    key: r.key.clone(),
                    operator: r.operator,
                });
            }
            if !needs_values && !r.values.is_empty() {
                return Err(SelectorError::UnexpectedValues {
                    index,
                    key: r.key.clone(),
                    operator: r.operator,
                });
            }
        }
        Ok(())
    }

    /// Whether `labels` satisfy every term (terms are ANDed).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }
}

/// Whether a *list* of selectors (MetalLB's `nodeSelectors` and the like)
/// selects `labels`: any one selector matching is enough, and an empty list
/// selects everything.
pub fn matches_any(selectors: &[LabelSelector], labels: &Labels) -> bool {
    selectors.is_empty() || selectors.iter().any(|s| s.matches(labels))
}

impl Requirement {
    fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.contains(v)),
            // As in Kubernetes: an absent key satisfies NotIn.
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

/// Test helper: labels from pairs.
#[cfg(test)]
pub(crate) fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> LabelSelector {
        serde_json::from_str(json).expect("selector json")
    }

    #[test]
    fn empty_selector_matches_everything() {
        assert!(LabelSelector::default().matches(&labels(&[])));
        assert!(LabelSelector::default().matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let s = parse(
            r#"{"matchLabels":{"team":"web"},
                "matchExpressions":[{"key":"tier","operator":"In","values":["front","edge"]},
                                    {"key":"legacy","operator":"DoesNotExist"}]}"#,
        );
        assert!(s.matches(&labels(&[("team", "web"), ("tier", "edge")])));
        assert!(!s.matches(&labels(&[("team", "web"), ("tier", "back")])));
        assert!(!s.matches(&labels(&[("team", "db"), ("tier", "edge")])));
        assert!(!s.matches(&labels(&[
            ("team", "web"),
            ("tier", "edge"),
            ("legacy", "")
        ])));
    }

    #[test]
    fn not_in_is_satisfied_by_an_absent_key() {
        let s = parse(r#"{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["a"]}]}"#);
        assert!(s.matches(&labels(&[])));
        assert!(s.matches(&labels(&[("zone", "b")])));
        assert!(!s.matches(&labels(&[("zone", "a")])));
    }

    #[test]
    fn a_list_matches_when_any_selector_does_and_empty_means_all() {
        let a = parse(r#"{"matchLabels":{"zone":"a"}}"#);
        let b = parse(r#"{"matchLabels":{"zone":"b"}}"#);
        assert!(matches_any(&[], &labels(&[])));
        assert!(matches_any(
            &[a.clone(), b.clone()],
            &labels(&[("zone", "b")])
        ));
        assert!(!matches_any(&[a, b], &labels(&[("zone", "c")])));
    }

    #[test]
    fn exists_ignores_the_value() {
        let s = parse(r#"{"matchExpressions":[{"key":"gpu","operator":"Exists"}]}"#);
        assert!(s.matches(&labels(&[("gpu", "")])));
        assert!(!s.matches(&labels(&[("cpu", "x")])));
    }

    #[test]
    fn validation_follows_the_api_server() {
        let missing = parse(r#"{"matchExpressions":[{"key":"k","operator":"In"}]}"#);
        assert!(matches!(
            missing.validate(),
            Err(SelectorError::MissingValues { index: 0, .. })
        ));
        let extra =
            parse(r#"{"matchExpressions":[{"key":"k","operator":"Exists","values":["v"]}]}"#);
        assert!(matches!(
            extra.validate(),
            Err(SelectorError::UnexpectedValues { index: 0, .. })
        ));
    }
}
