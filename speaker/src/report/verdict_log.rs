//! Log lines for decisions: each address's verdict once, when it changes.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::net::IpAddr;

use tracing::{info, warn};

use crate::decide::{Explanation, ServiceKey};

/// Logs every verdict of `explanations` that changed since `previous` (the
/// plan last logged): at warn those that `needs_attention`, the rest
/// (announced, or not for a routine reason) at info. A verdict
/// is compared as its text, as it is logged. The last plan is the memory:
/// nothing here keeps a copy of it.
pub fn log_verdicts<V: Display + PartialEq>(
    previous: &[Explanation<V>],
    explanations: &[Explanation<V>],
    needs_attention: fn(&V) -> bool,
) {
    let last: BTreeMap<(&ServiceKey, IpAddr), &V> = previous
        .iter()
        .map(|e| ((&e.service, e.address), &e.verdict))
        .collect();
    for e in explanations {
        let before = last.get(&(&e.service, e.address));
        if before.is_some_and(|v| **v == e.verdict) {
            continue;
        }
        let text = e.verdict.to_string();
        if before.is_some_and(|v| v.to_string() == text) {
            continue;
        }
        if needs_attention(&e.verdict) {
            warn!(service = %e.service, address = %e.address, "{text}")
        } else {
            info!(service = %e.service, address = %e.address, "{text}")
        }
    }
}
