//! What a router tells us, as typed values: session states and the routes it
//! received with their attributes. FRR, BIRD and GoBGP all answer in these
//! types, so a test asks the same question of each.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use crate::error::Result;

/// RFC 4271 §8.2.2 session states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl SessionState {
    /// Reads the state names FRR, BIRD and GoBGP print (case and spelling vary).
    pub fn from_name(name: &str) -> Option<SessionState> {
        let n: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match n.as_str() {
            "idle" => SessionState::Idle,
            "connect" => SessionState::Connect,
            "active" => SessionState::Active,
            "opensent" => SessionState::OpenSent,
            "openconfirm" => SessionState::OpenConfirm,
            "established" => SessionState::Established,
            _ => return None,
        })
    }
}

/// ORIGIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

impl Origin {
    pub fn from_name(name: &str) -> Option<Origin> {
        match name.to_ascii_lowercase().as_str() {
            "igp" | "i" => Some(Origin::Igp),
            "egp" | "e" => Some(Origin::Egp),
            "incomplete" | "?" => Some(Origin::Incomplete),
            _ => None,
        }
    }
}

/// A standard community (RFC 1997), shown as `high:low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Community(pub u32);

impl Community {
    pub fn new(high: u16, low: u16) -> Community {
        Community((u32::from(high) << 16) | u32::from(low))
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0 >> 16, self.0 & 0xffff)
    }
}

impl FromStr for Community {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (h, l) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?} is not high:low"))?;
        let h = h.trim().parse().map_err(|e| format!("{s:?}: {e}"))?;
        let l = l.trim().parse().map_err(|e| format!("{s:?}: {e}"))?;
        Ok(Community::new(h, l))
    }
}

/// A large community (RFC 8092), shown as `global:local1:local2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LargeCommunity {
    pub global: u32,
    pub local1: u32,
    pub local2: u32,
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

impl FromStr for LargeCommunity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let [g, l1, l2] = parts.as_slice() else {
            return Err(format!("{s:?} is not global:local1:local2"));
        };
        let num = |p: &str| p.trim().parse::<u32>().map_err(|e| format!("{s:?}: {e}"));
        Ok(LargeCommunity {
            global: num(g)?,
            local1: num(l1)?,
            local2: num(l2)?,
        })
    }
}

/// One AS_PATH segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsSegment {
    Sequence(Vec<u32>),
    Set(Vec<u32>),
}

/// One path to a prefix, as a router holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Path {
    /// The neighbour it came from, when the router says.
    pub peer: Option<IpAddr>,
    pub as_path: Vec<AsSegment>,
    pub next_hops: Vec<IpAddr>,
    pub origin: Option<Origin>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub communities: Vec<Community>,
    pub large_communities: Vec<LargeCommunity>,
    /// Chosen as best by the router.
    pub best: bool,
}

impl Path {
    /// The ASNs of the AS_PATH's sequences, in order (sets left out).
    pub fn as_sequence(&self) -> Vec<u32> {
        self.as_path
            .iter()
            .flat_map(|s| match s {
                AsSegment::Sequence(asns) => asns.clone(),
                AsSegment::Set(_) => Vec::new(),
            })
            .collect()
    }
}

/// Every path a router has, by prefix.
pub type Rib = BTreeMap<IpNet, Vec<Path>>;

/// Address family of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(addr: IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    }
}

/// What every router driver answers. Implemented by FRR, BIRD and GoBGP.
pub trait Router {
    /// Short name for messages, e.g. `frr@r1`.
    fn describe(&self) -> String;
    /// The state of the session with `neighbor`, `None` if not configured.
    fn session_state(&self, neighbor: IpAddr) -> Result<Option<SessionState>>;
    /// All received and local paths of `family`.
    fn rib(&self, family: Family) -> Result<Rib>;
}

/// Parses `high:low` communities, skipping well-known names the router
/// prints instead of numbers.
pub(crate) fn parse_communities<'a>(items: impl Iterator<Item = &'a str>) -> Vec<Community> {
    items
        .filter_map(|c| match c {
            "no-export" => Some(Community(0xFFFF_FF01)),
            "no-advertise" => Some(Community(0xFFFF_FF02)),
            "local-AS" | "no-export-subconfed" => Some(Community(0xFFFF_FF03)),
            "blackhole" => Some(Community::new(0xFFFF, 666)),
            other => other.parse().ok(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities_print_and_parse() {
        let c: Community = "65000:100".parse().unwrap();
        assert_eq!(c, Community::new(65000, 100));
        assert_eq!(c.to_string(), "65000:100");
        let l: LargeCommunity = "4200000000:1:2".parse().unwrap();
        assert_eq!(l.to_string(), "4200000000:1:2");
        assert!("1:2".parse::<LargeCommunity>().is_err());
        assert!("x".parse::<Community>().is_err());
    }

    #[test]
    fn state_names_of_every_daemon_are_understood() {
        for (name, state) in [
            ("Established", SessionState::Established),
            ("OpenSent", SessionState::OpenSent),
            ("Open sent", SessionState::OpenSent),
            ("idle", SessionState::Idle),
            ("Active", SessionState::Active),
        ] {
            assert_eq!(SessionState::from_name(name), Some(state));
        }
        assert_eq!(SessionState::from_name("Clearing"), None);
    }
}
