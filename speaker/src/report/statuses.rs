//! `ServiceBGPStatus`: per service, the peers this node announces it to.

use std::collections::{BTreeMap, BTreeSet};

use crate::decide::{Explanation, ServiceKey, Verdict};

/// The peers each announced service goes to from this node. A service none
/// of whose addresses is announced has no entry: its status object goes.
pub fn bgp_service_statuses(explanations: &[Explanation]) -> BTreeMap<ServiceKey, Vec<String>> {
    let mut out: BTreeMap<ServiceKey, BTreeSet<String>> = BTreeMap::new();
    for e in explanations {
        if let Verdict::Announced { peers } = &e.verdict {
            out.entry(e.service.clone())
                .or_default()
                .extend(peers.iter().cloned());
        }
    }
    out.into_iter()
        .map(|(k, peers)| (k, peers.into_iter().collect()))
        .collect()
}

/// The name of the status object of `service` on `node`: stable across
/// restarts, so a restarted speaker finds and updates its own objects, and
/// within the 253 characters of an object name whatever the input lengths.
pub fn service_status_name(node: &str, service: &ServiceKey) -> String {
    bounded_name(node, &format!("{}/{}", service.namespace(), service.name()))
}

/// `prefix-HASH`, the prefix cut so that the whole is a valid object name.
pub(super) fn bounded_name(prefix: &str, identity: &str) -> String {
    const MAX: usize = 253;
    let hash = format!("{:016x}", fnv1a(identity.as_bytes()));
    let room = MAX - hash.len() - 1;
    let mut prefix: String = prefix.chars().take(room).collect();
    // A name must end alphanumeric before the separator too.
    while prefix.ends_with(['.', '-']) {
        prefix.pop();
    }
    format!("{prefix}-{hash}")
}

/// FNV-1a: a fixed hash, so names do not change between builds.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::decide::Reason;

    fn explanation(service: &str, address: &str, verdict: Verdict) -> Explanation {
        Explanation {
            service: ServiceKey::new("shop", service),
            address: address.parse::<IpAddr>().unwrap(),
            verdict,
        }
    }

    fn announced(peers: &[&str]) -> Verdict {
        Verdict::Announced {
            peers: std::sync::Arc::new(peers.iter().map(|p| p.to_string()).collect()),
        }
    }

    #[test]
    fn peers_of_every_address_of_a_service_are_merged() {
        let statuses = bgp_service_statuses(&[
            explanation("web", "10.0.0.1", announced(&["r1"])),
            explanation("web", "fd00::1", announced(&["r2"])),
            explanation(
                "db",
                "10.0.0.2",
                Verdict::NotAnnounced(Reason::NoReadyEndpoint),
            ),
        ]);
        assert_eq!(statuses.len(), 1, "db is announced nowhere: no status");
        assert_eq!(statuses[&ServiceKey::new("shop", "web")], ["r1", "r2"]);
    }

    #[test]
    fn names_are_stable_distinct_and_valid() {
        let a = service_status_name("node-1", &ServiceKey::new("shop", "web"));
        assert_eq!(
            a,
            service_status_name("node-1", &ServiceKey::new("shop", "web"))
        );
        assert_ne!(
            a,
            service_status_name("node-1", &ServiceKey::new("shop", "db"))
        );
        // "a/bc" and "ab/c" must not collide through concatenation.
        assert_ne!(
            service_status_name("n", &ServiceKey::new("a", "bc")),
            service_status_name("n", &ServiceKey::new("ab", "c"))
        );
        let long = service_status_name(&"n".repeat(300), &ServiceKey::new("x", "y"));
        assert!(long.len() <= 253, "{}", long.len());
        let cut = bounded_name(&format!("{}.", "a".repeat(235)), "x");
        assert!(!cut.contains(".-"), "{cut}");
    }
}
