//! What two valid OPENs agree on (RFC 4271 §4.2, RFC 4760, RFC 5492).

use std::time::Duration;

use super::action::NegotiatedSession;
use super::config::{Family, SessionConfig};
use super::hold_time::HoldTime;
use super::peer_open::PeerOpen;

/// Negotiates the session; `None` when no family is common to both sides.
/// The caller has already checked the version, AS, identifier and hold time.
pub(crate) fn negotiate(
    config: &SessionConfig,
    open: &PeerOpen,
    peer_as: u32,
    peer_hold: HoldTime,
) -> Option<NegotiatedSession> {
    let caps = &open.capabilities;
    // RFC 4760 §8: a peer without multiprotocol capabilities speaks IPv4 unicast.
    let implied = [Family::IPV4_UNICAST];
    let peer_families: &[Family] = if caps.multiprotocol.is_empty() {
        &implied
    } else {
        &caps.multiprotocol
    };
    let families: Vec<Family> = config
        .families
        .iter()
        .copied()
        .filter(|f| peer_families.contains(f))
        .collect();
    if families.is_empty() {
        return None;
    }
    let hold_time = config.hold_time.negotiate(peer_hold);
    Some(NegotiatedSession {
        hold_time,
        keepalive: keepalive_interval(hold_time, config),
        peer_as,
        peer_id: open.bgp_id,
        internal: peer_as == config.local_as,
        families,
        four_octet_as: caps.four_octet_as.is_some(),
        route_refresh: config.route_refresh && caps.route_refresh,
        extended_message: config.extended_message && caps.extended_message,
        graceful_restart: caps
            .graceful_restart
            .clone()
            .filter(|_| config.graceful_restart),
        extended_next_hop: config.extended_next_hop && caps.extended_next_hop_ipv4,
    })
}

/// A third of the hold time (RFC 4271 §10), or the configured interval when
/// it is shorter: a longer one would let the peer's hold timer expire.
fn keepalive_interval(hold_time: HoldTime, config: &SessionConfig) -> Option<Duration> {
    let third = hold_time.duration()? / 3;
    let wanted = config
        .keepalive
        .map(|k| Duration::from_secs(u64::from(k.get())));
    Some(wanted.map_or(third, |w| w.min(third)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsm::{BgpId, PeerAs, PeerCapabilities};

    fn open(extended_next_hop_ipv4: bool) -> PeerOpen {
        PeerOpen {
            version: 4,
            my_as: 64500,
            hold_time: 90,
            bgp_id: BgpId(2),
            capabilities: PeerCapabilities {
                four_octet_as: Some(64500),
                multiprotocol: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
                extended_next_hop_ipv4,
                ..PeerCapabilities::default()
            },
        }
    }

    /// RFC 8950 §4: IPv4 routes may carry an IPv6 next hop only to a peer
    /// that said it takes them, and we use it only where we offered it.
    #[test]
    fn extended_next_hop_needs_both_sides() {
        for (ours, theirs) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut config = SessionConfig::new(64512, BgpId(1), PeerAs::Exact(64500));
            config.extended_next_hop = ours;
            let session = negotiate(&config, &open(theirs), 64500, HoldTime::DEFAULT)
                .expect("common families");
            assert_eq!(session.extended_next_hop, ours && theirs, "{ours} {theirs}");
        }
    }
}
