//! Checks shared by every list of label selectors.

use super::diagnostic::{ObjectRef, Problem, Sink};
use crate::selector::LabelSelector;

/// Reports invalid and repeated selectors (MetalLB rejects both) and returns
/// the list for the compiled config.
pub(crate) fn check(
    sink: &mut Sink,
    object: &ObjectRef,
    field: &str,
    selectors: &[LabelSelector],
) -> Vec<LabelSelector> {
    for (i, s) in selectors.iter().enumerate() {
        if let Err(e) = s.validate() {
            sink.error(object, format!("{field}[{i}]"), e);
        }
        check_syntax(sink, object, &format!("{field}[{i}]"), s);
        if selectors[..i].iter().any(|earlier| same(earlier, s)) {
            sink.error(object, format!("{field}[{i}]"), Problem::DuplicateSelector);
        }
    }
    selectors.to_vec()
}

/// Equality up to the order of expression values, which carries no meaning.
pub(crate) fn same(a: &LabelSelector, b: &LabelSelector) -> bool {
    normalized(a) == normalized(b)
}

fn normalized(s: &LabelSelector) -> LabelSelector {
    let mut s = s.clone();
    for r in &mut s.match_expressions {
        r.values.sort();
    }
    s.match_expressions.sort_by(|a, b| {
        (&a.key, format!("{:?}", a.operator)).cmp(&(&b.key, format!("{:?}", b.operator)))
    });
    s
}

/// Whether two selector lists select the same nodes for sure (equal as
/// sets; both empty means every node).
pub(crate) fn same_set(a: &[LabelSelector], b: &[LabelSelector]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| b.iter().any(|y| same(x, y)))
        && b.iter().all(|y| a.iter().any(|x| same(x, y)))
}

/// Label keys and values must be what Kubernetes accepts; MetalLB rejects
/// selectors that break these rules when it converts them.
fn check_syntax(sink: &mut Sink, object: &ObjectRef, field: &str, s: &LabelSelector) {
    for (key, value) in &s.match_labels {
        if !is_qualified_name(key) {
            sink.error(
                object,
                format!("{field}.matchLabels"),
                Problem::InvalidLabelKey(key.clone()),
            );
        }
        if !is_label_value(value) {
            sink.error(
                object,
                format!("{field}.matchLabels.{key}"),
                Problem::InvalidLabelValue(value.clone()),
            );
        }
    }
    for (j, r) in s.match_expressions.iter().enumerate() {
        let at = format!("{field}.matchExpressions[{j}]");
        if !is_qualified_name(&r.key) {
            sink.error(
                object,
                format!("{at}.key"),
                Problem::InvalidLabelKey(r.key.clone()),
            );
        }
        for (k, v) in r.values.iter().enumerate() {
            if !is_label_value(v) {
                sink.error(
                    object,
                    format!("{at}.values[{k}]"),
                    Problem::InvalidLabelValue(v.clone()),
                );
            }
        }
    }
}

/// `[prefix/]name`: prefix a DNS subdomain (at most 253), name at most 63
/// alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
pub(crate) fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

/// Empty, or at most 63 alphanumerics, `-`, `_`, `.`, starting and ending
/// alphanumeric.
pub(crate) fn is_label_value(v: &str) -> bool {
    if v.is_empty() {
        return true;
    }
    let b = v.as_bytes();
    b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_syntax_follows_kubernetes() {
        for ok in ["app", "kubernetes.io/hostname", "a.b-c_d", "x/y", "A9"] {
            assert!(is_qualified_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "has space",
            "Upper.io/x",
            "/x",
            "a/",
            &"a".repeat(64),
        ] {
            assert!(!is_qualified_name(bad), "{bad}");
        }
        for ok in ["", "v1", "a.b_c-d"] {
            assert!(is_label_value(ok), "{ok}");
        }
        for bad in ["-v", "v-", "a b", "a/b", &"v".repeat(64)] {
            assert!(!is_label_value(bad), "{bad}");
        }
    }
}
