//! The peer's OPEN, already decoded: the values the FSM validates and negotiates.

use super::config::{BgpId, Family};

/// The 2-octet AS placeholder a 4-octet speaker puts in My Autonomous System
/// when its AS does not fit (RFC 6793).
pub const AS_TRANS: u16 = 23456;

/// A decoded OPEN message from the peer, independent of the wire format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerOpen {
    /// Version field (we speak 4 only).
    pub version: u8,
    /// My Autonomous System as sent: may be [`AS_TRANS`].
    pub my_as: u16,
    /// Proposed hold time in seconds, unchecked.
    pub hold_time: u16,
    /// The peer's BGP Identifier.
    pub bgp_id: BgpId,
    /// The capabilities that matter to negotiation.
    pub capabilities: PeerCapabilities,
}

/// What the peer advertised, reduced to what negotiation uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerCapabilities {
    /// The 4-octet AS capability value (RFC 6793), if advertised.
    pub four_octet_as: Option<u32>,
    /// Multiprotocol capabilities (RFC 4760). Empty means none were sent,
    /// which implies IPv4 unicast only.
    pub multiprotocol: Vec<Family>,
    /// Route refresh (RFC 2918) advertised.
    pub route_refresh: bool,
    /// Extended messages (RFC 8654) advertised.
    pub extended_message: bool,
    /// Graceful restart (RFC 4724) advertised, with its content.
    pub graceful_restart: Option<GracefulRestart>,
    /// The extended next hop capability (RFC 8950) lists IPv4 unicast with
    /// an IPv6 next hop: the peer takes our IPv4 routes with one.
    pub extended_next_hop_ipv4: bool,
}

/// The peer's graceful restart capability (RFC 4724 §3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GracefulRestart {
    /// The Restart State bit: the peer has just restarted.
    pub restart_state: bool,
    /// Seconds the peer asks us to keep its routes after the session drops.
    pub restart_time: u16,
    /// Families for which the peer keeps state, with their Forwarding State bit.
    pub families: Vec<GracefulRestartFamily>,
}

/// One family in a graceful restart capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestartFamily {
    /// The family.
    pub family: Family,
    /// Whether the peer preserved forwarding state for it across its restart.
    pub forwarding_preserved: bool,
}
