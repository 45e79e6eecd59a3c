//! Wire codec tests: golden vectors (bytes → value → same bytes), RFC 7606
//! outcomes, error offsets and NOTIFICATIONs, property tests, packing.

// Tests may unwrap (STYLE: no unwrap on network data; these are vectors).
#![allow(clippy::unwrap_used)]

mod captured;
mod errors;
mod golden_messages;
mod golden_open;
mod golden_update;
mod negotiate;
mod pack;
mod props;
mod regressions;
mod rfc7606;

use ferrolb_bgp::wire::{
    Capability, Codec, DecodeError, Decoded, Message, UpdateOutcome, decode_message,
};

/// Bytes from hex fragments; white space inside a fragment is ignored so
/// vectors can be laid out field by field.
pub fn hex(parts: &[&str]) -> Vec<u8> {
    let s: String = parts
        .concat()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(s.len().is_multiple_of(2), "odd number of hex digits");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The 16-byte marker.
pub const MARKER: &str = "ffffffffffffffffffffffffffffffff";

/// Checks both directions: `bytes` decode to `message` cleanly, and
/// `message` encodes to `bytes`.
pub fn golden(bytes: &[u8], codec: &Codec, message: &Message) {
    assert_eq!(both_ways(bytes, codec, message), UpdateOutcome::Clean);
}

/// Checks both directions and returns the RFC 7606 outcome, for vectors of
/// UPDATEs that are well-formed bytes but incomplete routes.
pub fn both_ways(bytes: &[u8], codec: &Codec, message: &Message) -> UpdateOutcome {
    let decoded = decode_message(bytes, codec).unwrap();
    assert_eq!(&decoded.message, message, "bytes -> value");
    let encoded = message.to_bytes(codec).unwrap();
    assert_eq!(encoded.as_ref(), bytes, "value -> bytes");
    decoded.outcome
}

/// Decodes, expecting success.
pub fn decode(bytes: &[u8], codec: &Codec) -> Decoded {
    decode_message(bytes, codec).unwrap()
}

/// Decodes, expecting failure.
pub fn decode_err(bytes: &[u8], codec: &Codec) -> DecodeError {
    decode_message(bytes, codec).unwrap_err()
}

/// A session where both sides speak 4-octet AS numbers.
pub fn four_octet() -> Codec {
    Codec {
        four_octet_as: true,
        ..Codec::default()
    }
}

/// The capabilities of an OPEN.
pub fn open_capabilities(bytes: &[u8]) -> Vec<Capability> {
    match decode(bytes, &Codec::default()).message {
        Message::Open(open) => open.capabilities,
        other => panic!("not an OPEN: {other:?}"),
    }
}
