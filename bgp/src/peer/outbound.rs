//! What an established session sends for its routes: the Adj-RIB-Out's
//! changes packed into UPDATEs, and End-of-RIB. Pure (no socket, no
//! clock), so that replay tests can hold the bytes to golden files.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::attributes::RouteAttributes;
use super::config::PeerConfig;
use crate::adj_rib_out::Changes;
use crate::fsm::{self, NegotiatedSession};
use crate::wire::{self, Codec, Ipv6NextHop, Message, Nlri, Update, pack};

/// Everything an established session's UPDATEs depend on but the routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// How messages to this peer are encoded (4-octet AS, ADD-PATH,
    /// extended messages).
    pub codec: Codec,
    /// Our AS, prepended to AS_PATH for external peers.
    pub local_as: u32,
    /// The peer is in our AS (LOCAL_PREF is sent, AS_PATH stays empty).
    pub internal: bool,
    /// The negotiated families, in our preference order.
    pub families: Vec<fsm::Family>,
    /// NEXT_HOP of IPv4 routes; without one they are not sent.
    pub next_hop_v4: Option<Ipv4Addr>,
    /// Global next hop of IPv6 routes; without one (and without a
    /// link-local one) they are not sent.
    pub next_hop_v6: Option<Ipv6Addr>,
    /// Our link-local address, when the session runs over one (unnumbered
    /// peering): sent as the link-local next hop, or alone when there is
    /// no global one.
    pub link_local: Option<Ipv6Addr>,
    /// The peer takes IPv4 routes with an IPv6 next hop (RFC 8950,
    /// negotiated): without an IPv4 next hop they go in MP_REACH_NLRI.
    pub extended_next_hop: bool,
}

impl Outbound {
    /// For `session`, which came up on a connection from `local`.
    pub fn for_session(
        session: &NegotiatedSession,
        codec: Codec,
        local: IpAddr,
        config: &PeerConfig,
    ) -> Outbound {
        let mut outbound = Outbound::new(
            config,
            codec,
            local,
            session.internal,
            session.families.clone(),
        );
        outbound.extended_next_hop = session.extended_next_hop;
        outbound
    }

    /// For a session with `config`'s peer that negotiated `families` on a
    /// connection from `local`: the configured next hops, else the
    /// connection's own address where it can serve (never an IPv6
    /// link-local one as a global next hop).
    pub fn new(
        config: &PeerConfig,
        codec: Codec,
        local: IpAddr,
        internal: bool,
        families: Vec<fsm::Family>,
    ) -> Outbound {
        Outbound {
            codec,
            local_as: config.local_as,
            internal,
            families,
            next_hop_v4: config.next_hop_v4.or(match local {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            }),
            next_hop_v6: config.next_hop_v6.or(match local {
                IpAddr::V6(a) if !is_link_local(a) => Some(a),
                _ => None,
            }),
            link_local: match local {
                IpAddr::V6(a) if is_link_local(a) => Some(a),
                _ => None,
            },
            extended_next_hop: false,
        }
    }

    /// The IPv6 next hop of our routes: the global address with our
    /// link-local one when the session runs over it (RFC 2545), or the
    /// link-local one alone (16 bytes) when there is no global address, as
    /// on an unnumbered link: FRR takes it for a peer it knows by
    /// interface, BIRD reads a lone link-local next hop as such.
    pub fn ipv6_next_hop(&self) -> Option<Ipv6NextHop> {
        match (self.next_hop_v6, self.link_local) {
            (Some(global), link_local) => Some(Ipv6NextHop { global, link_local }),
            (None, Some(ll)) => Some(Ipv6NextHop {
                global: ll,
                link_local: None,
            }),
            (None, None) => None,
        }
    }

    /// Packs the changes into UPDATEs. Routes of a family the session
    /// cannot carry (not negotiated, or no next hop of that family) are
    /// left out and reported.
    pub fn encode(&self, changes: &Changes<RouteAttributes>) -> (Vec<Bytes>, Option<String>) {
        let v4_ok = self.families.contains(&fsm::Family::IPV4_UNICAST);
        let v6_ok = self.families.contains(&fsm::Family::IPV6_UNICAST);
        let send = &self.codec;
        let mut skipped: Option<String> = None;
        let mut messages = Vec::new();
        let mut record = |r: Result<Vec<Bytes>, wire::EncodeError>| match r {
            Ok(m) => messages.extend(m),
            Err(e) => skipped = Some(format!("cannot encode UPDATE: {e}")),
        };

        let (w4, w6) = split(changes.withdrawn.iter().copied());
        if v4_ok && !w4.is_empty() {
            record(pack::withdraw_ipv4(send, &w4));
        }
        if v6_ok && !w6.is_empty() {
            record(pack::withdraw_ipv6(send, &w6));
        }
        let mut missing = Vec::new();
        for (attrs, prefixes) in &changes.announced {
            let (a4, a6) = split(prefixes.iter().copied());
            if !a4.is_empty() {
                let via_ipv6 = self.ipv6_next_hop().filter(|_| self.extended_next_hop);
                match (v4_ok, self.next_hop_v4, via_ipv6) {
                    (true, Some(nh), _) => record(pack::announce_ipv4(
                        send,
                        &attrs.path_attributes(self.local_as, self.internal, Some(nh)),
                        &a4,
                    )),
                    (true, None, Some(nh)) => record(pack::announce_ipv4_via_ipv6(
                        send,
                        &attrs.path_attributes(self.local_as, self.internal, None),
                        &nh,
                        &a4,
                    )),
                    (false, _, _) => missing.push("IPv4 unicast was not negotiated"),
                    (true, None, None) => missing.push(
                        "no IPv4 next hop (set next_hop_v4, or negotiate an IPv6 one: RFC 8950)",
                    ),
                }
            }
            if !a6.is_empty() {
                match (v6_ok, self.ipv6_next_hop()) {
                    (true, Some(nh)) => record(pack::announce_ipv6(
                        send,
                        &attrs.path_attributes(self.local_as, self.internal, None),
                        &nh,
                        &a6,
                    )),
                    (false, _) => missing.push("IPv6 unicast was not negotiated"),
                    (true, None) => missing.push("no IPv6 next hop (set next_hop_v6)"),
                }
            }
        }
        missing.dedup();
        if !missing.is_empty() {
            skipped = Some(format!("routes not sent: {}", missing.join("; ")));
        }
        (messages, skipped)
    }

    /// End-of-RIB for every negotiated family (RFC 4724), owed after the
    /// first full table.
    pub fn end_of_rib(&self) -> Vec<Result<Bytes, wire::EncodeError>> {
        self.families
            .iter()
            .filter_map(|f| wire_family(*f))
            .map(|family| Message::Update(Update::end_of_rib(family)).to_bytes(&self.codec))
            .collect()
    }
}

fn wire_family(f: fsm::Family) -> Option<wire::Family> {
    match (f.afi, f.safi) {
        (1, 1) => Some(wire::Family::Ipv4Unicast),
        (2, 1) => Some(wire::Family::Ipv6Unicast),
        _ => None,
    }
}

fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

fn split(prefixes: impl Iterator<Item = IpNet>) -> (Vec<Nlri<Ipv4Net>>, Vec<Nlri<Ipv6Net>>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for p in prefixes {
        match p {
            IpNet::V4(p) => v4.push(Nlri {
                path_id: None,
                prefix: p,
            }),
            IpNet::V6(p) => v6.push(Nlri {
                path_id: None,
                prefix: p,
            }),
        }
    }
    (v4, v6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsm::PeerAs;
    use crate::wire::{BgpId, MpReach, NextHop, PathAttribute, decode_message};

    const LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x11);
    const GLOBAL: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x11);

    /// An unnumbered session: the connection runs between link-local
    /// addresses, both families negotiated.
    fn unnumbered(extended_next_hop: bool, next_hop_v6: Option<Ipv6Addr>) -> Outbound {
        let id = BgpId::new(1).expect("non-zero");
        let peer = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
        let mut config = PeerConfig::new("r", peer, 64512, id, PeerAs::Exact(64500));
        config.next_hop_v6 = next_hop_v6;
        let mut outbound = Outbound::new(
            &config,
            Codec::default(),
            IpAddr::V6(LL),
            false,
            vec![fsm::Family::IPV4_UNICAST, fsm::Family::IPV6_UNICAST],
        );
        outbound.extended_next_hop = extended_next_hop;
        outbound
    }

    fn announce(prefixes: &[&str]) -> Changes<RouteAttributes> {
        Changes {
            withdrawn: Vec::new(),
            announced: vec![(
                RouteAttributes::default(),
                prefixes
                    .iter()
                    .map(|p| p.parse().expect("prefix"))
                    .collect(),
            )],
        }
    }

    fn mp_reach(bytes: &Bytes) -> MpReach {
        let decoded = decode_message(bytes, &Codec::default()).expect("decodes");
        let Message::Update(update) = decoded.message else {
            panic!("not an UPDATE");
        };
        assert!(
            !update
                .attributes
                .iter()
                .any(|a| matches!(a, PathAttribute::NextHop(_))),
            "no IPv4 NEXT_HOP attribute: there is no IPv4 address to put in it"
        );
        update
            .attributes
            .into_iter()
            .find_map(|a| match a {
                PathAttribute::MpReach(r) => Some(r),
                _ => None,
            })
            .expect("MP_REACH_NLRI")
    }

    #[test]
    fn ipv4_routes_go_with_the_link_local_next_hop_once_negotiated() {
        let (messages, skipped) = unnumbered(true, None).encode(&announce(&["198.51.100.10/32"]));
        assert_eq!(skipped, None);
        assert_eq!(messages.len(), 1);
        let MpReach::Ipv4Unicast { next_hop, nlri } = mp_reach(&messages[0]) else {
            panic!("IPv4 unicast in MP_REACH_NLRI");
        };
        assert_eq!(
            next_hop,
            NextHop::V6(Ipv6NextHop {
                global: LL,
                link_local: None
            })
        );
        assert_eq!(nlri[0].prefix.to_string(), "198.51.100.10/32");
    }

    #[test]
    fn a_global_address_goes_first_with_the_link_local_one_after_it() {
        let (messages, _) = unnumbered(true, Some(GLOBAL)).encode(&announce(&["198.51.100.10/32"]));
        let MpReach::Ipv4Unicast { next_hop, .. } = mp_reach(&messages[0]) else {
            panic!("IPv4 unicast in MP_REACH_NLRI");
        };
        assert_eq!(
            next_hop,
            NextHop::V6(Ipv6NextHop {
                global: GLOBAL,
                link_local: Some(LL)
            })
        );
    }

    #[test]
    fn without_the_capability_ipv4_routes_are_held_back_and_said_so() {
        let (messages, skipped) = unnumbered(false, None).encode(&announce(&["198.51.100.10/32"]));
        assert!(messages.is_empty());
        assert!(skipped.is_some_and(|s| s.contains("RFC 8950")));
    }

    #[test]
    fn ipv6_routes_of_an_unnumbered_session_carry_the_link_local_next_hop() {
        let (messages, skipped) = unnumbered(true, None).encode(&announce(&["fd00:1::10/128"]));
        assert_eq!(skipped, None);
        let MpReach::Ipv6Unicast { next_hop, .. } = mp_reach(&messages[0]) else {
            panic!("IPv6 unicast in MP_REACH_NLRI");
        };
        assert_eq!(
            next_hop,
            Ipv6NextHop {
                global: LL,
                link_local: None
            }
        );
    }
}
