//! Capabilities advertised in OPEN (RFC 5492) and their values.

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32};

use super::error::{EncodeError, ErrorKind, PResult, fail, put_len_u8};
use super::records::records;
use super::types::{Afi, Asn, Safi};

/// Capability codes (IANA).
pub mod code {
    /// Multiprotocol extensions (RFC 4760).
    pub const MULTIPROTOCOL: u8 = 1;
    /// Route refresh (RFC 2918).
    pub const ROUTE_REFRESH: u8 = 2;
    /// Extended next hop encoding (RFC 8950).
    pub const EXTENDED_NEXT_HOP: u8 = 5;
    /// Extended message (RFC 8654).
    pub const EXTENDED_MESSAGE: u8 = 6;
    /// Graceful restart (RFC 4724).
    pub const GRACEFUL_RESTART: u8 = 64;
    /// 4-octet AS number (RFC 6793).
    pub const FOUR_OCTET_AS: u8 = 65;
    /// ADD-PATH (RFC 7911).
    pub const ADD_PATH: u8 = 69;
    /// Enhanced route refresh (RFC 7313).
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
}

/// One capability.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Willing to exchange routes of this AFI/SAFI.
    MultiProtocol {
        /// Address family.
        afi: Afi,
        /// Subsequent address family.
        safi: Safi,
    },
    /// Understands ROUTE-REFRESH.
    RouteRefresh,
    /// Understands RFC 7313 enhanced route refresh.
    EnhancedRouteRefresh,
    /// Accepts messages up to 65535 bytes.
    ExtendedMessage,
    /// Graceful restart parameters.
    GracefulRestart(GracefulRestart),
    /// Speaks 4-octet AS numbers; carries the speaker's real AS.
    FourOctetAs(Asn),
    /// Path identifiers per family and direction.
    AddPath(Vec<AddPathFamily>),
    /// RFC 8950: routes of these families may carry a next hop of another
    /// address family (IPv4 unicast with an IPv6 next hop, for unnumbered
    /// peering).
    ExtendedNextHop(Vec<ExtendedNextHopFamily>),
    /// A capability this codec does not interpret, kept verbatim.
    Unknown {
        /// Capability code.
        code: u8,
        /// Capability value.
        value: Bytes,
    },
}

/// RFC 4724 graceful restart capability.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GracefulRestart {
    /// R bit: the sender has restarted.
    pub restart_state: bool,
    /// N bit: the sender supports RFC 8538 graceful notification.
    pub notification: bool,
    /// Seconds the peer should keep our routes after the session drops
    /// (12 bits; larger values are cut to 4095 on encode).
    pub restart_time: u16,
    /// Families for which restart is supported.
    pub families: Vec<GracefulRestartFamily>,
}

/// One family in the graceful restart capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GracefulRestartFamily {
    /// Address family.
    pub afi: Afi,
    /// Subsequent address family.
    pub safi: Safi,
    /// F bit: forwarding state was preserved across the restart.
    pub forwarding_state: bool,
}

/// One entry of the extended next hop capability (RFC 8950 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtendedNextHopFamily {
    /// NLRI address family (two octets here, unlike elsewhere).
    pub afi: Afi,
    /// NLRI subsequent address family, carried in two octets.
    pub safi: u16,
    /// The address family of the next hop.
    pub next_hop_afi: Afi,
}

/// The entry unnumbered peering needs: IPv4 unicast routes with an IPv6
/// next hop.
pub const IPV4_UNICAST_IPV6_NEXT_HOP: ExtendedNextHopFamily = ExtendedNextHopFamily {
    afi: Afi(1),
    safi: 1,
    next_hop_afi: Afi(2),
};

/// Direction of ADD-PATH for one family (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddPathMode {
    /// Able to receive multiple paths.
    Receive = 1,
    /// Able to send multiple paths.
    Send = 2,
    /// Both.
    Both = 3,
}

impl AddPathMode {
    /// Whether this mode includes receiving.
    pub fn receives(self) -> bool {
        matches!(self, AddPathMode::Receive | AddPathMode::Both)
    }

    /// Whether this mode includes sending.
    pub fn sends(self) -> bool {
        matches!(self, AddPathMode::Send | AddPathMode::Both)
    }
}

/// One family in the ADD-PATH capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddPathFamily {
    /// Address family.
    pub afi: Afi,
    /// Subsequent address family.
    pub safi: Safi,
    /// Send, receive or both.
    pub mode: AddPathMode,
}

const GR_RESTART_STATE: u16 = 0x8000;
const GR_NOTIFICATION: u16 = 0x4000;
const GR_TIME_MASK: u16 = 0x0fff;
const GR_FORWARDING: u8 = 0x80;

fn malformed<'a, T>(at: &[u8], what: &'static str) -> PResult<'a, T> {
    fail(at, ErrorKind::MalformedOpen { what })
}

/// Parses a sequence of capabilities filling all of `input` (the value of
/// one optional parameter).
pub(crate) fn parse_capabilities(mut input: &[u8]) -> PResult<'_, Vec<Capability>> {
    let mut caps = Vec::new();
    while !input.is_empty() {
        let (rest, cap_code) = be_u8(input)?;
        let (rest, len) = be_u8(rest)?;
        let Some(value) = rest.get(..usize::from(len)) else {
            return malformed(input, "capability length exceeds its parameter");
        };
        caps.push(parse_capability(cap_code, value)?.1);
        input = &rest[usize::from(len)..];
    }
    Ok((input, caps))
}

fn parse_capability(cap_code: u8, value: &[u8]) -> PResult<'_, Capability> {
    let exact = |want: usize| -> Result<(), nom::Err<_>> {
        if value.len() == want {
            Ok(())
        } else {
            malformed::<()>(value, "capability has the wrong length").map(|_| ())
        }
    };
    let cap = match cap_code {
        code::MULTIPROTOCOL => {
            exact(4)?;
            let (rest, afi) = be_u16(value)?;
            let (rest, _reserved) = be_u8(rest)?;
            let (_, safi) = be_u8(rest)?;
            Capability::MultiProtocol {
                afi: Afi(afi),
                safi: Safi(safi),
            }
        }
        code::ROUTE_REFRESH => {
            exact(0)?;
            Capability::RouteRefresh
        }
        code::ENHANCED_ROUTE_REFRESH => {
            exact(0)?;
            Capability::EnhancedRouteRefresh
        }
        code::EXTENDED_MESSAGE => {
            exact(0)?;
            Capability::ExtendedMessage
        }
        code::FOUR_OCTET_AS => {
            exact(4)?;
            let (_, asn) = be_u32(value)?;
            if asn == 0 {
                return fail(value, ErrorKind::BadPeerAs { asn });
            }
            Capability::FourOctetAs(Asn(asn))
        }
        code::GRACEFUL_RESTART => parse_graceful_restart(value)?.1,
        code::ADD_PATH => parse_add_path(value),
        code::EXTENDED_NEXT_HOP => parse_extended_next_hop(value),
        _ => Capability::Unknown {
            code: cap_code,
            value: Bytes::copy_from_slice(value),
        },
    };
    Ok((&value[value.len()..], cap))
}

fn parse_graceful_restart(value: &[u8]) -> PResult<'_, Capability> {
    if value.len() < 2 || !(value.len() - 2).is_multiple_of(4) {
        return malformed(value, "graceful restart capability has the wrong length");
    }
    let (mut rest, flags_time) = be_u16(value)?;
    let mut families = Vec::new();
    while !rest.is_empty() {
        let (r, afi) = be_u16(rest)?;
        let (r, safi) = be_u8(r)?;
        let (r, flags) = be_u8(r)?;
        families.push(GracefulRestartFamily {
            afi: Afi(afi),
            safi: Safi(safi),
            forwarding_state: flags & GR_FORWARDING != 0,
        });
        rest = r;
    }
    let gr = GracefulRestart {
        restart_state: flags_time & GR_RESTART_STATE != 0,
        notification: flags_time & GR_NOTIFICATION != 0,
        restart_time: flags_time & GR_TIME_MASK,
        families,
    };
    Ok((rest, Capability::GracefulRestart(gr)))
}

/// Parses ADD-PATH. A value RFC 7911 §4 does not define makes the
/// capability "not understood and ignored": it is kept as unknown, which
/// negotiation ignores, rather than refused.
fn parse_add_path(value: &[u8]) -> Capability {
    let families: Option<Vec<AddPathFamily>> = records::<4>(value).and_then(|records| {
        records
            .map(|[afi_hi, afi_lo, safi, mode]| {
                let mode = match mode {
                    1 => AddPathMode::Receive,
                    2 => AddPathMode::Send,
                    3 => AddPathMode::Both,
                    _ => return None,
                };
                Some(AddPathFamily {
                    afi: Afi(u16::from_be_bytes([afi_hi, afi_lo])),
                    safi: Safi(safi),
                    mode,
                })
            })
            .collect()
    });
    match families {
        Some(families) => Capability::AddPath(families),
        None => Capability::Unknown {
            code: code::ADD_PATH,
            value: Bytes::copy_from_slice(value),
        },
    }
}

/// Parses the extended next hop capability: 6-octet entries (NLRI AFI,
/// NLRI SAFI, next hop AFI). RFC 8950 says nothing of a malformed value:
/// like ADD-PATH, a value that is not whole entries is kept as unknown,
/// so the capability is not negotiated rather than the session refused.
fn parse_extended_next_hop(value: &[u8]) -> Capability {
    match records::<6>(value) {
        Some(entries) => Capability::ExtendedNextHop(
            entries
                .map(|[a, b, c, d, e, f]| ExtendedNextHopFamily {
                    afi: Afi(u16::from_be_bytes([a, b])),
                    safi: u16::from_be_bytes([c, d]),
                    next_hop_afi: Afi(u16::from_be_bytes([e, f])),
                })
                .collect(),
        ),
        None => Capability::Unknown {
            code: code::EXTENDED_NEXT_HOP,
            value: Bytes::copy_from_slice(value),
        },
    }
}

impl Capability {
    /// The capability code.
    pub fn code(&self) -> u8 {
        match self {
            Capability::MultiProtocol { .. } => code::MULTIPROTOCOL,
            Capability::RouteRefresh => code::ROUTE_REFRESH,
            Capability::EnhancedRouteRefresh => code::ENHANCED_ROUTE_REFRESH,
            Capability::ExtendedMessage => code::EXTENDED_MESSAGE,
            Capability::GracefulRestart(_) => code::GRACEFUL_RESTART,
            Capability::FourOctetAs(_) => code::FOUR_OCTET_AS,
            Capability::AddPath(_) => code::ADD_PATH,
            Capability::ExtendedNextHop(_) => code::EXTENDED_NEXT_HOP,
            Capability::Unknown { code, .. } => *code,
        }
    }

    /// Appends code, length and value.
    pub(crate) fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let mut value = BytesMut::new();
        match self {
            Capability::MultiProtocol { afi, safi } => {
                value.put_u16(afi.0);
                value.put_u8(0);
                value.put_u8(safi.0);
            }
            Capability::RouteRefresh
            | Capability::EnhancedRouteRefresh
            | Capability::ExtendedMessage => {}
            Capability::GracefulRestart(gr) => {
                let mut flags_time = gr.restart_time.min(GR_TIME_MASK);
                if gr.restart_state {
                    flags_time |= GR_RESTART_STATE;
                }
                if gr.notification {
                    flags_time |= GR_NOTIFICATION;
                }
                value.put_u16(flags_time);
                for f in &gr.families {
                    value.put_u16(f.afi.0);
                    value.put_u8(f.safi.0);
                    value.put_u8(if f.forwarding_state { GR_FORWARDING } else { 0 });
                }
            }
            Capability::FourOctetAs(asn) => value.put_u32(asn.0),
            Capability::AddPath(families) => {
                for f in families {
                    value.put_u16(f.afi.0);
                    value.put_u8(f.safi.0);
                    value.put_u8(f.mode as u8);
                }
            }
            Capability::ExtendedNextHop(entries) => {
                for e in entries {
                    value.put_u16(e.afi.0);
                    value.put_u16(e.safi);
                    value.put_u16(e.next_hop_afi.0);
                }
            }
            Capability::Unknown { value: v, .. } => value.put_slice(v),
        }
        buf.put_u8(self.code());
        put_len_u8(buf, &value, "capability value")
    }
}
