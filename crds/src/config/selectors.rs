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
