//! Which of a node's interfaces answer ARP/NDP for an address, and why the
//! others do not.
//!
//! Two kinds of rules, as in MetalLB's announcer:
//!
//! - **Link state**, always: the link must be up, not loopback, not a port
//!   of a bridge or bond (its master answers for it), and able to speak the
//!   address's protocol: ARP needs a broadcast link without `NOARP`, NDP an
//!   IPv6 link-local address.
//! - **Names**, when the L2Advertisement lists no `interfaces`: the virtual
//!   interfaces of container runtimes and CNIs are skipped. The default
//!   list is MetalLB's `metallb-excludel2` list ([`METALLB_EXCLUDED`]) plus
//!   a few CNI devices of the same kind ([`FERROLB_EXCLUDED`]); a user
//!   replaces it with MetalLB's own format (regular expressions, any one
//!   matching anywhere in the name). An advertisement that *names* its
//!   interfaces gets exactly those, name rules aside: the user asked.
//!
//! Generic `vxlan*` names are deliberately not excluded: VXLAN segments are
//! a real way to stretch a LAN, and answering ARP on one is what a user of
//! such a segment wants. Only the CNIs' own VXLAN devices are.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use regex::Regex;

/// MetalLB's default exclusions, as its Helm chart and manifests ship them
/// in the `metallb-excludel2` ConfigMap.
pub const METALLB_EXCLUDED: &[&str] = &[
    "^docker.*",
    "^cbr.*",
    "^dummy.*",
    "^virbr.*",
    "^lxcbr.*",
    "^veth.*",
    "^lo$",
    "^cali.*",
    "^tunl.*",
    "^flannel.*",
    "^kube-ipvs.*",
    "^cni.*",
    "^nodelocaldns.*",
];

/// FerroLB's additions: devices CNIs create per pod or for their own
/// tunnels, never a LAN a client sits on (Cilium's per-pod `lxc*` and its
/// `cilium_*` devices; Calico's VXLAN and WireGuard devices, from Calico's
/// own exclusion list, which MetalLB's was taken from).
pub const FERROLB_EXCLUDED: &[&str] = &[
    "^lxc.*",
    "^cilium_.*",
    r"^vxlan\.calico$",
    r"^vxlan-v6\.calico$",
    r"^wireguard\.cali$",
    r"^wg-v6\.cali$",
];

/// One network interface of the node, as rtnetlink reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    pub name: String,
    /// `IFF_UP`.
    pub up: bool,
    /// `IFF_LOOPBACK`.
    pub loopback: bool,
    /// Has a master (`IFLA_MASTER`): a bridge or bond port.
    pub enslaved: bool,
    /// `IFF_BROADCAST` and not `IFF_NOARP`.
    pub arp: bool,
    /// Has an IPv6 link-local address (NDP needs one as source).
    pub ndp: bool,
    /// Its hardware address, if it has a 6-byte one (the decision does not
    /// use it; the membership tells it to the other speakers).
    pub mac: Option<[u8; 6]>,
}

impl Link {
    /// An up Ethernet link that speaks ARP and NDP.
    pub fn ethernet(name: &str) -> Link {
        Link {
            name: name.to_string(),
            up: true,
            arp: true,
            ndp: true,
            ..Link::default()
        }
    }
}

/// Why an interface does not answer for an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    Down,
    Loopback,
    /// A bridge or bond port: the master answers.
    Enslaved,
    /// IPv4 address on a link without ARP.
    NoArp,
    /// IPv6 address on a link without an IPv6 link-local address.
    NoNdp,
    /// Matches this exclusion pattern (no `interfaces` listed).
    Virtual {
        pattern: String,
    },
    /// The L2Advertisements list interfaces, and not this one.
    NotListed,
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exclusion::Down => write!(f, "the link is down"),
            Exclusion::Loopback => write!(f, "loopback"),
            Exclusion::Enslaved => {
                write!(f, "a bridge or bond port (its master answers for it)")
            }
            Exclusion::NoArp => write!(f, "the link does not do ARP (NOARP, or no broadcast)"),
            Exclusion::NoNdp => write!(f, "the link has no IPv6 link-local address for NDP"),
            Exclusion::Virtual { pattern } => {
                write!(
                    f,
                    "excluded by the interface exclusion list (metallb-excludel2: matches {pattern:?})"
                )
            }
            Exclusion::NotListed => {
                write!(f, "not among the L2Advertisement's interfaces")
            }
        }
    }
}

/// An exclusion pattern that is not a valid regular expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("interface exclusion {pattern:?} is not a valid regular expression: {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

/// Which interface names are skipped when an advertisement lists none.
#[derive(Debug, Clone)]
pub struct InterfaceRules {
    excluded: Vec<(String, Regex)>,
}

/// Rules are equal when their patterns are (a compiled pattern has no
/// equality of its own).
impl PartialEq for InterfaceRules {
    fn eq(&self, other: &InterfaceRules) -> bool {
        let patterns = |r: &InterfaceRules| {
            r.excluded
                .iter()
                .map(|(p, _)| p.clone())
                .collect::<Vec<_>>()
        };
        patterns(self) == patterns(other)
    }
}

impl Eq for InterfaceRules {}

impl InterfaceRules {
    /// MetalLB's patterns followed by FerroLB's.
    pub fn standard() -> InterfaceRules {
        let patterns = METALLB_EXCLUDED.iter().chain(FERROLB_EXCLUDED);
        // The built-in patterns are literals checked by the tests below.
        InterfaceRules::new(patterns).unwrap_or_else(|_| InterfaceRules::none())
    }

    /// No name is excluded.
    pub fn none() -> InterfaceRules {
        InterfaceRules {
            excluded: Vec::new(),
        }
    }

    /// Rules from regular expressions, in MetalLB's
    /// `announcedInterfacesToExclude` form: a name is excluded when any
    /// pattern matches anywhere in it (anchor with `^`/`$`).
    pub fn new<S: AsRef<str>>(
        patterns: impl IntoIterator<Item = S>,
    ) -> Result<InterfaceRules, PatternError> {
        let excluded = patterns
            .into_iter()
            .map(|p| {
                let p = p.as_ref();
                Regex::new(p)
                    .map(|re| (p.to_string(), re))
                    .map_err(|e| PatternError {
                        pattern: p.to_string(),
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(InterfaceRules { excluded })
    }

    /// The first pattern that excludes `name`.
    fn excluding(&self, name: &str) -> Option<&str> {
        self.excluded
            .iter()
            .find(|(_, re)| re.is_match(name))
            .map(|(p, _)| p.as_str())
    }
}

impl Default for InterfaceRules {
    fn default() -> InterfaceRules {
        InterfaceRules::standard()
    }
}

/// The interfaces the advertisements of an address ask for on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// Some advertisement lists no interfaces: every suitable one.
    All,
    /// The union of the advertisements' `interfaces`.
    Listed(BTreeSet<String>),
}

/// The outcome for one address on one node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceChoice {
    /// Interfaces that answer for the address.
    pub eligible: BTreeSet<String>,
    /// Every other interface of the node, with the reason.
    pub excluded: BTreeMap<String, Exclusion>,
    /// Listed interfaces this node does not have (MetalLB's
    /// `announceFailed` case).
    pub missing: BTreeSet<String>,
}

/// Chooses the interfaces of `links` that answer for `address`.
pub fn choose(
    links: &[Link],
    rules: &InterfaceRules,
    wanted: &Wanted,
    address: IpAddr,
) -> InterfaceChoice {
    let mut choice = InterfaceChoice::default();
    for link in links {
        if let Some(why) = exclusion(link, rules, wanted, address) {
            choice.excluded.insert(link.name.clone(), why);
        } else {
            choice.eligible.insert(link.name.clone());
        }
    }
    if let Wanted::Listed(names) = wanted {
        choice.missing = names
            .iter()
            .filter(|n| !links.iter().any(|l| &l.name == *n))
            .cloned()
            .collect();
    }
    choice
}

/// The MACs of every interface of `links` that may answer ARP/NDP for
/// some address: up, neither loopback nor enslaved, ARP or NDP capable,
/// and either not excluded by `rules` or named in `listed` (an
/// advertisement's `interfaces`). The other speakers take claims from
/// these for this node's ([`ferrolb_l2::conflict`]).
pub fn answering_macs<'a>(
    links: &[Link],
    rules: &InterfaceRules,
    listed: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<[u8; 6]> {
    let listed: BTreeSet<&str> = listed.into_iter().collect();
    links
        .iter()
        .filter(|l| l.up && !l.loopback && !l.enslaved && (l.arp || l.ndp))
        .filter(|l| listed.contains(l.name.as_str()) || rules.excluding(&l.name).is_none())
        .filter_map(|l| l.mac)
        .collect()
}

fn exclusion(
    link: &Link,
    rules: &InterfaceRules,
    wanted: &Wanted,
    address: IpAddr,
) -> Option<Exclusion> {
    let by_name = match wanted {
        Wanted::Listed(names) => (!names.contains(&link.name)).then_some(Exclusion::NotListed),
        Wanted::All => rules.excluding(&link.name).map(|p| Exclusion::Virtual {
            pattern: p.to_string(),
        }),
    };
    let by_state = if link.loopback {
        Some(Exclusion::Loopback)
    } else if !link.up {
        Some(Exclusion::Down)
    } else if link.enslaved {
        Some(Exclusion::Enslaved)
    } else if address.is_ipv4() && !link.arp {
        Some(Exclusion::NoArp)
    } else if address.is_ipv6() && !link.ndp {
        Some(Exclusion::NoNdp)
    } else {
        None
    };
    by_name.or(by_state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_macs_told_to_the_others_are_those_of_interfaces_that_may_answer() {
        let with_mac = |name: &str, last: u8| Link {
            mac: Some([2, 0, 0, 0, 0, last]),
            ..Link::ethernet(name)
        };
        let links = [
            with_mac("eth0", 1),
            Link {
                up: false,
                ..with_mac("eth1", 2)
            },
            with_mac("veth12", 3),
            with_mac("cali7", 4),
            Link {
                loopback: true,
                ..with_mac("lo", 5)
            },
            Link::ethernet("wg0"),
        ];
        let macs = answering_macs(&links, &InterfaceRules::standard(), ["cali7"]);
        assert_eq!(macs, [[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 4]].into());
    }

    #[test]
    fn the_built_in_patterns_compile() {
        let all = METALLB_EXCLUDED.iter().chain(FERROLB_EXCLUDED);
        assert!(InterfaceRules::new(all).is_ok());
        assert_eq!(
            InterfaceRules::standard().excluded.len(),
            METALLB_EXCLUDED.len() + FERROLB_EXCLUDED.len()
        );
    }

    #[test]
    fn a_bad_pattern_is_reported_with_its_text() {
        let err = InterfaceRules::new(["^eth(", "^lo$"]).unwrap_err();
        assert_eq!(err.pattern, "^eth(");
        assert!(err.to_string().contains("^eth("), "{err}");
    }
}
