//! The one boundary between the wire codec and the wire-independent FSM.

use bytes::Bytes;

use crate::fsm::{self, BgpId, PeerCapabilities, PeerOpen};
use crate::wire::{self, Capability, Open};

/// The peer's OPEN as the FSM validates it.
pub(super) fn peer_open(open: &Open) -> PeerOpen {
    let mut caps = PeerCapabilities::default();
    for c in &open.capabilities {
        match c {
            Capability::FourOctetAs(asn) => caps.four_octet_as = Some(asn.0),
            Capability::MultiProtocol { afi, safi } => caps.multiprotocol.push(fsm::Family {
                afi: afi.0,
                safi: safi.0,
            }),
            Capability::RouteRefresh | Capability::EnhancedRouteRefresh => {
                caps.route_refresh = true
            }
            Capability::ExtendedMessage => caps.extended_message = true,
            Capability::GracefulRestart(gr) => {
                caps.graceful_restart = Some(fsm::GracefulRestart {
                    restart_state: gr.restart_state,
                    restart_time: gr.restart_time,
                    families: gr
                        .families
                        .iter()
                        .map(|f| fsm::GracefulRestartFamily {
                            family: fsm::Family {
                                afi: f.afi.0,
                                safi: f.safi.0,
                            },
                            forwarding_preserved: f.forwarding_state,
                        })
                        .collect(),
                })
            }
            Capability::ExtendedNextHop(entries) => {
                caps.extended_next_hop_ipv4 |= entries.contains(&wire::IPV4_UNICAST_IPV6_NEXT_HOP)
            }
            Capability::AddPath(_) | Capability::Unknown { .. } => {}
        }
    }
    PeerOpen {
        version: wire::BGP_VERSION,
        my_as: open.my_as,
        hold_time: open.hold_time.seconds(),
        bgp_id: BgpId(open.bgp_id.get()),
        capabilities: caps,
    }
}

/// A NOTIFICATION the FSM decided on, as the codec sends it.
pub(super) fn notification(n: &fsm::Notification) -> wire::Notification {
    wire::Notification::new(n.code, n.subcode, Bytes::copy_from_slice(&n.data))
}

/// A NOTIFICATION the codec decided on (a decode error), as the FSM takes it.
pub(super) fn fsm_notification(n: &wire::Notification) -> fsm::Notification {
    let mut out = fsm::Notification::new(n.code, n.subcode);
    out.data = n.data.to_vec();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsm::PeerAs;
    use crate::peer::PeerConfig;

    /// What our OPEN offers for an unnumbered session is what a peer's
    /// OPEN with the same capability is read as.
    #[test]
    fn the_extended_next_hop_capability_we_offer_reads_back_as_ipv4_with_ipv6_next_hop() {
        let id = wire::BgpId::new(1).expect("non-zero");
        let peer = "fe80::1".parse().expect("address");
        let mut config = PeerConfig::new("r", peer, 64512, id, PeerAs::Exact(64500));
        assert!(
            !peer_open(&config.open(false))
                .capabilities
                .extended_next_hop_ipv4
        );
        config.extended_next_hop = true;
        let open = config.open(false);
        assert!(
            open.capabilities
                .contains(&Capability::ExtendedNextHop(vec![
                    wire::IPV4_UNICAST_IPV6_NEXT_HOP
                ]))
        );
        assert!(peer_open(&open).capabilities.extended_next_hop_ipv4);
        assert!(config.session_config().extended_next_hop);
    }
}
