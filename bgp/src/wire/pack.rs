//! Packing routes into as few UPDATEs as the session allows (DESIGN.md
//! principle 4): one attribute set, many prefixes, each message filled up
//! to the negotiated maximum size and never past it.

use bytes::{BufMut, Bytes, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};

use super::attribute::{PathAttribute, flags, type_code};
use super::codec::Codec;
use super::error::EncodeError;
use super::header::{self, HEADER_LEN, MessageType};
use super::mp::Ipv6NextHop;
use super::nlri::{Nlri, Prefix, put_prefix};
use super::types::Family;

/// Where in the UPDATE the packed prefixes go.
enum Slot {
    /// Classic withdrawn routes field.
    Withdrawn,
    /// Classic NLRI field, after the attributes.
    Nlri,
    /// Inside an MP_REACH/MP_UNREACH attribute whose value starts with
    /// `lead` (AFI, SAFI and, for reach, next hop and reserved octet).
    Mp { code: u8, lead: Vec<u8> },
}

/// Attributes encoded once and shared by every message.
struct Fixed {
    /// Attributes sorted before the MP attribute (or all of them).
    before: Vec<u8>,
    /// Attributes sorted after the MP attribute.
    after: Vec<u8>,
}

impl Fixed {
    fn encode(
        attributes: &[PathAttribute],
        codec: &Codec,
        split_at: u8,
    ) -> Result<Self, EncodeError> {
        let mut before = BytesMut::new();
        let mut after = BytesMut::new();
        // The packer owns MP_REACH/MP_UNREACH: a second copy from the
        // caller would make the peer reset the session (RFC 7606 §3 g).
        let shared = attributes
            .iter()
            .filter(|a| !matches!(a, PathAttribute::MpReach(_) | PathAttribute::MpUnreach(_)));
        for attr in shared {
            // Type-code order, as RFC 4271 §5 recommends; the MP attribute
            // is slotted in at its own code.
            let out = if attr.type_code() < split_at {
                &mut before
            } else {
                &mut after
            };
            attr.encode(out, codec)?;
        }
        Ok(Fixed {
            before: before.to_vec(),
            after: after.to_vec(),
        })
    }

    fn len(&self) -> usize {
        self.before.len() + self.after.len()
    }
}

/// Size of a whole UPDATE carrying `n` bytes of encoded prefixes.
fn message_len(slot: &Slot, fixed: &Fixed, n: usize) -> usize {
    let base = HEADER_LEN + 2 + 2 + fixed.len();
    match slot {
        Slot::Withdrawn | Slot::Nlri => base + n,
        Slot::Mp { lead, .. } => {
            let value = lead.len() + n;
            let attr_header = if value > 255 { 4 } else { 3 };
            base + attr_header + value
        }
    }
}

fn put_message(
    buf: &mut BytesMut,
    slot: &Slot,
    fixed: &Fixed,
    items: &[u8],
    max: usize,
) -> Result<(), EncodeError> {
    let start = header::begin(buf, MessageType::Update);
    let put_u16 = |buf: &mut BytesMut, n: usize| -> Result<(), EncodeError> {
        let v = u16::try_from(n).map_err(|_| EncodeError::FieldTooLong {
            what: "UPDATE field",
            length: n,
        })?;
        buf.put_u16(v);
        Ok(())
    };
    match slot {
        Slot::Withdrawn => {
            put_u16(buf, items.len())?;
            buf.put_slice(items);
            put_u16(buf, fixed.len())?;
            buf.put_slice(&fixed.before);
            buf.put_slice(&fixed.after);
        }
        Slot::Nlri => {
            put_u16(buf, 0)?;
            put_u16(buf, fixed.len())?;
            buf.put_slice(&fixed.before);
            buf.put_slice(&fixed.after);
            buf.put_slice(items);
        }
        Slot::Mp { code, lead } => {
            put_u16(buf, 0)?;
            let attrs_at = buf.len();
            put_u16(buf, 0)?;
            buf.put_slice(&fixed.before);
            let value = lead.len() + items.len();
            match u8::try_from(value) {
                Ok(v) => {
                    buf.put_u8(flags::OPTIONAL);
                    buf.put_u8(*code);
                    buf.put_u8(v);
                }
                Err(_) => {
                    buf.put_u8(flags::OPTIONAL | flags::EXTENDED_LENGTH);
                    buf.put_u8(*code);
                    put_u16(buf, value)?;
                }
            }
            buf.put_slice(lead);
            buf.put_slice(items);
            buf.put_slice(&fixed.after);
            super::error::patch_len_u16(
                buf,
                attrs_at,
                buf.len() - attrs_at - 2,
                "path attributes",
            )?;
        }
    }
    header::finish(buf, start, max)
}

/// Greedy packing: each message takes as many of the remaining prefixes as
/// fit. With prefixes of one size this yields exactly ⌈N / fit⌉ messages.
fn pack<P: Prefix>(
    codec: &Codec,
    slot: Slot,
    fixed: Fixed,
    nlri: &[Nlri<P>],
    add_path: bool,
) -> Result<Vec<Bytes>, EncodeError> {
    let max = codec.max_message_len();
    let mut out = Vec::new();
    let mut items = BytesMut::new();
    let mut buf = BytesMut::new();
    for prefix in nlri {
        let before = items.len();
        put_prefix(&mut items, prefix, add_path);
        if message_len(&slot, &fixed, items.len()) <= max {
            continue;
        }
        let this = items.split_off(before);
        if items.is_empty() {
            return Err(EncodeError::MessageTooLong {
                length: message_len(&slot, &fixed, this.len()),
                max,
            });
        }
        put_message(&mut buf, &slot, &fixed, &items, max)?;
        out.push(buf.split().freeze());
        items = this;
    }
    if !items.is_empty() {
        put_message(&mut buf, &slot, &fixed, &items, max)?;
        out.push(buf.split().freeze());
    }
    Ok(out)
}

fn mp_lead(family: Family, next_hop: Option<&Ipv6NextHop>) -> Vec<u8> {
    let (afi, safi) = family.afi_safi();
    let mut lead = Vec::with_capacity(37);
    lead.put_u16(afi.0);
    lead.put_u8(safi.0);
    if let Some(nh) = next_hop {
        nh.put(&mut lead);
        lead.put_u8(0);
    }
    lead
}

/// UPDATEs announcing IPv4 prefixes in the classic NLRI field, all with
/// `attributes` (which should hold ORIGIN, AS_PATH and NEXT_HOP; MP_*
/// attributes are left out).
pub fn announce_ipv4(
    codec: &Codec,
    attributes: &[PathAttribute],
    nlri: &[Nlri<Ipv4Net>],
) -> Result<Vec<Bytes>, EncodeError> {
    let fixed = Fixed::encode(attributes, codec, u8::MAX)?;
    pack(codec, Slot::Nlri, fixed, nlri, codec.add_path.ipv4_unicast)
}

/// UPDATEs announcing IPv4 prefixes in MP_REACH_NLRI with an IPv6
/// `next_hop` (RFC 8950), all with `attributes` (ORIGIN and AS_PATH, no
/// NEXT_HOP: MP_* attributes are left out, the packer writes its own). For
/// a peer that negotiated the extended next hop capability for IPv4
/// unicast, as unnumbered sessions do.
pub fn announce_ipv4_via_ipv6(
    codec: &Codec,
    attributes: &[PathAttribute],
    next_hop: &Ipv6NextHop,
    nlri: &[Nlri<Ipv4Net>],
) -> Result<Vec<Bytes>, EncodeError> {
    let fixed = Fixed::encode(attributes, codec, type_code::MP_REACH_NLRI)?;
    let slot = Slot::Mp {
        code: type_code::MP_REACH_NLRI,
        lead: mp_lead(Family::Ipv4Unicast, Some(next_hop)),
    };
    pack(codec, slot, fixed, nlri, codec.add_path.ipv4_unicast)
}

/// UPDATEs withdrawing IPv4 prefixes in the classic withdrawn field.
pub fn withdraw_ipv4(codec: &Codec, nlri: &[Nlri<Ipv4Net>]) -> Result<Vec<Bytes>, EncodeError> {
    let fixed = Fixed::encode(&[], codec, u8::MAX)?;
    pack(
        codec,
        Slot::Withdrawn,
        fixed,
        nlri,
        codec.add_path.ipv4_unicast,
    )
}

/// UPDATEs announcing IPv6 prefixes in MP_REACH_NLRI with `next_hop`, all
/// with `attributes` (ORIGIN and AS_PATH; MP_* attributes are left out,
/// the packer writes its own).
pub fn announce_ipv6(
    codec: &Codec,
    attributes: &[PathAttribute],
    next_hop: &Ipv6NextHop,
    nlri: &[Nlri<Ipv6Net>],
) -> Result<Vec<Bytes>, EncodeError> {
    let fixed = Fixed::encode(attributes, codec, type_code::MP_REACH_NLRI)?;
    let slot = Slot::Mp {
        code: type_code::MP_REACH_NLRI,
        lead: mp_lead(Family::Ipv6Unicast, Some(next_hop)),
    };
    pack(codec, slot, fixed, nlri, codec.add_path.ipv6_unicast)
}

/// UPDATEs withdrawing IPv6 prefixes in MP_UNREACH_NLRI.
pub fn withdraw_ipv6(codec: &Codec, nlri: &[Nlri<Ipv6Net>]) -> Result<Vec<Bytes>, EncodeError> {
    let fixed = Fixed::encode(&[], codec, u8::MAX)?;
    let slot = Slot::Mp {
        code: type_code::MP_UNREACH_NLRI,
        lead: mp_lead(Family::Ipv6Unicast, None),
    };
    pack(codec, slot, fixed, nlri, codec.add_path.ipv6_unicast)
}
