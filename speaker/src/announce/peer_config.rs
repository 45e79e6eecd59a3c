//! A compiled BGPPeer as the BGP stack's session configuration.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV6};
use std::num::NonZeroU16;

use ferrolb_bgp::fsm::{Family, HoldTime, PeerAs};
use ferrolb_bgp::peer::{GracefulRestartConfig, PeerConfig};
use ferrolb_bgp::transport::{Password, TTL_MULTIHOP};
use ferrolb_bgp::wire::BgpId;
use ferrolb_crds::api::DynamicASNMode;
use ferrolb_crds::config::{Peer, PeerAsn, PeerTarget};

use super::link_peer::LinkPeer;

/// Why a BGPPeer cannot become a session on this node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerConfigError {
    #[error(
        "BGPPeer {peer}: no router heard on interface {interface} yet (no router advertisement, no answer to an echo to all nodes)"
    )]
    NoLinkPeer { peer: String, interface: String },
    #[error("BGPPeer {peer}: interface {interface}: {reason}")]
    Interface {
        peer: String,
        interface: String,
        reason: String,
    },
    #[error("BGPPeer {peer}: no router ID: set spec.routerID, or give the node an IPv4 address")]
    NoRouterId { peer: String },
    #[error("BGPPeer {peer}: spec.holdTime {seconds}s does not fit a BGP OPEN")]
    HoldTime { peer: String, seconds: u64 },
    #[error("BGPPeer {peer}: password: {reason}")]
    Password { peer: String, reason: String },
    #[error("BGPPeer {peer}: BFD cannot run ({reason}); the BGP session runs without it")]
    Bfd { peer: String, reason: String },
}

/// The session to run for `peer` on a node whose own router ID (its IPv4
/// address) is `node_router_id`, and whose speaker restarts as `restart`
/// says (for a BGPPeer with enableGracefulRestart). An unnumbered peer
/// (`interface`) peers with `link_peer`, the router found on its interface.
pub fn peer_config(
    peer: &Peer,
    node_router_id: Option<Ipv4Addr>,
    restart: GracefulRestartConfig,
    link_peer: Option<LinkPeer>,
) -> Result<PeerConfig, PeerConfigError> {
    let name = || format!("{}/{}", peer.namespace, peer.name);
    let (address, unnumbered) = match &peer.target {
        PeerTarget::Address(a) => (SocketAddr::new(*a, peer.port), None),
        PeerTarget::Interface(interface) => {
            let found = link_peer.ok_or_else(|| PeerConfigError::NoLinkPeer {
                peer: name(),
                interface: interface.clone(),
            })?;
            // The scope pins the link-local address to the interface, for
            // the connection and for the listener's match of the router's
            // own connections.
            let scoped = SocketAddrV6::new(found.address, peer.port, 0, found.ifindex);
            (SocketAddr::V6(scoped), Some(found))
        }
    };
    let router_id = peer
        .router_id
        .or(node_router_id)
        .and_then(|id| BgpId::new(u32::from(id)))
        .ok_or_else(|| PeerConfigError::NoRouterId { peer: name() })?;
    let peer_as = match peer.peer_asn {
        PeerAsn::Fixed(asn) => PeerAs::Exact(asn),
        PeerAsn::Dynamic(DynamicASNMode::Internal) => PeerAs::Internal,
        PeerAsn::Dynamic(DynamicASNMode::External) => PeerAs::External,
    };
    let mut config = PeerConfig::new(
        peer.name.clone(),
        address.ip(),
        peer.my_asn,
        router_id,
        peer_as,
    );
    config.address = address;
    if let Some(found) = unnumbered {
        // RFC 8950: no IPv4 address on the link, so IPv4 routes go with
        // our IPv6 next hop (link-local, and the global one if the
        // interface has one), as FRR's `neighbor IFACE interface` does.
        config.extended_next_hop = true;
        config.next_hop_v6 = found.global;
    }
    config.source = peer.source_address;
    // The session's sockets are bound to the VRF device: the kernel then
    // routes, and picks our source address (the next hop we announce), in
    // the VRF's table alone.
    config.vrf = peer.vrf.clone();
    let hold = peer.timers.hold_time().as_secs();
    config.hold_time = u16::try_from(hold)
        .ok()
        .and_then(|s| HoldTime::new(s).ok())
        .ok_or_else(|| PeerConfigError::HoldTime {
            peer: name(),
            seconds: hold,
        })?;
    config.keepalive = u16::try_from(peer.timers.keepalive_time().as_secs())
        .ok()
        .and_then(NonZeroU16::new);
    if let Some(password) = &peer.password {
        config.password =
            Some(
                Password::new(password.0.as_bytes()).map_err(|e| PeerConfigError::Password {
                    peer: name(),
                    reason: e.to_string(),
                })?,
            );
    }
    if peer.ebgp_multi_hop {
        config.ttl = TTL_MULTIHOP;
    }
    config.graceful_restart = peer.graceful_restart.then_some(restart);
    // bfdProfile is a session of its own (announce/bfd.rs).
    if peer.disable_mp {
        // The session's own family only: IPv4 unicast alone is what a
        // session without multiprotocol extensions carries (RFC 4760).
        config.families = vec![if address.ip().is_ipv4() {
            Family::IPV4_UNICAST
        } else {
            Family::IPV6_UNICAST
        }];
    }
    // MetalLB's connectTime is how long to wait between connection
    // attempts (FRR's `timers connect`): a fixed interval, not a start.
    if let Some(connect) = peer.connect_time {
        config.backoff.base = connect;
        config.backoff.cap = connect;
    }
    Ok(config)
}
