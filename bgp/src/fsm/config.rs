//! What the FSM needs to know about the local speaker and the expected peer.
//!
//! The driver builds the local OPEN from this same configuration: what the
//! FSM negotiates must match what was advertised.

use std::net::Ipv4Addr;
use std::num::NonZeroU16;
use std::time::Duration;

use super::hold_time::HoldTime;

/// A BGP Identifier (RFC 4271 §4.2, RFC 6286): compared as an unsigned
/// 32-bit integer, shown as a dotted quad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BgpId(pub u32);

impl From<Ipv4Addr> for BgpId {
    fn from(a: Ipv4Addr) -> Self {
        BgpId(u32::from(a))
    }
}

impl std::fmt::Display for BgpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ipv4Addr::from(self.0).fmt(f)
    }
}

/// An address family: AFI and SAFI as numbered by IANA (RFC 4760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Family {
    /// Address Family Identifier (1 = IPv4, 2 = IPv6).
    pub afi: u16,
    /// Subsequent Address Family Identifier (1 = unicast).
    pub safi: u8,
}

impl Family {
    /// IPv4 unicast, also what a peer without any multiprotocol capability speaks.
    pub const IPV4_UNICAST: Family = Family { afi: 1, safi: 1 };
    /// IPv6 unicast.
    pub const IPV6_UNICAST: Family = Family { afi: 2, safi: 1 };
}

/// Which AS the peer may announce in its OPEN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerAs {
    /// Exactly this (4-octet) AS.
    Exact(u32),
    /// Any AS equal to the local AS (iBGP only).
    Internal,
    /// Any AS other than the local AS (eBGP only, dynamic ASN).
    External,
    /// Any valid AS (dynamic ASN).
    Any,
}

impl PeerAs {
    /// Whether `peer_as` is acceptable for a speaker in `local_as`.
    pub fn accepts(self, local_as: u32, peer_as: u32) -> bool {
        match self {
            PeerAs::Exact(expected) => peer_as == expected,
            PeerAs::Internal => peer_as == local_as,
            PeerAs::External => peer_as != local_as,
            PeerAs::Any => true,
        }
    }
}

impl std::fmt::Display for PeerAs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerAs::Exact(a) => write!(f, "AS{a}"),
            PeerAs::Internal => f.write_str("internal"),
            PeerAs::External => f.write_str("external"),
            PeerAs::Any => f.write_str("any"),
        }
    }
}

/// Pacing of reconnection attempts: capped exponential backoff with jitter.
///
/// The n-th consecutive failure waits `min(base * 2^(n-1), cap)`, scaled by
/// a jitter factor drawn uniformly from `[min_jitter_percent, 100]` percent
/// (RFC 4271 §10 suggests 0.75..1.0) so that speakers restarted together do
/// not reconnect in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Delay after the first failure (and for the first ConnectRetry timer).
    pub base: Duration,
    /// Largest delay before jitter.
    pub cap: Duration,
    /// Lower bound of the jitter factor, in percent (at most 100).
    pub min_jitter_percent: u8,
    /// How long a session must stay Established before the failures before
    /// it are forgotten, when it ends in a refusal (a NOTIFICATION from the
    /// peer, or a protocol error). A peer that accepts the session and
    /// rejects it at once (a prefix limit, a policy) otherwise earns a
    /// reconnect and a full table every `base` forever; like BIRD's "error
    /// forget time". Network faults (hold timer, TCP, BFD) come back at the
    /// base delay: the session must return as soon as the path does.
    pub forget_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            min_jitter_percent: 75,
            forget_after: Duration::from_secs(60),
        }
    }
}

/// Everything the FSM needs to validate and negotiate a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our AS (4-octet; the driver sends AS_TRANS in the OPEN when it does not fit 2 octets).
    pub local_as: u32,
    /// Our BGP Identifier.
    pub local_id: BgpId,
    /// Which AS the peer may have.
    pub peer_as: PeerAs,
    /// The hold time we propose.
    pub hold_time: HoldTime,
    /// Keepalive interval wanted; never more than a third of the negotiated
    /// hold time. `None`: a third of the negotiated hold time.
    pub keepalive: Option<NonZeroU16>,
    /// The families we advertise (multiprotocol capabilities), in preference order.
    pub families: Vec<Family>,
    /// Whether we advertise route refresh (RFC 2918).
    pub route_refresh: bool,
    /// Whether we advertise extended messages (RFC 8654).
    pub extended_message: bool,
    /// Whether we advertise graceful restart (RFC 4724).
    pub graceful_restart: bool,
    /// Whether we advertise that we take IPv4 unicast routes with an IPv6
    /// next hop (RFC 8950), as unnumbered sessions over IPv6 link-local
    /// addresses need.
    pub extended_next_hop: bool,
    /// Reconnection pacing.
    pub backoff: BackoffConfig,
    /// Whether a session that went down by itself (not by ManualStop) starts
    /// again by itself after the backoff delay.
    pub automatic_restart: bool,
}

impl SessionConfig {
    /// A configuration with FerroLB's defaults: hold time 90 s, IPv4 and IPv6
    /// unicast, route refresh, no extended messages, no graceful restart,
    /// automatic restart with 1 s..60 s backoff.
    pub fn new(local_as: u32, local_id: BgpId, peer_as: PeerAs) -> Self {
        Self {
            local_as,
            local_id,
            peer_as,
            hold_time: HoldTime::DEFAULT,
            keepalive: None,
            families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
            route_refresh: true,
            extended_message: false,
            graceful_restart: false,
            extended_next_hop: false,
            backoff: BackoffConfig::default(),
            automatic_restart: true,
        }
    }
}
