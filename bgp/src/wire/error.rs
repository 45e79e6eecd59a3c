//! Decode and encode errors. Every decode error knows where in the message it
//! was found and which NOTIFICATION it calls for (RFC 4271 §6), so the session
//! never has to guess a code.

use bytes::{BufMut, Bytes, BytesMut};
use nom::IResult;
use thiserror::Error;

use super::notification::{Notification, code, subcode};

/// What was wrong with a received message. The variant fixes the
/// NOTIFICATION code and subcode; the payload fixes its data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ErrorKind {
    /// The 16-byte marker is not all ones.
    #[error("marker is not all ones")]
    NotSynchronized,
    /// The header length is out of range for the message type.
    #[error("message length {length} is out of range for its type")]
    BadMessageLength {
        /// The offending length field.
        length: u16,
    },
    /// The header type is not one we know.
    #[error("unknown message type {message_type}")]
    BadMessageType {
        /// The offending type field.
        message_type: u8,
    },
    /// OPEN version other than 4.
    #[error("unsupported BGP version {version}")]
    UnsupportedVersion {
        /// The version the peer sent.
        version: u8,
    },
    /// The peer's AS is unacceptable (0, RFC 7607; or not the configured one).
    #[error("unacceptable peer AS {asn}")]
    BadPeerAs {
        /// The AS the peer sent.
        asn: u32,
    },
    /// The BGP identifier is 0 (RFC 6286) or otherwise unacceptable.
    #[error("bad BGP identifier {id:#010x}")]
    BadBgpId {
        /// The identifier the peer sent.
        id: u32,
    },
    /// An optional parameter type other than capabilities.
    #[error("unsupported optional parameter type {param_type}")]
    UnsupportedOptionalParameter {
        /// The parameter type the peer sent.
        param_type: u8,
    },
    /// Hold time 1 or 2 seconds (or refused by local policy).
    #[error("unacceptable hold time {hold_time}")]
    UnacceptableHoldTime {
        /// The hold time the peer sent.
        hold_time: u16,
    },
    /// The peer lacks a capability we require (RFC 5492 §3); data is the
    /// capabilities, encoded as in the OPEN.
    #[error("unsupported capability")]
    UnsupportedCapability {
        /// The missing capabilities, encoded.
        capabilities: Bytes,
    },
    /// An OPEN whose parameters or capabilities do not parse.
    #[error("malformed OPEN: {what}")]
    MalformedOpen {
        /// What did not parse.
        what: &'static str,
    },
    /// The UPDATE framing (withdrawn length, attribute length, attribute
    /// headers) is broken, or an MP_* attribute is repeated.
    #[error("malformed attribute list: {what}")]
    MalformedAttributeList {
        /// What was broken.
        what: &'static str,
    },
    /// A well-known attribute type we do not know.
    #[error("unrecognized well-known attribute {type_code}")]
    UnrecognizedWellKnown {
        /// The attribute's type code.
        type_code: u8,
        /// The whole attribute (flags, type, length, value).
        attribute: Bytes,
    },
    /// A mandatory well-known attribute is missing.
    #[error("missing well-known attribute {type_code}")]
    MissingWellKnown {
        /// The missing attribute's type code.
        type_code: u8,
    },
    /// The optional/transitive flags conflict with the attribute type.
    #[error("attribute {type_code} has flags {flags:#04x} that conflict with its type")]
    AttributeFlags {
        /// The attribute's type code.
        type_code: u8,
        /// The flags it carried.
        flags: u8,
        /// The whole attribute.
        attribute: Bytes,
    },
    /// The attribute length is wrong for the attribute type.
    #[error("attribute {type_code} has a bad length: {what}")]
    AttributeLength {
        /// The attribute's type code.
        type_code: u8,
        /// What was wrong.
        what: &'static str,
        /// The whole attribute.
        attribute: Bytes,
    },
    /// ORIGIN value other than IGP, EGP, INCOMPLETE.
    #[error("invalid ORIGIN value")]
    InvalidOrigin {
        /// The whole attribute.
        attribute: Bytes,
    },
    /// NEXT_HOP syntactically wrong.
    #[error("invalid NEXT_HOP")]
    InvalidNextHop {
        /// The whole attribute.
        attribute: Bytes,
    },
    /// A recognised optional attribute whose value does not parse.
    #[error("optional attribute {type_code} is malformed: {what}")]
    OptionalAttribute {
        /// The attribute's type code.
        type_code: u8,
        /// What was wrong.
        what: &'static str,
        /// The whole attribute.
        attribute: Bytes,
    },
    /// An NLRI or withdrawn-routes field that does not parse.
    #[error("invalid network field: {what}")]
    InvalidNetworkField {
        /// What was wrong.
        what: &'static str,
    },
    /// AS_PATH syntactically wrong.
    #[error("malformed AS_PATH: {what}")]
    MalformedAsPath {
        /// What was wrong.
        what: &'static str,
        /// The whole attribute.
        attribute: Bytes,
    },
    /// ROUTE-REFRESH too short, or a BoRR/EoRR whose length is not 23
    /// (RFC 7313 §5).
    #[error("ROUTE-REFRESH length {length} is invalid for its subtype")]
    RouteRefreshLength {
        /// The length field.
        length: u16,
        /// The whole message, sent back as NOTIFICATION data.
        message: Bytes,
    },
    /// Input ended early. Message decoders turn this into their own error
    /// class before it leaves the codec.
    #[error("message ends early")]
    Truncated,
}

impl ErrorKind {
    /// The NOTIFICATION this error calls for (RFC 4271 §6, RFC 5492, RFC 7313).
    pub fn notification(&self) -> Notification {
        use ErrorKind as K;
        let (c, s, data) = match self {
            K::NotSynchronized => (
                code::HEADER,
                subcode::header::NOT_SYNCHRONIZED,
                Bytes::new(),
            ),
            K::BadMessageLength { length } => (
                code::HEADER,
                subcode::header::BAD_LENGTH,
                Bytes::copy_from_slice(&length.to_be_bytes()),
            ),
            K::BadMessageType { message_type } => (
                code::HEADER,
                subcode::header::BAD_TYPE,
                Bytes::copy_from_slice(&[*message_type]),
            ),
            // Data: the largest version we support, 2 octets.
            K::UnsupportedVersion { .. } => (
                code::OPEN,
                subcode::open::UNSUPPORTED_VERSION,
                Bytes::from_static(&[0, 4]),
            ),
            K::BadPeerAs { .. } => (code::OPEN, subcode::open::BAD_PEER_AS, Bytes::new()),
            K::BadBgpId { .. } => (code::OPEN, subcode::open::BAD_BGP_ID, Bytes::new()),
            K::UnsupportedOptionalParameter { .. } => (
                code::OPEN,
                subcode::open::UNSUPPORTED_OPTIONAL_PARAMETER,
                Bytes::new(),
            ),
            K::UnacceptableHoldTime { .. } => (
                code::OPEN,
                subcode::open::UNACCEPTABLE_HOLD_TIME,
                Bytes::new(),
            ),
            K::UnsupportedCapability { capabilities } => (
                code::OPEN,
                subcode::open::UNSUPPORTED_CAPABILITY,
                capabilities.clone(),
            ),
            K::MalformedOpen { .. } => (code::OPEN, subcode::UNSPECIFIC, Bytes::new()),
            K::MalformedAttributeList { .. } => (
                code::UPDATE,
                subcode::update::MALFORMED_ATTRIBUTE_LIST,
                Bytes::new(),
            ),
            K::UnrecognizedWellKnown { attribute, .. } => (
                code::UPDATE,
                subcode::update::UNRECOGNIZED_WELL_KNOWN,
                attribute.clone(),
            ),
            K::MissingWellKnown { type_code } => (
                code::UPDATE,
                subcode::update::MISSING_WELL_KNOWN,
                Bytes::copy_from_slice(&[*type_code]),
            ),
            K::AttributeFlags { attribute, .. } => (
                code::UPDATE,
                subcode::update::ATTRIBUTE_FLAGS,
                attribute.clone(),
            ),
            K::AttributeLength { attribute, .. } => (
                code::UPDATE,
                subcode::update::ATTRIBUTE_LENGTH,
                attribute.clone(),
            ),
            K::InvalidOrigin { attribute } => (
                code::UPDATE,
                subcode::update::INVALID_ORIGIN,
                attribute.clone(),
            ),
            K::InvalidNextHop { attribute } => (
                code::UPDATE,
                subcode::update::INVALID_NEXT_HOP,
                attribute.clone(),
            ),
            K::OptionalAttribute { attribute, .. } => (
                code::UPDATE,
                subcode::update::OPTIONAL_ATTRIBUTE,
                attribute.clone(),
            ),
            K::InvalidNetworkField { .. } => (
                code::UPDATE,
                subcode::update::INVALID_NETWORK_FIELD,
                Bytes::new(),
            ),
            K::MalformedAsPath { .. } => (
                code::UPDATE,
                subcode::update::MALFORMED_AS_PATH,
                Bytes::new(),
            ),
            K::RouteRefreshLength { message, .. } => (
                code::ROUTE_REFRESH,
                subcode::route_refresh::INVALID_LENGTH,
                message.clone(),
            ),
            // Never leaves a message decoder; a header error is the closest.
            K::Truncated => (code::HEADER, subcode::UNSPECIFIC, Bytes::new()),
        };
        Notification::new(c, s, data)
    }
}

/// A message that could not be decoded: where, what, and the NOTIFICATION
/// to answer with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Byte offset of the fault from the first byte of the message (the
    /// marker).
    pub offset: usize,
    /// What was wrong.
    pub kind: ErrorKind,
}

impl DecodeError {
    /// The NOTIFICATION to send before closing the session.
    pub fn notification(&self) -> Notification {
        self.kind.notification()
    }
}

/// A value that cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// The message is larger than the session's maximum message size.
    #[error("message of {length} bytes exceeds the maximum of {max}")]
    MessageTooLong {
        /// The encoded size.
        length: usize,
        /// The session maximum.
        max: usize,
    },
    /// A field is longer than its length field can describe.
    #[error("{what} of {length} bytes does not fit its length field")]
    FieldTooLong {
        /// Which field.
        what: &'static str,
        /// Its encoded size.
        length: usize,
    },
}

/// The nom error type of the codec. It records where the fault is as the
/// address of the remaining input, because sub-parsers only see sub-slices
/// of the message; [`WireError::at_offset`] turns that into an offset from
/// the start of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError {
    addr: usize,
    pub(crate) kind: ErrorKind,
}

impl WireError {
    pub(crate) fn new(at: &[u8], kind: ErrorKind) -> Self {
        WireError {
            addr: at.as_ptr() as usize,
            kind,
        }
    }

    /// The offset of this error within `message`, which must be the slice
    /// every sub-parser was handed a piece of.
    pub(crate) fn at_offset(self, message: &[u8]) -> DecodeError {
        let base = message.as_ptr() as usize;
        DecodeError {
            offset: self.addr.saturating_sub(base).min(message.len()),
            kind: self.kind,
        }
    }

    /// Re-labels a bare truncation with the error class of the message
    /// being parsed.
    pub(crate) fn or_kind(mut self, kind: impl FnOnce() -> ErrorKind) -> Self {
        if self.kind == ErrorKind::Truncated {
            self.kind = kind();
        }
        self
    }
}

impl<'a> nom::error::ParseError<&'a [u8]> for WireError {
    fn from_error_kind(input: &'a [u8], _kind: nom::error::ErrorKind) -> Self {
        WireError::new(input, ErrorKind::Truncated)
    }

    fn append(_input: &'a [u8], _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// Result of a codec parser.
pub(crate) type PResult<'a, T> = IResult<&'a [u8], T, WireError>;

/// Fails a parser at `at` with `kind`, not to be retried by alternatives.
pub(crate) fn fail<'a, T>(at: &[u8], kind: ErrorKind) -> PResult<'a, T> {
    Err(nom::Err::Failure(WireError::new(at, kind)))
}

/// Unwraps a nom error into the codec's error.
pub(crate) fn into_wire(err: nom::Err<WireError>, at_end: &[u8]) -> WireError {
    match err {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => WireError::new(&at_end[at_end.len()..], ErrorKind::Truncated),
    }
}

/// Writes a big-endian u16 length at `pos`, checking it fits.
pub(crate) fn patch_len_u16(
    buf: &mut BytesMut,
    pos: usize,
    len: usize,
    what: &'static str,
) -> Result<(), EncodeError> {
    let value = u16::try_from(len).map_err(|_| EncodeError::FieldTooLong { what, length: len })?;
    buf[pos..pos + 2].copy_from_slice(&value.to_be_bytes());
    Ok(())
}

/// Writes a one-byte length-prefixed field.
pub(crate) fn put_len_u8(
    buf: &mut BytesMut,
    value: &[u8],
    what: &'static str,
) -> Result<(), EncodeError> {
    let len = u8::try_from(value.len()).map_err(|_| EncodeError::FieldTooLong {
        what,
        length: value.len(),
    })?;
    buf.put_u8(len);
    buf.put_slice(value);
    Ok(())
}
