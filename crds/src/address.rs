//! Pool address entries: a CIDR (`10.0.0.0/24`, `fc00::/120`) or an explicit
//! inclusive range (`10.0.0.10-10.0.0.20`), as MetalLB accepts them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;

use ipnet::IpNet;

/// An inclusive range of addresses of one family: a range cannot mix IPv4
/// and IPv6, and `start <= end` always holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IpRange {
    /// IPv4 addresses `start..=end`.
    V4(RangeInclusive<Ipv4Addr>),
    /// IPv6 addresses `start..=end`.
    V6(RangeInclusive<Ipv6Addr>),
}

/// Why a pool entry is not an address range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// Each variant's `#[error]` text is its documentation.
#[allow(missing_docs)]
pub enum AddressError {
    #[error("{0:?} is not a CIDR or range")]
    Malformed(String),
    #[error("{text:?}: start {start} is after end {end}")]
    Reversed {
        text: String,
        start: IpAddr,
        end: IpAddr,
    },
    #[error("{0:?}: start and end are of different IP families")]
    MixedFamilies(String),
}

impl IpRange {
    /// Parses `a-b` or a CIDR. Host bits in a CIDR are ignored, as Go's
    /// `net.ParseCIDR` (and so MetalLB) ignores them.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let malformed = || AddressError::Malformed(text.to_string());
        if let Some((a, b)) = text.split_once('-') {
            let start: IpAddr = a.trim().parse().map_err(|_| malformed())?;
            let end: IpAddr = b.trim().parse().map_err(|_| malformed())?;
            return match (start, end) {
                (IpAddr::V4(s), IpAddr::V4(e)) if s <= e => Ok(Self::V4(s..=e)),
                (IpAddr::V6(s), IpAddr::V6(e)) if s <= e => Ok(Self::V6(s..=e)),
                (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                    Err(AddressError::Reversed {
                        text: text.to_string(),
                        start,
                        end,
                    })
                }
                _ => Err(AddressError::MixedFamilies(text.to_string())),
            };
        }
        // Unlike range ends, MetalLB does not trim CIDRs (Go's net.ParseCIDR).
        let net: IpNet = text.parse().map_err(|_| malformed())?;
        Ok(Self::from(net))
    }

    /// First address.
    pub fn start(&self) -> IpAddr {
        match self {
            Self::V4(r) => IpAddr::V4(*r.start()),
            Self::V6(r) => IpAddr::V6(*r.start()),
        }
    }

    /// Last address.
    pub fn end(&self) -> IpAddr {
        match self {
            Self::V4(r) => IpAddr::V4(*r.end()),
            Self::V6(r) => IpAddr::V6(*r.end()),
        }
    }

    /// Whether this is an IPv4 range.
    pub fn is_ipv4(&self) -> bool {
        matches!(self, Self::V4(_))
    }

    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Self::V4(r), IpAddr::V4(a)) => r.contains(&a),
            (Self::V6(r), IpAddr::V6(a)) => r.contains(&a),
            _ => false,
        }
    }

    /// Number of addresses (2^128 saturates to `u128::MAX`).
    pub fn len(&self) -> u128 {
        let (s, e) = self.bounds();
        (e - s).saturating_add(1)
    }

    /// A range always holds at least one address.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether two ranges share an address.
    pub fn overlaps(&self, other: &IpRange) -> bool {
        if self.is_ipv4() != other.is_ipv4() {
            return false;
        }
        let (a0, a1) = self.bounds();
        let (b0, b1) = other.bounds();
        a0 <= b1 && b0 <= a1
    }

    /// Prefix length of the largest CIDR block in the range's minimal CIDR
    /// cover: MetalLB checks aggregation lengths against it.
    pub fn shortest_prefix_len(&self) -> u8 {
        let bits: u32 = if self.is_ipv4() { 32 } else { 128 };
        let (mut s, e) = self.bounds();
        let mut best = bits;
        loop {
            // Largest aligned block starting at `s` that stays within `e`.
            let mut size_log = if s == 0 {
                bits
            } else {
                s.trailing_zeros().min(bits)
            };
            while size_log > 0 && block_end(s, size_log).is_none_or(|end| end > e) {
                size_log -= 1;
            }
            best = best.min(bits - size_log);
            match block_end(s, size_log) {
                Some(end) if end < e => s = end + 1,
                _ => break,
            }
        }
        u8::try_from(best).unwrap_or(u8::MAX)
    }

    fn bounds(&self) -> (u128, u128) {
        match self {
            Self::V4(r) => (
                u128::from(u32::from(*r.start())),
                u128::from(u32::from(*r.end())),
            ),
            Self::V6(r) => (u128::from(*r.start()), u128::from(*r.end())),
        }
    }
}

/// Last address of the block of 2^`size_log` addresses starting at `start`.
fn block_end(start: u128, size_log: u32) -> Option<u128> {
    let size_minus_one = if size_log >= 128 {
        u128::MAX
    } else {
        (1u128 << size_log) - 1
    };
    start.checked_add(size_minus_one)
}

impl From<IpNet> for IpRange {
    fn from(net: IpNet) -> Self {
        match net {
            IpNet::V4(n) => Self::V4(n.network()..=n.broadcast()),
            IpNet::V6(n) => Self::V6(n.network()..=n.broadcast()),
        }
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start(), self.end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: &str, b: &str) -> IpRange {
        IpRange::V4(a.parse().expect("ip")..=b.parse().expect("ip"))
    }

    #[test]
    fn parses_cidrs_and_ranges() {
        assert_eq!(
            IpRange::parse("10.0.0.0/30"),
            Ok(v4("10.0.0.0", "10.0.0.3"))
        );
        assert_eq!(
            IpRange::parse("10.0.0.5/30"),
            Ok(v4("10.0.0.4", "10.0.0.7"))
        );
        assert_eq!(
            IpRange::parse("10.0.0.1-10.0.0.9"),
            Ok(v4("10.0.0.1", "10.0.0.9"))
        );
        assert_eq!(
            IpRange::parse("10.0.0.1 - 10.0.0.1"),
            Ok(v4("10.0.0.1", "10.0.0.1"))
        );
        assert_eq!(
            IpRange::parse("10.0.0.7/32"),
            Ok(v4("10.0.0.7", "10.0.0.7"))
        );
        let v6 = IpRange::parse("fc00::1-fc00::ff").expect("v6");
        assert_eq!(v6.len(), 255);
        assert!(!v6.is_ipv4());
        assert_eq!(IpRange::parse("::/0").expect("all").len(), u128::MAX);
    }

    #[test]
    fn rejects_malformed_entries() {
        for bad in [
            "10.0.0.300/32",
            "10.0.0.0/33",
            "foo",
            "10.0.0.1-",
            "",
            "10.0.0.0",
        ] {
            assert_eq!(
                IpRange::parse(bad),
                Err(AddressError::Malformed(bad.into())),
                "{bad}"
            );
        }
        assert!(matches!(
            IpRange::parse("10.0.0.9-10.0.0.1"),
            Err(AddressError::Reversed { .. })
        ));
        assert!(matches!(
            IpRange::parse("10.0.0.1-fc00::1"),
            Err(AddressError::MixedFamilies(_))
        ));
    }

    #[test]
    fn overlap_is_per_family_and_inclusive() {
        assert!(v4("10.0.0.0", "10.0.0.10").overlaps(&v4("10.0.0.10", "10.0.0.20")));
        assert!(!v4("10.0.0.0", "10.0.0.9").overlaps(&v4("10.0.0.10", "10.0.0.20")));
        let v6 = IpRange::parse("::a00:0/120").expect("v6");
        assert!(!v4("10.0.0.0", "10.0.0.255").overlaps(&v6));
    }

    #[test]
    fn shortest_prefix_matches_cidr_cover() {
        let cases = [
            ("10.0.0.0/24", 24),
            ("10.0.0.1-10.0.0.1", 32),
            ("10.0.0.0-10.0.0.255", 24),
            ("10.0.0.1-10.0.0.255", 25),
            ("10.0.0.200-10.0.0.210", 29),
            ("0.0.0.0/0", 0),
            ("::/0", 0),
            ("fc00::/64", 64),
        ];
        for (text, want) in cases {
            let r = IpRange::parse(text).expect("valid");
            assert_eq!(r.shortest_prefix_len(), want, "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = IpRange::parse(&s);
        }

        #[test]
        fn v4_ranges_hold_their_ends(a in proptest::prelude::any::<u32>(), b in proptest::prelude::any::<u32>()) {
            let (lo, hi) = (a.min(b), a.max(b));
            let text = format!("{}-{}", Ipv4Addr::from(lo), Ipv4Addr::from(hi));
            let r = IpRange::parse(&text).expect("valid");
            proptest::prop_assert_eq!(r.len(), u128::from(hi - lo) + 1);
            proptest::prop_assert!(r.contains(IpAddr::V4(Ipv4Addr::from(lo))));
            proptest::prop_assert!(r.shortest_prefix_len() <= 32);
        }
    }
}
