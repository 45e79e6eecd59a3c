//! The 19-byte message header (RFC 4271 §4.1) and message framing.

use bytes::{BufMut, Bytes, BytesMut};
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16};

use super::codec::{Codec, MAX_MESSAGE_LEN};
use super::error::{DecodeError, EncodeError, ErrorKind, PResult, fail, into_wire, patch_len_u16};

/// Length of the header: marker, length, type.
pub const HEADER_LEN: usize = 19;
const MARKER: [u8; 16] = [0xff; 16];

/// BGP message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// OPEN (1).
    Open = 1,
    /// UPDATE (2).
    Update = 2,
    /// NOTIFICATION (3).
    Notification = 3,
    /// KEEPALIVE (4).
    Keepalive = 4,
    /// ROUTE-REFRESH (5, RFC 2918).
    RouteRefresh = 5,
}

impl MessageType {
    fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => MessageType::Open,
            2 => MessageType::Update,
            3 => MessageType::Notification,
            4 => MessageType::Keepalive,
            5 => MessageType::RouteRefresh,
            _ => return None,
        })
    }

    /// Whether `length` is acceptable for this type (RFC 4271 §6.1). A
    /// ROUTE-REFRESH of the wrong length is left to its own error (RFC 7313).
    fn length_ok(self, length: usize, codec: &Codec) -> bool {
        match self {
            // OPEN is exchanged before extended messages are in force.
            MessageType::Open => (29..=MAX_MESSAGE_LEN).contains(&length),
            MessageType::Update => (23..=codec.max_message_len()).contains(&length),
            MessageType::Notification => (21..=codec.max_message_len()).contains(&length),
            MessageType::Keepalive => length == HEADER_LEN,
            MessageType::RouteRefresh => length <= codec.max_message_len(),
        }
    }
}

/// A checked message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Total message length, header included.
    pub length: usize,
    /// Message type.
    pub message_type: MessageType,
}

/// Parses and checks a header: marker, then length, then type, in the
/// order RFC 4271 §6.1 lists the errors.
pub(crate) fn parse_header<'a>(input: &'a [u8], codec: &Codec) -> PResult<'a, Header> {
    let (rest, marker) = take(16usize)(input)?;
    if marker != MARKER {
        return fail(input, ErrorKind::NotSynchronized);
    }
    let (after_len, length) = be_u16(rest)?;
    let (after_type, raw_type) = be_u8(after_len)?;
    if usize::from(length) < HEADER_LEN {
        return fail(rest, ErrorKind::BadMessageLength { length });
    }
    let Some(message_type) = MessageType::from_u8(raw_type) else {
        return fail(
            after_len,
            ErrorKind::BadMessageType {
                message_type: raw_type,
            },
        );
    };
    if !message_type.length_ok(usize::from(length), codec) {
        return fail(rest, ErrorKind::BadMessageLength { length });
    }
    Ok((
        after_type,
        Header {
            length: usize::from(length),
            message_type,
        },
    ))
}

/// How long the message at the start of `buf` is: `Ok(None)` until the
/// 19-byte header has arrived, then the full length from the checked
/// header. Lets a stream reader cut messages without trusting the length.
pub fn frame_len(buf: &[u8], codec: &Codec) -> Result<Option<usize>, DecodeError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let header = &buf[..HEADER_LEN];
    match parse_header(header, codec) {
        Ok((_, h)) => Ok(Some(h.length)),
        Err(e) => Err(into_wire(e, header).at_offset(header)),
    }
}

/// Cuts the next whole message off the front of a receive buffer:
/// `Ok(None)` until all of it has arrived. For the session driver's read
/// loop; the frame then goes to [`super::decode_message`].
pub fn take_frame(buf: &mut BytesMut, codec: &Codec) -> Result<Option<Bytes>, DecodeError> {
    Ok(match frame_len(buf, codec)? {
        Some(len) if buf.len() >= len => Some(buf.split_to(len).freeze()),
        _ => None,
    })
}

/// Starts a message: writes the header with a placeholder length and
/// returns where the message starts.
pub(crate) fn begin(buf: &mut BytesMut, message_type: MessageType) -> usize {
    let start = buf.len();
    buf.put_slice(&MARKER);
    buf.put_u16(0);
    buf.put_u8(message_type as u8);
    start
}

/// Finishes a message begun at `start`: checks the size limit and fills in
/// the length. On error the partial message is removed from `buf`.
pub(crate) fn finish(buf: &mut BytesMut, start: usize, max: usize) -> Result<(), EncodeError> {
    let length = buf.len() - start;
    if length > max {
        buf.truncate(start);
        return Err(EncodeError::MessageTooLong { length, max });
    }
    patch_len_u16(buf, start + 16, length, "message")
}
