//! UPDATE (RFC 4271 §4.3): decoding with RFC 7606 outcomes, encoding, and
//! End-of-RIB markers (RFC 4724 §2).

use bytes::{BufMut, Bytes, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};
use nom::number::complete::be_u16;

use super::attribute::{PathAttribute, expected_flags, flags, parse_value, type_code as t};
use super::codec::Codec;
use super::error::{EncodeError, ErrorKind, PResult, WireError, fail, patch_len_u16};
use super::mp::{MpReach, MpUnreach};
use super::nlri::{Nlri, parse_prefixes, put_prefixes};
use super::rfc7606::{AttributeError, ErrorAction, UpdateOutcome, action_for, kind_for};
use super::types::Family;

/// An UPDATE message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Update {
    /// Withdrawn IPv4 unicast prefixes (the classic field).
    pub withdrawn: Vec<Nlri<Ipv4Net>>,
    /// Path attributes in wire order, MP_REACH/MP_UNREACH included.
    pub attributes: Vec<PathAttribute>,
    /// Announced IPv4 unicast prefixes (the classic field).
    pub nlri: Vec<Nlri<Ipv4Net>>,
}

/// A received UPDATE and what RFC 7606 says to do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedUpdate {
    /// The message, without attributes that were malformed or repeated.
    pub update: Update,
    /// How to apply it.
    pub outcome: UpdateOutcome,
}

/// Routes of one family an UPDATE changes, after RFC 7606 is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteChanges<P> {
    /// Prefixes announced with the UPDATE's attributes.
    pub announced: Vec<Nlri<P>>,
    /// Prefixes withdrawn.
    pub withdrawn: Vec<Nlri<P>>,
}

impl DecodedUpdate {
    /// IPv4 unicast changes: classic fields plus MP_* for IPv4. Under
    /// treat-as-withdraw every announced prefix moves to `withdrawn`.
    pub fn ipv4_unicast(&self) -> RouteChanges<Ipv4Net> {
        let mut announced = self.update.nlri.clone();
        let mut withdrawn = self.update.withdrawn.clone();
        for attr in &self.update.attributes {
            match attr {
                PathAttribute::MpReach(MpReach::Ipv4Unicast { nlri, .. }) => announced.extend(nlri),
                PathAttribute::MpUnreach(MpUnreach::Ipv4Unicast(v)) => withdrawn.extend(v),
                _ => {}
            }
        }
        self.apply_outcome(announced, withdrawn)
    }

    /// IPv6 unicast changes from MP_*; under treat-as-withdraw every
    /// announced prefix moves to `withdrawn`.
    pub fn ipv6_unicast(&self) -> RouteChanges<Ipv6Net> {
        let mut announced = Vec::new();
        let mut withdrawn = Vec::new();
        for attr in &self.update.attributes {
            match attr {
                PathAttribute::MpReach(MpReach::Ipv6Unicast { nlri, .. }) => announced.extend(nlri),
                PathAttribute::MpUnreach(MpUnreach::Ipv6Unicast(v)) => withdrawn.extend(v),
                _ => {}
            }
        }
        self.apply_outcome(announced, withdrawn)
    }

    fn apply_outcome<P>(
        &self,
        mut announced: Vec<Nlri<P>>,
        mut withdrawn: Vec<Nlri<P>>,
    ) -> RouteChanges<P> {
        if matches!(self.outcome, UpdateOutcome::TreatAsWithdraw(_)) {
            withdrawn.append(&mut announced);
        }
        RouteChanges {
            announced,
            withdrawn,
        }
    }
}

impl Update {
    /// The End-of-RIB marker of `family`: an empty UPDATE for IPv4 unicast,
    /// an empty MP_UNREACH_NLRI otherwise.
    pub fn end_of_rib(family: Family) -> Update {
        match family {
            Family::Ipv4Unicast => Update::default(),
            Family::Ipv6Unicast => Update {
                attributes: vec![PathAttribute::MpUnreach(MpUnreach::Ipv6Unicast(Vec::new()))],
                ..Update::default()
            },
        }
    }

    /// The family this UPDATE is the End-of-RIB marker of, if it is one.
    pub fn end_of_rib_family(&self) -> Option<Family> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        match self.attributes.as_slice() {
            [] => Some(Family::Ipv4Unicast),
            [PathAttribute::MpUnreach(m)] if m.is_empty() => m.family(),
            _ => None,
        }
    }

    /// Parses an UPDATE body. Framing faults fail with session-reset
    /// errors; attribute faults become the RFC 7606 outcome. `message` is
    /// the whole message, for offsets.
    pub(crate) fn parse<'a>(
        message: &'a [u8],
        body: &'a [u8],
        codec: &Codec,
    ) -> PResult<'a, DecodedUpdate> {
        let (rest, withdrawn_len) = be_u16(body)?;
        let Some(withdrawn) = rest.get(..usize::from(withdrawn_len)) else {
            return fail(
                body,
                ErrorKind::MalformedAttributeList {
                    what: "withdrawn routes length overruns the message",
                },
            );
        };
        let rest = &rest[withdrawn.len()..];
        let (_, withdrawn) = parse_prefixes(withdrawn, codec.add_path.ipv4_unicast)?;
        let attrs_len_field = rest;
        let (rest, attrs_len) = be_u16(rest).or_else(|_: nom::Err<WireError>| {
            fail(
                rest,
                ErrorKind::MalformedAttributeList {
                    what: "total path attribute length missing",
                },
            )
        })?;
        let Some(attrs) = rest.get(..usize::from(attrs_len)) else {
            return fail(
                attrs_len_field,
                ErrorKind::MalformedAttributeList {
                    what: "total path attribute length overruns the message",
                },
            );
        };
        let nlri_bytes = &rest[usize::from(attrs_len)..];
        let (attributes, mut errors, seen) = parse_attributes(message, attrs, codec)?;
        let (_, nlri) = parse_prefixes(nlri_bytes, codec.add_path.ipv4_unicast)?;

        let reach = attributes
            .iter()
            .any(|a| matches!(a, PathAttribute::MpReach(m) if !m.is_empty()));
        let mut mandatory = Vec::new();
        if !nlri.is_empty() || reach {
            mandatory.extend([t::ORIGIN, t::AS_PATH]);
        }
        if !nlri.is_empty() {
            mandatory.push(t::NEXT_HOP);
        }
        for code in mandatory {
            if !seen[usize::from(code)] {
                errors.push(AttributeError {
                    offset: offset_of(message, nlri_bytes),
                    type_code: code,
                    kind: ErrorKind::MissingWellKnown { type_code: code },
                    action: ErrorAction::TreatAsWithdraw,
                });
            }
        }
        let update = Update {
            withdrawn,
            attributes,
            nlri,
        };
        Ok((
            &nlri_bytes[nlri_bytes.len()..],
            DecodedUpdate {
                update,
                outcome: UpdateOutcome::from_errors(errors),
            },
        ))
    }

    /// Appends the UPDATE body.
    pub(crate) fn encode_body(&self, buf: &mut BytesMut, codec: &Codec) -> Result<(), EncodeError> {
        let at = buf.len();
        buf.put_u16(0);
        put_prefixes(buf, &self.withdrawn, codec.add_path.ipv4_unicast);
        patch_len_u16(buf, at, buf.len() - at - 2, "withdrawn routes")?;
        let at = buf.len();
        buf.put_u16(0);
        for attr in &self.attributes {
            attr.encode(buf, codec)?;
        }
        patch_len_u16(buf, at, buf.len() - at - 2, "path attributes")?;
        put_prefixes(buf, &self.nlri, codec.add_path.ipv4_unicast);
        Ok(())
    }
}

fn offset_of(message: &[u8], at: &[u8]) -> usize {
    (at.as_ptr() as usize).saturating_sub(message.as_ptr() as usize)
}

type Attributes = (Vec<PathAttribute>, Vec<AttributeError>, [bool; 256]);

/// Walks the attribute TLVs. Returns the good attributes, the non-fatal
/// errors, and which type codes appeared.
fn parse_attributes<'a>(
    message: &'a [u8],
    mut rest: &'a [u8],
    codec: &Codec,
) -> Result<Attributes, nom::Err<WireError>> {
    let mut attributes = Vec::new();
    let mut errors = Vec::new();
    let mut seen = [false; 256];
    while !rest.is_empty() {
        let start = rest;
        let Some((attr_flags, code, header_len, raw)) = attribute_tlv(rest) else {
            // RFC 7606 §4: an attribute running past the Total Attribute
            // Length costs the routes, not the session; that length still
            // locates the NLRI.
            let code = start.get(1).copied().unwrap_or(0);
            // Present, if broken: not also "missing".
            seen[usize::from(code)] = true;
            errors.push(AttributeError {
                offset: offset_of(message, start),
                type_code: code,
                kind: ErrorKind::AttributeLength {
                    type_code: code,
                    what: "attribute overruns the attribute list",
                    attribute: Bytes::copy_from_slice(start),
                },
                action: ErrorAction::TreatAsWithdraw,
            });
            break;
        };
        rest = &rest[raw.len()..];
        let value = &raw[header_len..];
        let attr_error = |kind, action| AttributeError {
            offset: offset_of(message, start),
            type_code: code,
            kind,
            action,
        };
        if std::mem::replace(&mut seen[usize::from(code)], true) {
            // RFC 7606 §3 g: repeats are discarded, except MP_* whose
            // repetition leaves the NLRI ambiguous.
            if matches!(code, t::MP_REACH_NLRI | t::MP_UNREACH_NLRI) {
                return Err(reset(start, "MP_REACH_NLRI or MP_UNREACH_NLRI repeated"));
            }
            errors.push(attr_error(
                ErrorKind::MalformedAttributeList {
                    what: "attribute repeated",
                },
                ErrorAction::AttributeDiscard,
            ));
            continue;
        }
        let parsed = match expected_flags(code) {
            Some(want) if attr_flags & (flags::OPTIONAL | flags::TRANSITIVE) != want => {
                Err(super::attribute::Malformed::Flags)
            }
            None if attr_flags & flags::OPTIONAL == 0 => {
                return Err(nom::Err::Failure(WireError::new(
                    start,
                    ErrorKind::UnrecognizedWellKnown {
                        type_code: code,
                        attribute: Bytes::copy_from_slice(raw),
                    },
                )));
            }
            _ => parse_value(attr_flags, code, value, codec),
        };
        match parsed {
            // RFC 6793 §4.1: between 4-octet speakers AS4_* are ignored.
            Ok(PathAttribute::As4Path(_) | PathAttribute::As4Aggregator(_))
                if codec.four_octet_as =>
            {
                errors.push(attr_error(
                    ErrorKind::OptionalAttribute {
                        type_code: code,
                        what: "AS4_* attribute between 4-octet AS speakers",
                        attribute: Bytes::copy_from_slice(raw),
                    },
                    ErrorAction::AttributeDiscard,
                ));
            }
            Ok(attr) => attributes.push(attr),
            Err(malformed) => {
                let kind = kind_for(code, attr_flags, Bytes::copy_from_slice(raw), malformed);
                match action_for(code) {
                    ErrorAction::SessionReset => {
                        return Err(nom::Err::Failure(WireError::new(start, kind)));
                    }
                    action => errors.push(attr_error(kind, action)),
                }
            }
        }
    }
    Ok((attributes, errors, seen))
}

fn reset(at: &[u8], what: &'static str) -> nom::Err<WireError> {
    nom::Err::Failure(WireError::new(
        at,
        ErrorKind::MalformedAttributeList { what },
    ))
}

/// Splits off one attribute: flags, type, header length and the whole
/// attribute, or `None` if its header or value runs past `input`.
fn attribute_tlv(input: &[u8]) -> Option<(u8, u8, usize, &[u8])> {
    let (header_len, len) = match input {
        [f, _, hi, lo, ..] if f & flags::EXTENDED_LENGTH != 0 => {
            (4, usize::from(u16::from_be_bytes([*hi, *lo])))
        }
        [f, _, len, ..] if f & flags::EXTENDED_LENGTH == 0 => (3, usize::from(*len)),
        _ => return None,
    };
    Some((
        input[0],
        input[1],
        header_len,
        input.get(..header_len + len)?,
    ))
}
