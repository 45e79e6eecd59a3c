//! `NodeAnnouncementState`: why this node does not announce what it does
//! not, derived purely from its decision, grouped by reason so that one
//! reason shared by a thousand Services is written once
//! (docs/adr/0011-node-announcement-state.md).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ferrolb_crds::api::{NodeAnnouncementStateStatus, NotAnnounced};
use ferrolb_crds::config::Config;

use crate::decide::incremental::explanations_of;
use crate::decide::{Explanation, L2Verdict, Reason, ServiceKey, Verdict};

/// Services (or addresses) listed at most, over every reason: the object
/// stays far below etcd's 1.5 MB whatever the cluster's size; the rest is
/// counted in `omitted`.
pub const MAX_LISTED: usize = 2000;

pub const BGP: &str = "bgp";
pub const LAYER2: &str = "layer2";
/// The reason of an address another host holds on the LAN.
pub const ADDRESS_IN_USE: &str = "AddressInUse";

/// An address this node should answer for, held by another host: the
/// responder stays silent while it holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub interface: String,
    /// The other host's hardware address, as people read it.
    pub holder: String,
}

/// One address not announced, before grouping.
struct Entry<'a> {
    protocol: &'static str,
    code: &'static str,
    message: String,
    service: &'a ServiceKey,
    address: IpAddr,
}

/// What this node's `NodeAnnouncementState` says, from the last BGP and
/// Layer-2 decisions (each in Service order, as a plan keeps them) and the
/// addresses in conflict. What one protocol says
/// of a pool only the other announces is left out.
pub fn announcement_state(
    config: &Config,
    bgp: &[Explanation],
    l2: &[Explanation<L2Verdict>],
    conflicts: &BTreeMap<IpAddr, Conflict>,
) -> NodeAnnouncementStateStatus {
    // A pass over every verdict, but it allocates only for the addresses
    // not announced: most of a large cluster's are announced, and this
    // runs after every pass.
    let mut entries = Vec::new();
    for e in bgp {
        if let Verdict::NotAnnounced(reason) = &e.verdict
            && !layer2_only(config, e.address)
        {
            entries.push(entry(BGP, reason, &e.service, e.address));
        }
    }
    for e in l2 {
        match &e.verdict {
            L2Verdict::NotAnnounced(reason) if !bgp_only(config, e.address) => {
                entries.push(entry(LAYER2, reason, &e.service, e.address));
            }
            L2Verdict::Announced { .. } => {
                if let Some(c) = conflicts.get(&e.address) {
                    entries.push(Entry {
                        protocol: LAYER2,
                        code: ADDRESS_IN_USE,
                        message: format!(
                            "{} is used by another host ({}) on {}: not answered while it holds it",
                            e.address, c.holder, c.interface
                        ),
                        service: &e.service,
                        address: e.address,
                    });
                }
            }
            L2Verdict::NotAnnounced(_) => {}
        }
    }
    let count = entries.len() as u64;
    type Group<'a> = BTreeMap<&'a ServiceKey, Vec<IpAddr>>;
    let mut groups: BTreeMap<(&str, &str, String), Group> = BTreeMap::new();
    for e in entries {
        groups
            .entry((e.protocol, e.code, e.message))
            .or_default()
            .entry(e.service)
            .or_default()
            .push(e.address);
    }
    let mut listed = 0;
    let mut omitted = 0;
    let mut reasons = Vec::new();
    for ((protocol, code, message), services) in groups {
        let mut names = Vec::new();
        for (service, ips) in services {
            let addresses = match protocol {
                BGP => explanations_of(bgp, service).len(),
                _ => explanations_of(l2, service).len(),
            };
            let whole = addresses == ips.len();
            let these: Vec<String> = if whole {
                vec![service.to_string()]
            } else {
                ips.iter().map(|ip| format!("{service} {ip}")).collect()
            };
            for name in these {
                if listed < MAX_LISTED {
                    names.push(name);
                    listed += 1;
                } else {
                    omitted += 1;
                }
            }
        }
        if !names.is_empty() {
            reasons.push(NotAnnounced {
                protocol: protocol.to_string(),
                reason: code.to_string(),
                message,
                services: names,
            });
        }
    }
    NodeAnnouncementStateStatus {
        reasons,
        not_announced_count: count,
        omitted,
    }
}

fn entry<'a>(
    protocol: &'static str,
    reason: &Reason,
    service: &'a ServiceKey,
    address: IpAddr,
) -> Entry<'a> {
    Entry {
        protocol,
        code: reason.code(),
        message: reason.to_string(),
        service,
        address,
    }
}

/// The address is of a pool only L2Advertisements announce: whatever BGP
/// says of it is how the pool is meant, not a problem.
fn layer2_only(config: &Config, address: IpAddr) -> bool {
    pool_of(config, address).is_some_and(|pool| {
        config.bgp_advertisements_for(pool).next().is_none()
            && config.l2_advertisements_for(pool).next().is_some()
    })
}

/// The address is of a pool only BGPAdvertisements announce.
fn bgp_only(config: &Config, address: IpAddr) -> bool {
    pool_of(config, address).is_some_and(|pool| {
        config.l2_advertisements_for(pool).next().is_none()
            && config.bgp_advertisements_for(pool).next().is_some()
    })
}

/// The pool holding `address` (pools do not overlap: the compiler refuses
/// it).
fn pool_of(config: &Config, address: IpAddr) -> Option<&str> {
    config
        .pools
        .values()
        .find(|p| p.contains(address))
        .map(|p| p.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_announced(service: &str, address: &str, reason: Reason) -> Explanation {
        Explanation {
            service: ServiceKey::new("apps", service),
            address: address.parse().expect("address literal"),
            verdict: Verdict::NotAnnounced(reason),
        }
    }

    #[test]
    fn a_reason_is_written_once_and_the_list_is_bounded() {
        let many: Vec<Explanation> = (0..MAX_LISTED + 7)
            .map(|i| {
                let ip = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
                not_announced(&format!("s{i:05}"), &ip, Reason::NoLocalReadyEndpoint)
            })
            .collect();
        let state = announcement_state(&Config::default(), &many, &[], &BTreeMap::new());
        assert_eq!(state.reasons.len(), 1, "one group for one reason");
        assert_eq!(state.reasons[0].services.len(), MAX_LISTED);
        assert_eq!(state.reasons[0].services[0], "apps/s00000");
        assert_eq!(state.omitted, 7);
        assert_eq!(state.not_announced_count, (MAX_LISTED + 7) as u64);
    }

    #[test]
    fn an_address_is_named_only_when_the_others_differ() {
        let announced = Explanation {
            service: ServiceKey::new("apps", "web"),
            address: "10.0.0.1".parse().expect("address literal"),
            verdict: Verdict::Announced {
                peers: std::sync::Arc::new(["r1".to_string()].into()),
            },
        };
        let state = announcement_state(
            &Config::default(),
            // In Service order, as a plan keeps them.
            &[
                not_announced("db", "10.0.0.2", Reason::NoReadyEndpoint),
                not_announced("db", "fd00::2", Reason::NoReadyEndpoint),
                announced,
                not_announced(
                    "web",
                    "fd00::1",
                    Reason::NoPeerOfFamily {
                        pool: "p".into(),
                        ipv6: true,
                    },
                ),
            ],
            &[],
            &BTreeMap::new(),
        );
        let listed: Vec<(&str, &[String])> = state
            .reasons
            .iter()
            .map(|r| (r.reason.as_str(), &r.services[..]))
            .collect();
        assert_eq!(
            listed,
            [
                ("NoPeerOfFamily", &["apps/web fd00::1".to_string()][..]),
                ("NoReadyEndpoint", &["apps/db".to_string()][..]),
            ]
        );
    }
}
