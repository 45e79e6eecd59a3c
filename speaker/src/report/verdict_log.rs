//! Log lines for decisions: each address's verdict once, when it changes.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::net::IpAddr;

use tracing::{info, warn};

use crate::decide::{Explanation, ServiceKey};

/// The verdicts last logged.
#[derive(Debug, Default)]
pub struct VerdictLog {
    last: BTreeMap<(ServiceKey, IpAddr), String>,
}

impl VerdictLog {
    /// Logs every verdict that changed: announced at info, not announced
    /// at warn.
    pub fn log<V: Display>(&mut self, explanations: &[Explanation<V>], announced: fn(&V) -> bool) {
        let mut now = BTreeMap::new();
        for e in explanations {
            let text = e.verdict.to_string();
            let key = (e.service.clone(), e.address);
            if self.last.get(&key) != Some(&text) {
                if announced(&e.verdict) {
                    info!(service = %e.service, address = %e.address, "{text}")
                } else {
                    warn!(service = %e.service, address = %e.address, "{text}")
                }
            }
            now.insert(key, text);
        }
        self.last = now;
    }
}
