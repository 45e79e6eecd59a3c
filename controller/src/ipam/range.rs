//! Address families, address ranges, and the numbering of the usable
//! addresses inside a range.
//!
//! Everything is arithmetic over `u128`, so a whole IPv6 /32 costs no more than
//! a /30: nothing here ever enumerates addresses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of `ip`.
    pub fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The other family.
    pub fn other(self) -> Family {
        match self {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// `ip` as a number; IPv4 addresses are numbered 0..2^32.
pub(crate) fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The address of `family` numbered `n`. Callers only pass numbers that came
/// from addresses of that family, so the IPv4 truncation never loses bits.
pub(crate) fn from_u128(family: Family, n: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(n as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

/// Whether `ip` is an IPv4 address ending in .0 or .255: some consumer
/// firmwares drop traffic to those (a clumsy smurf protection), so pools with
/// `avoidBuggyIPs` never hand them out.
pub fn is_buggy(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => matches!(v4.octets()[3], 0 | 255),
        IpAddr::V6(_) => false,
    }
}

/// Why an [`AddressRange`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// The two ends are of different families.
    #[error("range {start}-{end} mixes IPv4 and IPv6")]
    MixedFamilies {
        /// First address.
        start: IpAddr,
        /// Last address.
        end: IpAddr,
    },
    /// The range is backwards.
    #[error("range {start}-{end} ends before it starts")]
    Reversed {
        /// First address.
        start: IpAddr,
        /// Last address.
        end: IpAddr,
    },
    /// Neither a CIDR, a `start-end` range nor a single address.
    #[error("{text:?} is neither a CIDR, a start-end range nor an address")]
    Syntax {
        /// What was given.
        text: String,
    },
}

/// A non-empty, inclusive range of addresses of one family (`start <= end`,
/// enforced by the constructors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressRange {
    start: IpAddr,
    end: IpAddr,
}

impl AddressRange {
    /// The range `start..=end`.
    pub fn new(start: IpAddr, end: IpAddr) -> Result<Self, RangeError> {
        if Family::of(&start) != Family::of(&end) {
            return Err(RangeError::MixedFamilies { start, end });
        }
        if to_u128(start) > to_u128(end) {
            return Err(RangeError::Reversed { start, end });
        }
        Ok(AddressRange { start, end })
    }

    /// Every address of a CIDR, network and broadcast addresses included (as
    /// MetalLB does: a LoadBalancer address is not a host on that subnet).
    pub fn from_net(net: IpNet) -> Self {
        AddressRange {
            start: net.network(),
            end: net.broadcast(),
        }
    }

    /// The range holding only `ip`.
    pub fn single(ip: IpAddr) -> Self {
        AddressRange { start: ip, end: ip }
    }

    /// First address.
    pub fn start(&self) -> IpAddr {
        self.start
    }

    /// Last address.
    pub fn end(&self) -> IpAddr {
        self.end
    }

    /// The family of both ends.
    pub fn family(&self) -> Family {
        Family::of(&self.start)
    }

    /// Whether `ip` lies in the range.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        Family::of(ip) == self.family() && self.bounds().contains(&to_u128(*ip))
    }

    /// Whether the two ranges share an address.
    pub fn overlaps(&self, other: &AddressRange) -> bool {
        self.family() == other.family()
            && to_u128(self.start) <= to_u128(other.end)
            && to_u128(other.start) <= to_u128(self.end)
    }

    pub(crate) fn bounds(&self) -> std::ops::RangeInclusive<u128> {
        to_u128(self.start)..=to_u128(self.end)
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// Parses the forms MetalLB accepts in `IPAddressPool.spec.addresses`: a CIDR
/// (`10.0.0.0/24`) or a range (`10.0.0.1-10.0.0.9`, spaces allowed), plus a
/// bare address for convenience.
impl FromStr for AddressRange {
    type Err = RangeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || RangeError::Syntax {
            text: text.to_string(),
        };
        let text = text.trim();
        if let Some((a, b)) = text.split_once('-') {
            let start = a.trim().parse().map_err(|_| syntax())?;
            let end = b.trim().parse().map_err(|_| syntax())?;
            return AddressRange::new(start, end);
        }
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(AddressRange::from_net(net));
        }
        text.parse().map(AddressRange::single).map_err(|_| syntax())
    }
}

/// Numbers the usable addresses of one range of one pool: slot 0 is its
/// lowest usable address. With `avoidBuggyIPs` on an IPv4 range, .0 and .255
/// have no slot, so the allocator's free-space search never has to step over
/// them one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slots {
    family: Family,
    start: u128,
    end: u128,
    skip_buggy: bool,
}

impl Slots {
    pub(crate) fn new(range: &AddressRange, avoid_buggy_ips: bool) -> Self {
        Slots {
            family: range.family(),
            start: to_u128(range.start),
            end: to_u128(range.end),
            skip_buggy: avoid_buggy_ips && range.family() == Family::V4,
        }
    }

    /// How many usable addresses lie below `n` (absolute numbering). Each /24
    /// block holds 254 usable addresses (.1 to .254).
    fn rank(&self, n: u128) -> u128 {
        if self.skip_buggy {
            let zeros_below = n.div_ceil(256);
            let broadcasts_below = n / 256;
            n - zeros_below - broadcasts_below
        } else {
            n
        }
    }

    /// The highest slot, or `None` when the range has no usable address
    /// (e.g. the single address 10.0.0.255 with `avoidBuggyIPs`).
    pub(crate) fn last(&self) -> Option<u128> {
        if self.skip_buggy {
            // IPv4: end + 1 <= 2^32, no overflow.
            let count = self.rank(self.end + 1) - self.rank(self.start);
            count.checked_sub(1)
        } else {
            Some(self.end - self.start)
        }
    }

    /// How many addresses may be handed out, saturating at `u128::MAX` for
    /// the one range that holds 2^128 addresses (`::/0`).
    pub(crate) fn capacity(&self) -> u128 {
        self.last().map_or(0, |last| last.saturating_add(1))
    }

    /// The slot of `ip`, or `None` if it is outside the range or unusable.
    pub(crate) fn slot_of(&self, ip: &IpAddr) -> Option<u128> {
        if Family::of(ip) != self.family {
            return None;
        }
        let n = to_u128(*ip);
        if n < self.start || n > self.end || (self.skip_buggy && is_buggy(ip)) {
            return None;
        }
        Some(self.rank(n) - self.rank(self.start))
    }

    /// The address in `slot` (which must be `<= last()`).
    pub(crate) fn addr_of(&self, slot: u128) -> IpAddr {
        let n = if self.skip_buggy {
            let r = self.rank(self.start) + slot;
            256 * (r / 254) + 1 + r % 254
        } else {
            self.start + slot
        };
        from_u128(self.family, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn constructor_rejects_mixed_and_reversed() {
        assert!(matches!(
            AddressRange::new(ip("10.0.0.1"), ip("::1")),
            Err(RangeError::MixedFamilies { .. })
        ));
        assert!(matches!(
            AddressRange::new(ip("10.0.0.9"), ip("10.0.0.1")),
            Err(RangeError::Reversed { .. })
        ));
    }

    #[test]
    fn parses_metallb_forms() {
        let r: AddressRange = "192.168.1.0/30".parse().unwrap();
        assert_eq!((r.start(), r.end()), (ip("192.168.1.0"), ip("192.168.1.3")));
        let r: AddressRange = "10.0.0.1 - 10.0.0.9".parse().unwrap();
        assert_eq!((r.start(), r.end()), (ip("10.0.0.1"), ip("10.0.0.9")));
        let r: AddressRange = "fc00::1".parse().unwrap();
        assert_eq!(r, AddressRange::single(ip("fc00::1")));
        assert!("nonsense".parse::<AddressRange>().is_err());
        assert_eq!(r.to_string(), "fc00::1");
    }

    #[test]
    fn overlap_is_per_family() {
        let a: AddressRange = "10.0.0.0/24".parse().unwrap();
        let b: AddressRange = "10.0.0.255-10.0.1.5".parse().unwrap();
        let c: AddressRange = "::/0".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
    }

    #[test]
    fn buggy_slots_skip_zero_and_broadcast() {
        let r: AddressRange = "10.0.0.0/23".parse().unwrap();
        let s = Slots::new(&r, true);
        assert_eq!(s.capacity(), 508);
        assert_eq!(s.addr_of(0), ip("10.0.0.1"));
        assert_eq!(s.addr_of(253), ip("10.0.0.254"));
        assert_eq!(s.addr_of(254), ip("10.0.1.1"));
        assert_eq!(s.slot_of(&ip("10.0.1.1")), Some(254));
        assert_eq!(s.slot_of(&ip("10.0.0.255")), None);
        assert_eq!(s.slot_of(&ip("10.0.1.0")), None);
        // Round trip over an unaligned range.
        let r: AddressRange = "10.0.0.200-10.0.2.10".parse().unwrap();
        let s = Slots::new(&r, true);
        for slot in 0..=s.last().unwrap() {
            let a = s.addr_of(slot);
            assert!(r.contains(&a) && !is_buggy(&a));
            assert_eq!(s.slot_of(&a), Some(slot));
        }
    }

    #[test]
    fn a_lone_buggy_address_has_no_slot() {
        let s = Slots::new(&AddressRange::single(ip("10.0.0.255")), true);
        assert_eq!(s.last(), None);
        assert_eq!(s.capacity(), 0);
        let s = Slots::new(&AddressRange::single(ip("10.0.0.255")), false);
        assert_eq!(s.capacity(), 1);
    }

    #[test]
    fn huge_ipv6_ranges_are_arithmetic() {
        let all: AddressRange = "::/0".parse().unwrap();
        let s = Slots::new(&all, true);
        assert_eq!(s.capacity(), u128::MAX);
        assert_eq!(
            s.addr_of(u128::MAX),
            ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
        );
        let r: AddressRange = "2001:db8::/32".parse().unwrap();
        assert_eq!(Slots::new(&r, false).capacity(), 1 << 96);
    }
}
