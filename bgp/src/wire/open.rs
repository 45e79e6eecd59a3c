//! OPEN (RFC 4271 §4.2) with RFC 9072 extended optional parameters.

use bytes::{BufMut, BytesMut};
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16, be_u32};

use super::capability::{Capability, parse_capabilities};
use super::error::{EncodeError, ErrorKind, PResult, fail, patch_len_u16};
use super::types::{Asn, BgpId, HoldTime};

/// The only BGP version.
pub const BGP_VERSION: u8 = 4;
const PARAM_CAPABILITIES: u8 = 2;
/// RFC 9072: this value in the first parameter-type position announces
/// extended (2-octet) parameter lengths.
const EXTENDED_PARAMS: u8 = 255;

/// An OPEN message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Open {
    /// The 2-octet "My Autonomous System" field: the AS, or AS_TRANS when it
    /// does not fit (the real AS is then in the 4-octet AS capability).
    pub my_as: u16,
    /// Proposed hold time.
    pub hold_time: HoldTime,
    /// Sender's BGP identifier.
    pub bgp_id: BgpId,
    /// Capabilities, flattened across optional parameters.
    pub capabilities: Vec<Capability>,
}

impl Open {
    /// An OPEN for `asn`, filling the 2-octet field with AS_TRANS when the
    /// AS needs 4 octets. Callers add [`Capability::FourOctetAs`] themselves.
    pub fn new(
        asn: Asn,
        hold_time: HoldTime,
        bgp_id: BgpId,
        capabilities: Vec<Capability>,
    ) -> Self {
        Open {
            my_as: asn.to_u16_or_trans(),
            hold_time,
            bgp_id,
            capabilities,
        }
    }

    /// The sender's AS: from the 4-octet AS capability if present (RFC 6793
    /// §4.1), else the 2-octet field.
    pub fn asn(&self) -> Asn {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(Asn(u32::from(self.my_as)))
    }

    /// Parses an OPEN body (after the header).
    pub(crate) fn parse(input: &[u8]) -> PResult<'_, Open> {
        let (rest, version) = be_u8(input)?;
        if version != BGP_VERSION {
            return fail(input, ErrorKind::UnsupportedVersion { version });
        }
        let (after_as, my_as) = be_u16(rest)?;
        if my_as == 0 {
            return fail(rest, ErrorKind::BadPeerAs { asn: 0 });
        }
        let (after_hold, hold) = be_u16(after_as)?;
        let Some(hold_time) = HoldTime::new(hold) else {
            return fail(
                after_as,
                ErrorKind::UnacceptableHoldTime { hold_time: hold },
            );
        };
        let (after_id, id) = be_u32(after_hold)?;
        let Some(bgp_id) = BgpId::new(id) else {
            return fail(after_hold, ErrorKind::BadBgpId { id });
        };
        let (rest, capabilities) = parse_parameters(after_id)?;
        Ok((
            rest,
            Open {
                my_as,
                hold_time,
                bgp_id,
                capabilities,
            },
        ))
    }

    /// Appends the OPEN body. Uses the RFC 9072 extended format only when
    /// the parameters do not fit in 255 bytes, so ordinary peers never see
    /// it.
    pub(crate) fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_u8(BGP_VERSION);
        buf.put_u16(self.my_as);
        buf.put_u16(self.hold_time.seconds());
        buf.put_u32(self.bgp_id.get());
        let mut caps = Vec::with_capacity(self.capabilities.len());
        for cap in &self.capabilities {
            let mut one = BytesMut::new();
            cap.encode(&mut one)?;
            caps.push(one);
        }
        // One capability per optional parameter: what most speakers send.
        let short_len: usize = caps.iter().map(|c| 2 + c.len()).sum();
        if short_len <= usize::from(u8::MAX) && caps.iter().all(|c| c.len() <= 255) {
            buf.put_u8(short_len as u8);
            for cap in &caps {
                buf.put_u8(PARAM_CAPABILITIES);
                buf.put_u8(cap.len() as u8);
                buf.put_slice(cap);
            }
        } else {
            buf.put_u8(EXTENDED_PARAMS);
            buf.put_u8(EXTENDED_PARAMS);
            let len_at = buf.len();
            buf.put_u16(0);
            for cap in &caps {
                buf.put_u8(PARAM_CAPABILITIES);
                buf.put_u16(cap.len() as u16);
                buf.put_slice(cap);
            }
            patch_len_u16(buf, len_at, buf.len() - len_at - 2, "optional parameters")?;
        }
        Ok(())
    }
}

/// Parses the optional parameters from the length octet on; they must fill
/// the rest of the message exactly.
fn parse_parameters(input: &[u8]) -> PResult<'_, Vec<Capability>> {
    let (rest, short_len) = be_u8(input)?;
    let extended = short_len != 0 && rest.first() == Some(&EXTENDED_PARAMS);
    let (rest, params_len, len_bytes) = if extended {
        let (rest, _) = be_u8(rest)?;
        let (rest, len) = be_u16(rest)?;
        (rest, usize::from(len), 2)
    } else {
        (rest, usize::from(short_len), 1)
    };
    if params_len != rest.len() {
        return fail(
            input,
            ErrorKind::MalformedOpen {
                what: "optional parameters length does not match the message length",
            },
        );
    }
    let mut params = rest;
    let mut capabilities = Vec::new();
    while !params.is_empty() {
        let (r, param_type) = be_u8(params)?;
        let (r, len) = if len_bytes == 2 {
            be_u16(r)?
        } else {
            let (r, len) = be_u8(r)?;
            (r, u16::from(len))
        };
        let Ok((r, value)) = take::<_, _, super::error::WireError>(len)(r) else {
            return fail(
                params,
                ErrorKind::MalformedOpen {
                    what: "optional parameter overruns the parameters length",
                },
            );
        };
        if param_type != PARAM_CAPABILITIES {
            return fail(
                params,
                ErrorKind::UnsupportedOptionalParameter { param_type },
            );
        }
        capabilities.extend(parse_capabilities(value)?.1);
        params = r;
    }
    Ok((params, capabilities))
}
