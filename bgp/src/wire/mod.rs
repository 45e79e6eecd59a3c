//! The BGP-4 message codec: bytes to typed messages and back.
//!
//! Decoding depends on what the session negotiated, so every call takes a
//! [`Codec`]. Every decode error carries its byte offset and the
//! NOTIFICATION to send ([`DecodeError::notification`]); a malformed UPDATE
//! attribute that RFC 7606 lets the session survive comes back as an
//! [`UpdateOutcome`] instead.
//!
//! Parsing uses nom with the codec's own error type; encoding writes into a
//! [`BytesMut`]. No input can make the decoder panic, and every allocation
//! is bounded by the bytes received.

mod as4;
mod as_path;
mod attribute;
mod capability;
mod codec;
mod community;
mod error;
mod header;
mod mp;
mod negotiate;
mod nlri;
mod notification;
mod open;
pub mod pack;
mod records;
mod rfc7606;
mod route_refresh;
mod types;
mod update;

use bytes::{Bytes, BytesMut};

pub use as_path::{AsPath, Segment, SegmentType};
pub use as4::add_as4_attributes;
pub use attribute::{Aggregator, PathAttribute, RawAttribute, flags as attribute_flags, type_code};
pub use capability::{
    AddPathFamily, AddPathMode, Capability, ExtendedNextHopFamily, GracefulRestart,
    GracefulRestartFamily, IPV4_UNICAST_IPV6_NEXT_HOP, code as capability_code,
};
pub use codec::{AddPath, Codec, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};
pub use community::{Community, ExtendedCommunity, LargeCommunity};
pub use error::{DecodeError, EncodeError, ErrorKind};
pub use header::{HEADER_LEN, Header, MessageType, frame_len, take_frame};
pub use mp::{Ipv6NextHop, MpReach, MpUnreach, NextHop};
pub use negotiate::{Negotiated, negotiate};
pub use nlri::{Nlri, Prefix};
pub use notification::{
    MAX_SHUTDOWN_COMMUNICATION, Notification, ShutdownCommunicationError, code, subcode,
};
pub use open::{BGP_VERSION, Open};
pub use rfc7606::{AttributeError, ErrorAction, UpdateOutcome};
pub use route_refresh::{RefreshSubtype, RouteRefresh};
pub use types::{Afi, Asn, BgpId, Family, HoldTime, Origin, Safi};
pub use update::{DecodedUpdate, RouteChanges, Update};

use error::{WireError, into_wire};
use header::parse_header;

/// A BGP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// OPEN.
    Open(Open),
    /// UPDATE.
    Update(Update),
    /// NOTIFICATION.
    Notification(Notification),
    /// KEEPALIVE.
    Keepalive,
    /// ROUTE-REFRESH.
    RouteRefresh(RouteRefresh),
}

/// A decoded message, with the RFC 7606 outcome when it is an UPDATE
/// ([`UpdateOutcome::Clean`] otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The message.
    pub message: Message,
    /// How to apply it, for an UPDATE.
    pub outcome: UpdateOutcome,
}

impl Decoded {
    /// The UPDATE with its outcome, ready for
    /// [`DecodedUpdate::ipv4_unicast`] / [`DecodedUpdate::ipv6_unicast`];
    /// `None` for other messages.
    pub fn into_update(self) -> Option<DecodedUpdate> {
        match self.message {
            Message::Update(update) => Some(DecodedUpdate {
                update,
                outcome: self.outcome,
            }),
            _ => None,
        }
    }
}

impl Message {
    /// Appends the encoded message to `buf`. Fails, leaving `buf` as it
    /// was, if the message exceeds the session's maximum size.
    pub fn encode(&self, codec: &Codec, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let (message_type, max) = match self {
            Message::Open(_) => (MessageType::Open, MAX_MESSAGE_LEN),
            Message::Update(_) => (MessageType::Update, codec.max_message_len()),
            Message::Notification(_) => (MessageType::Notification, codec.max_message_len()),
            Message::Keepalive => (MessageType::Keepalive, MAX_MESSAGE_LEN),
            Message::RouteRefresh(_) => (MessageType::RouteRefresh, codec.max_message_len()),
        };
        let start = header::begin(buf, message_type);
        let body = match self {
            Message::Open(open) => open.encode_body(buf),
            Message::Update(update) => update.encode_body(buf, codec),
            Message::Notification(n) => {
                n.encode_body(buf);
                Ok(())
            }
            Message::Keepalive => Ok(()),
            Message::RouteRefresh(rr) => {
                rr.encode_body(buf);
                Ok(())
            }
        };
        if let Err(e) = body {
            buf.truncate(start);
            return Err(e);
        }
        header::finish(buf, start, max)
    }

    /// The encoded message as one buffer.
    pub fn to_bytes(&self, codec: &Codec) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        self.encode(codec, &mut buf)?;
        Ok(buf.freeze())
    }
}

/// Decodes one whole message. `frame` must be exactly one message, as cut
/// by [`frame_len`].
pub fn decode_message(frame: &[u8], codec: &Codec) -> Result<Decoded, DecodeError> {
    decode_inner(frame, codec).map_err(|e| e.at_offset(frame))
}

fn decode_inner(frame: &[u8], codec: &Codec) -> Result<Decoded, WireError> {
    let (body, header) = parse_header(frame, codec).map_err(|e| {
        // A frame shorter than a header: report the length we got.
        into_wire(e, frame).or_kind(|| ErrorKind::BadMessageLength {
            length: u16::try_from(frame.len()).unwrap_or(u16::MAX),
        })
    })?;
    if header.length != frame.len() {
        let length = u16::try_from(header.length).unwrap_or(u16::MAX);
        return Err(WireError::new(
            &frame[16..],
            ErrorKind::BadMessageLength { length },
        ));
    }
    let clean = |message| Decoded {
        message,
        outcome: UpdateOutcome::Clean,
    };
    Ok(match header.message_type {
        MessageType::Open => {
            let (_, open) = Open::parse(body).map_err(|e| {
                into_wire(e, frame).or_kind(|| ErrorKind::MalformedOpen {
                    what: "OPEN ends early",
                })
            })?;
            clean(Message::Open(open))
        }
        MessageType::Update => {
            let (_, decoded) = Update::parse(frame, body, codec).map_err(|e| {
                into_wire(e, frame).or_kind(|| ErrorKind::MalformedAttributeList {
                    what: "UPDATE ends early",
                })
            })?;
            Decoded {
                message: Message::Update(decoded.update),
                outcome: decoded.outcome,
            }
        }
        MessageType::Notification => clean(Message::Notification(Notification::decode_body(body))),
        MessageType::Keepalive => clean(Message::Keepalive),
        MessageType::RouteRefresh => {
            let bad_length = || {
                WireError::new(
                    &frame[16..],
                    ErrorKind::RouteRefreshLength {
                        length: u16::try_from(header.length).unwrap_or(u16::MAX),
                        message: Bytes::copy_from_slice(frame),
                    },
                )
            };
            let (rest, rr) = RouteRefresh::parse(body).map_err(|_| bad_length())?;
            // RFC 7313 §5 fixes the length of BoRR and EoRR only; a request
            // may carry ORF entries (RFC 5291), which we never negotiate and
            // so ignore.
            let marker = matches!(rr.subtype, RefreshSubtype::Begin | RefreshSubtype::End);
            if marker && !rest.is_empty() {
                return Err(bad_length());
            }
            clean(Message::RouteRefresh(rr))
        }
    })
}

/// Decodes the first message of a session, before any capability is in
/// force. `Ok(None)` when it is a well-formed message of another type:
/// whether that is an FSM error is the session's call, not the codec's.
pub fn decode_open(frame: &[u8]) -> Result<Option<Open>, DecodeError> {
    Ok(match decode_message(frame, &Codec::default())?.message {
        Message::Open(open) => Some(open),
        _ => None,
    })
}
