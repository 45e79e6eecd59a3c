//! MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760) for IPv4 and IPv6 unicast.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, Bytes, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};
use nom::number::complete::{be_u8, be_u16};

use super::attribute::Malformed;
use super::codec::Codec;
use super::error::{ErrorKind, WireError};
use super::nlri::{Nlri, Prefix, parse_prefixes, put_prefixes};
use super::types::{Afi, Family, Safi};

/// Next hop of an IPv6 unicast route (RFC 2545): a global address, and a
/// link-local one when the peer shares a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6NextHop {
    /// Global address.
    pub global: Ipv6Addr,
    /// Link-local address, sent as the second 16 bytes.
    pub link_local: Option<Ipv6Addr>,
}

/// Next hop of an IPv4 unicast route in MP_REACH_NLRI: IPv4, or IPv6
/// (RFC 8950).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NextHop {
    /// 4-byte IPv4 next hop.
    V4(Ipv4Addr),
    /// 16- or 32-byte IPv6 next hop.
    V6(Ipv6NextHop),
}

/// MP_REACH_NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MpReach {
    /// IPv4 unicast routes.
    Ipv4Unicast {
        /// Next hop.
        next_hop: NextHop,
        /// Reachable prefixes.
        nlri: Vec<Nlri<Ipv4Net>>,
    },
    /// IPv6 unicast routes.
    Ipv6Unicast {
        /// Next hop.
        next_hop: Ipv6NextHop,
        /// Reachable prefixes.
        nlri: Vec<Nlri<Ipv6Net>>,
    },
    /// A family this codec does not interpret.
    Other {
        /// Address family.
        afi: Afi,
        /// Subsequent address family.
        safi: Safi,
        /// Everything after the SAFI octet, verbatim.
        value: Bytes,
    },
}

/// MP_UNREACH_NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MpUnreach {
    /// Withdrawn IPv4 unicast prefixes.
    Ipv4Unicast(Vec<Nlri<Ipv4Net>>),
    /// Withdrawn IPv6 unicast prefixes.
    Ipv6Unicast(Vec<Nlri<Ipv6Net>>),
    /// A family this codec does not interpret.
    Other {
        /// Address family.
        afi: Afi,
        /// Subsequent address family.
        safi: Safi,
        /// Withdrawn routes, verbatim.
        value: Bytes,
    },
}

fn nlri_error(e: nom::Err<WireError>) -> Malformed {
    match e {
        nom::Err::Error(WireError {
            kind: ErrorKind::InvalidNetworkField { what },
            ..
        })
        | nom::Err::Failure(WireError {
            kind: ErrorKind::InvalidNetworkField { what },
            ..
        }) => Malformed::Nlri(what),
        _ => Malformed::Nlri("NLRI truncated"),
    }
}

fn prefixes<P: Prefix>(input: &[u8], add_path: bool) -> Result<Vec<Nlri<P>>, Malformed> {
    parse_prefixes(input, add_path)
        .map(|(_, v)| v)
        .map_err(nlri_error)
}

fn afi_safi(value: &[u8]) -> Result<(&[u8], Afi, Safi), Malformed> {
    let truncated = |_| Malformed::Value("AFI/SAFI truncated");
    let (rest, afi) = be_u16::<_, WireError>(value).map_err(truncated)?;
    let (rest, safi) = be_u8::<_, WireError>(rest).map_err(truncated)?;
    Ok((rest, Afi(afi), Safi(safi)))
}

fn ipv6_next_hop(nh: &[u8]) -> Option<Ipv6NextHop> {
    let addr = |b: &[u8]| <[u8; 16]>::try_from(b).ok().map(Ipv6Addr::from);
    match nh.len() {
        16 => Some(Ipv6NextHop {
            global: addr(nh)?,
            link_local: None,
        }),
        32 => Some(Ipv6NextHop {
            global: addr(&nh[..16])?,
            link_local: Some(addr(&nh[16..])?),
        }),
        _ => None,
    }
}

impl Ipv6NextHop {
    /// Appends next hop length and address(es).
    pub(crate) fn put(&self, buf: &mut impl BufMut) {
        buf.put_u8(if self.link_local.is_some() { 32 } else { 16 });
        buf.put_slice(&self.global.octets());
        if let Some(ll) = self.link_local {
            buf.put_slice(&ll.octets());
        }
    }
}

impl MpReach {
    /// The family, if this codec understands it.
    pub fn family(&self) -> Option<Family> {
        match self {
            MpReach::Ipv4Unicast { .. } => Some(Family::Ipv4Unicast),
            MpReach::Ipv6Unicast { .. } => Some(Family::Ipv6Unicast),
            MpReach::Other { .. } => None,
        }
    }

    /// Whether it carries no prefixes.
    pub fn is_empty(&self) -> bool {
        match self {
            MpReach::Ipv4Unicast { nlri, .. } => nlri.is_empty(),
            MpReach::Ipv6Unicast { nlri, .. } => nlri.is_empty(),
            MpReach::Other { .. } => false,
        }
    }

    pub(crate) fn parse(value: &[u8], codec: &Codec) -> Result<MpReach, Malformed> {
        let (rest, afi, safi) = afi_safi(value)?;
        let Some(family) = Family::from_afi_safi(afi, safi) else {
            return Ok(MpReach::Other {
                afi,
                safi,
                value: Bytes::copy_from_slice(rest),
            });
        };
        let (rest, nh_len) = be_u8::<_, WireError>(rest).map_err(|_| Malformed::NextHopLength)?;
        let nh = rest
            .get(..usize::from(nh_len))
            .ok_or(Malformed::NextHopLength)?;
        // One reserved octet (RFC 4760 §3) between next hop and NLRI.
        let nlri = rest
            .get(usize::from(nh_len) + 1..)
            .ok_or(Malformed::NextHopLength)?;
        let add_path = codec.add_path.get(family);
        Ok(match family {
            Family::Ipv4Unicast => {
                let next_hop = match <[u8; 4]>::try_from(nh) {
                    Ok(v4) => NextHop::V4(Ipv4Addr::from(v4)),
                    Err(_) => NextHop::V6(ipv6_next_hop(nh).ok_or(Malformed::NextHopLength)?),
                };
                MpReach::Ipv4Unicast {
                    next_hop,
                    nlri: prefixes(nlri, add_path)?,
                }
            }
            Family::Ipv6Unicast => MpReach::Ipv6Unicast {
                next_hop: ipv6_next_hop(nh).ok_or(Malformed::NextHopLength)?,
                nlri: prefixes(nlri, add_path)?,
            },
        })
    }

    pub(crate) fn encode(&self, buf: &mut BytesMut, codec: &Codec) {
        let family = self.family();
        let (afi, safi) = match (self, family) {
            (MpReach::Other { afi, safi, .. }, _) => (*afi, *safi),
            (_, Some(f)) => f.afi_safi(),
            (_, None) => return,
        };
        buf.put_u16(afi.0);
        buf.put_u8(safi.0);
        let add_path = family.is_some_and(|f| codec.add_path.get(f));
        match self {
            MpReach::Ipv4Unicast { next_hop, nlri } => {
                match next_hop {
                    NextHop::V4(a) => {
                        buf.put_u8(4);
                        buf.put_slice(&a.octets());
                    }
                    NextHop::V6(v6) => v6.put(buf),
                }
                buf.put_u8(0);
                put_prefixes(buf, nlri, add_path);
            }
            MpReach::Ipv6Unicast { next_hop, nlri } => {
                next_hop.put(buf);
                buf.put_u8(0);
                put_prefixes(buf, nlri, add_path);
            }
            MpReach::Other { value, .. } => buf.put_slice(value),
        }
    }
}

impl MpUnreach {
    /// The family, if this codec understands it.
    pub fn family(&self) -> Option<Family> {
        match self {
            MpUnreach::Ipv4Unicast(_) => Some(Family::Ipv4Unicast),
            MpUnreach::Ipv6Unicast(_) => Some(Family::Ipv6Unicast),
            MpUnreach::Other { .. } => None,
        }
    }

    /// Whether it withdraws nothing (an End-of-RIB marker, RFC 4724 §2).
    pub fn is_empty(&self) -> bool {
        match self {
            MpUnreach::Ipv4Unicast(v) => v.is_empty(),
            MpUnreach::Ipv6Unicast(v) => v.is_empty(),
            MpUnreach::Other { value, .. } => value.is_empty(),
        }
    }

    pub(crate) fn parse(value: &[u8], codec: &Codec) -> Result<MpUnreach, Malformed> {
        let (rest, afi, safi) = afi_safi(value)?;
        Ok(match Family::from_afi_safi(afi, safi) {
            Some(Family::Ipv4Unicast) => {
                MpUnreach::Ipv4Unicast(prefixes(rest, codec.add_path.ipv4_unicast)?)
            }
            Some(Family::Ipv6Unicast) => {
                MpUnreach::Ipv6Unicast(prefixes(rest, codec.add_path.ipv6_unicast)?)
            }
            None => MpUnreach::Other {
                afi,
                safi,
                value: Bytes::copy_from_slice(rest),
            },
        })
    }

    pub(crate) fn encode(&self, buf: &mut BytesMut, codec: &Codec) {
        let (afi, safi) = match (self, self.family()) {
            (MpUnreach::Other { afi, safi, .. }, _) => (*afi, *safi),
            (_, Some(f)) => f.afi_safi(),
            (_, None) => return,
        };
        buf.put_u16(afi.0);
        buf.put_u8(safi.0);
        match self {
            MpUnreach::Ipv4Unicast(v) => put_prefixes(buf, v, codec.add_path.ipv4_unicast),
            MpUnreach::Ipv6Unicast(v) => put_prefixes(buf, v, codec.add_path.ipv6_unicast),
            MpUnreach::Other { value, .. } => buf.put_slice(value),
        }
    }
}
