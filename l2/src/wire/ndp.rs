//! ICMPv6 Neighbor Solicitation and Advertisement (RFC 4861 §4.3, §4.4),
//! validated as §7.1.1 and §7.1.2 require, with the link-layer address
//! options (§4.6.1).

use std::net::Ipv6Addr;

use super::checksum::{icmpv6_checksum, icmpv6_checksum_ok};
use super::cursor::Cursor;
use super::error::{ErrorKind, ParseError};
use super::ipv6::{Ipv6Header, is_solicited_node};
use super::mac::MacAddr;

/// ICMPv6 type of a Neighbor Solicitation.
pub const TYPE_NEIGHBOR_SOLICIT: u8 = 135;
/// ICMPv6 type of a Neighbor Advertisement.
pub const TYPE_NEIGHBOR_ADVERT: u8 = 136;
/// The hop limit every NDP message carries, proof it never crossed a router.
pub const NDP_HOP_LIMIT: u8 = 255;
/// Type, code, checksum, 4 bytes of flags or reserved, the target.
pub const NDP_MIN_LEN: usize = 24;
/// A link-layer address option for Ethernet: type, length (1 unit), MAC.
pub const LINK_LAYER_OPTION_LEN: usize = 8;

const OPTION_SOURCE_LINK_LAYER: u8 = 1;
const OPTION_TARGET_LINK_LAYER: u8 = 2;

const FLAG_ROUTER: u32 = 1 << 31;
const FLAG_SOLICITED: u32 = 1 << 30;
const FLAG_OVERRIDE: u32 = 1 << 29;

/// A Neighbor Solicitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NeighborSolicit {
    /// The address being resolved (or checked, in DAD).
    pub target: Ipv6Addr,
    /// The Source Link-Layer Address option (never in DAD).
    pub source_mac: Option<MacAddr>,
}

/// A Neighbor Advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NeighborAdvert {
    /// R: the sender is a router.
    pub router: bool,
    /// S: an answer to a solicitation (never set towards a multicast group).
    pub solicited: bool,
    /// O: receivers replace a cached link-layer address with this one.
    pub override_flag: bool,
    /// The address advertised.
    pub target: Ipv6Addr,
    /// The Target Link-Layer Address option.
    pub target_mac: Option<MacAddr>,
}

/// An NS or an NA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NdpMessage {
    /// Neighbor Solicitation.
    Solicit(NeighborSolicit),
    /// Neighbor Advertisement.
    Advert(NeighborAdvert),
}

impl NdpMessage {
    /// The target address.
    pub fn target(&self) -> Ipv6Addr {
        match self {
            NdpMessage::Solicit(ns) => ns.target,
            NdpMessage::Advert(na) => na.target,
        }
    }

    /// Length of the ICMPv6 message once written.
    pub fn len(&self) -> usize {
        let option = match self {
            NdpMessage::Solicit(ns) => ns.source_mac,
            NdpMessage::Advert(na) => na.target_mac,
        };
        NDP_MIN_LEN + option.map_or(0, |_| LINK_LAYER_OPTION_LEN)
    }

    /// Never empty: at least 24 bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the ICMPv6 message, checksum included, for the IPv6 header `ip`.
    pub fn write(&self, ip: &Ipv6Header, out: &mut Vec<u8>) {
        let start = out.len();
        let (icmp_type, word, option) = match self {
            NdpMessage::Solicit(ns) => (
                TYPE_NEIGHBOR_SOLICIT,
                0,
                ns.source_mac.map(|mac| (OPTION_SOURCE_LINK_LAYER, mac)),
            ),
            NdpMessage::Advert(na) => (
                TYPE_NEIGHBOR_ADVERT,
                flag(na.router, FLAG_ROUTER)
                    | flag(na.solicited, FLAG_SOLICITED)
                    | flag(na.override_flag, FLAG_OVERRIDE),
                na.target_mac.map(|mac| (OPTION_TARGET_LINK_LAYER, mac)),
            ),
        };
        out.extend_from_slice(&[icmp_type, 0, 0, 0]);
        out.extend_from_slice(&word.to_be_bytes());
        out.extend_from_slice(&self.target().octets());
        if let Some((option_type, mac)) = option {
            out.extend_from_slice(&[option_type, 1]);
            out.extend_from_slice(&mac.0);
        }
        let message = out.get(start..).unwrap_or_default();
        let checksum = icmpv6_checksum(ip.source, ip.destination, message);
        if let Some(field) = out.get_mut(start + 2..start + 4) {
            field.copy_from_slice(&checksum.to_be_bytes());
        }
    }
}

fn flag(set: bool, bit: u32) -> u32 {
    if set { bit } else { 0 }
}

/// Reads and validates the NS or NA in `cur`, which holds exactly the IPv6
/// payload of `ip`.
pub(crate) fn parse_ndp(ip: &Ipv6Header, cur: &mut Cursor<'_>) -> Result<NdpMessage, ParseError> {
    let start = *cur;
    let message = cur.remaining();
    let icmp_type = cur.u8("ICMPv6 type")?;
    if icmp_type != TYPE_NEIGHBOR_SOLICIT && icmp_type != TYPE_NEIGHBOR_ADVERT {
        return Err(start.error(ErrorKind::OtherIcmpv6Type { icmp_type }));
    }
    if ip.hop_limit != NDP_HOP_LIMIT {
        return Err(start.error(ErrorKind::HopLimit {
            hop_limit: ip.hop_limit,
        }));
    }
    let code = cur.u8("ICMPv6 code")?;
    if message.len() < NDP_MIN_LEN {
        return Err(start.error(ErrorKind::NdpLength {
            length: message.len(),
        }));
    }
    if !icmpv6_checksum_ok(ip.source, ip.destination, message) {
        let mut field = *cur;
        let found = field.u16("ICMPv6 checksum")?;
        let expected = icmpv6_checksum(ip.source, ip.destination, message);
        return Err(cur.error(ErrorKind::Checksum { found, expected }));
    }
    if code != 0 {
        return Err(start.error(ErrorKind::IcmpCode { code }));
    }
    cur.u16("ICMPv6 checksum")?;
    let word = cur.u32("NDP flags")?;
    let target_at = *cur;
    let target = Ipv6Addr::from(cur.array::<16>("NDP target")?);
    if target.is_multicast() {
        return Err(target_at.error(ErrorKind::MulticastTarget { target }));
    }
    let options = LinkLayerOptions::parse(cur)?;
    if icmp_type == TYPE_NEIGHBOR_SOLICIT {
        if ip.source.is_unspecified() {
            if !is_solicited_node(ip.destination) {
                return Err(ParseError::new(
                    start.offset(),
                    ErrorKind::DadNotToSolicitedNode {
                        destination: ip.destination,
                    },
                ));
            }
            if options.source.is_some() {
                return Err(ParseError::new(
                    options.source_at,
                    ErrorKind::DadWithSourceLinkLayer,
                ));
            }
        }
        Ok(NdpMessage::Solicit(NeighborSolicit {
            target,
            source_mac: options.source,
        }))
    } else {
        let solicited = word & FLAG_SOLICITED != 0;
        if solicited && ip.destination.is_multicast() {
            return Err(start.error(ErrorKind::SolicitedToMulticast));
        }
        Ok(NdpMessage::Advert(NeighborAdvert {
            router: word & FLAG_ROUTER != 0,
            solicited,
            override_flag: word & FLAG_OVERRIDE != 0,
            target,
            target_mac: options.target,
        }))
    }
}

/// The first Source and Target Link-Layer Address options; every other
/// option is skipped, as §4.6 asks for options a receiver does not know.
struct LinkLayerOptions {
    source: Option<MacAddr>,
    source_at: usize,
    target: Option<MacAddr>,
}

impl LinkLayerOptions {
    fn parse(cur: &mut Cursor<'_>) -> Result<Self, ParseError> {
        let mut found = LinkLayerOptions {
            source: None,
            source_at: 0,
            target: None,
        };
        while !cur.remaining().is_empty() {
            let at = *cur;
            let option_type = cur.u8("NDP option type")?;
            let units = cur.u8("NDP option length")?;
            if units == 0 {
                return Err(at.error(ErrorKind::ZeroLengthOption));
            }
            let length = usize::from(units) * 8;
            let mut body = at;
            let Ok(option) = body.take(length, "NDP option") else {
                return Err(at.error(ErrorKind::OptionOverrun {
                    length,
                    available: at.remaining().len(),
                }));
            };
            *cur = body;
            // Ethernet's option is one unit; a longer one (other link
            // layers) still starts with the 6 octets we can use.
            let Some(mac) = option.get(2..8).and_then(|m| <[u8; 6]>::try_from(m).ok()) else {
                continue;
            };
            match option_type {
                OPTION_SOURCE_LINK_LAYER if found.source.is_none() => {
                    found.source = Some(MacAddr(mac));
                    found.source_at = at.offset();
                }
                OPTION_TARGET_LINK_LAYER if found.target.is_none() => {
                    found.target = Some(MacAddr(mac));
                }
                _ => {}
            }
        }
        Ok(found)
    }
}
