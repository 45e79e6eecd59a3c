//! What two OPENs agree on (RFC 5492 §3): the codec for each direction and
//! the session facts the FSM needs.

use super::capability::{AddPathFamily, Capability, GracefulRestart};
use super::codec::{AddPath, Codec};
use super::open::Open;
use super::types::{Asn, BgpId, Family, HoldTime};

/// The outcome of an OPEN exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The peer's AS (from its 4-octet AS capability if it sent one).
    pub peer_asn: Asn,
    /// The peer's BGP identifier.
    pub peer_id: BgpId,
    /// The smaller of the two hold times (RFC 4271 §4.2).
    pub hold_time: HoldTime,
    /// Families both sides enabled, in our order.
    pub families: Vec<Family>,
    /// Both sides understand ROUTE-REFRESH.
    pub route_refresh: bool,
    /// Both sides understand enhanced route refresh (RFC 7313).
    pub enhanced_route_refresh: bool,
    /// The peer's graceful restart capability, if it sent one.
    pub peer_graceful_restart: Option<GracefulRestart>,
    /// Codec for messages the peer sends us.
    pub receive: Codec,
    /// Codec for messages we send the peer.
    pub send: Codec,
}

fn families(open: &Open) -> Vec<Family> {
    let mut out: Vec<Family> = open
        .capabilities
        .iter()
        .filter_map(|c| match c {
            Capability::MultiProtocol { afi, safi } => Family::from_afi_safi(*afi, *safi),
            _ => None,
        })
        .collect();
    // A speaker without any multiprotocol capability speaks IPv4 unicast
    // only (RFC 4760 §8).
    let any_mp = open
        .capabilities
        .iter()
        .any(|c| matches!(c, Capability::MultiProtocol { .. }));
    if !any_mp {
        out.push(Family::Ipv4Unicast);
    }
    out
}

fn has(open: &Open, pred: impl Fn(&Capability) -> bool) -> bool {
    open.capabilities.iter().any(pred)
}

fn add_path_families(open: &Open) -> impl Iterator<Item = (Family, AddPathFamily)> + '_ {
    open.capabilities
        .iter()
        .filter_map(|c| match c {
            Capability::AddPath(v) => Some(v.iter()),
            _ => None,
        })
        .flatten()
        .filter_map(|f| Family::from_afi_safi(f.afi, f.safi).map(|fam| (fam, *f)))
}

/// Whether `from` may send path identifiers of `family` to `to`
/// (RFC 7911 §4: sender says send, receiver says receive).
fn add_path_flows(from: &Open, to: &Open, family: Family) -> bool {
    let sends = add_path_families(from).any(|(f, a)| f == family && a.mode.sends());
    let receives = add_path_families(to).any(|(f, a)| f == family && a.mode.receives());
    sends && receives
}

/// Combines our OPEN with the peer's.
pub fn negotiate(local: &Open, remote: &Open) -> Negotiated {
    let remote_families = families(remote);
    let families: Vec<Family> = families(local)
        .into_iter()
        .filter(|f| remote_families.contains(f))
        .collect();
    let both = |pred: &dyn Fn(&Capability) -> bool| has(local, pred) && has(remote, pred);
    let four_octet_as = both(&|c| matches!(c, Capability::FourOctetAs(_)));
    let extended_message = both(&|c| matches!(c, Capability::ExtendedMessage));
    let mut receive = Codec {
        four_octet_as,
        add_path: AddPath::default(),
        extended_message,
    };
    let mut send = receive;
    for &family in &families {
        receive
            .add_path
            .set(family, add_path_flows(remote, local, family));
        send.add_path
            .set(family, add_path_flows(local, remote, family));
    }
    Negotiated {
        peer_asn: remote.asn(),
        peer_id: remote.bgp_id,
        hold_time: local.hold_time.min(remote.hold_time),
        families,
        route_refresh: both(&|c| matches!(c, Capability::RouteRefresh)),
        enhanced_route_refresh: both(&|c| matches!(c, Capability::EnhancedRouteRefresh)),
        peer_graceful_restart: remote.capabilities.iter().find_map(|c| match c {
            Capability::GracefulRestart(gr) => Some(gr.clone()),
            _ => None,
        }),
        receive,
        send,
    }
}
