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
    /// Global next hop of IPv6 routes; without one they are not sent.
    pub next_hop_v6: Option<Ipv6Addr>,
}

impl Outbound {
    /// For `session`, which came up on a connection from `local`.
    pub fn for_session(
        session: &NegotiatedSession,
        codec: Codec,
        local: IpAddr,
        config: &PeerConfig,
    ) -> Outbound {
        Outbound::new(
            config,
            codec,
            local,
            session.internal,
            session.families.clone(),
        )
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
                match (v4_ok, self.next_hop_v4) {
                    (true, Some(nh)) => record(pack::announce_ipv4(
                        send,
                        &attrs.path_attributes(self.local_as, self.internal, Some(nh)),
                        &a4,
                    )),
                    (false, _) => missing.push("IPv4 unicast was not negotiated"),
                    (true, None) => missing.push("no IPv4 next hop (set next_hop_v4)"),
                }
            }
            if !a6.is_empty() {
                match (v6_ok, self.next_hop_v6) {
                    (true, Some(global)) => {
                        let nh = Ipv6NextHop {
                            global,
                            link_local: None,
                        };
                        record(pack::announce_ipv6(
                            send,
                            &attrs.path_attributes(self.local_as, self.internal, None),
                            &nh,
                            &a6,
                        ))
                    }
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
