//! Arbitrary bytes under an arbitrary session context: the decoder must
//! never panic, and whatever it accepts must encode and decode back to
//! itself.
#![no_main]

use ferrolb_bgp::wire::{
    AddPath, Codec, EncodeError, Message, PathAttribute, attribute_flags, decode_message,
};
use libfuzzer_sys::fuzz_target;

/// The first byte picks the session parameters.
fn codec(bits: u8) -> Codec {
    Codec {
        four_octet_as: bits & 1 != 0,
        add_path: AddPath {
            ipv4_unicast: bits & 2 != 0,
            ipv6_unicast: bits & 4 != 0,
        },
        extended_message: bits & 8 != 0,
    }
}

/// What re-encoding legitimately changes: unknown optional transitive
/// attributes go out with the Partial bit (RFC 4271 §5).
fn normalise(msg: &mut Message) {
    if let Message::Update(update) = msg {
        for attr in &mut update.attributes {
            if let PathAttribute::Unknown(raw) = attr {
                let ot = attribute_flags::OPTIONAL | attribute_flags::TRANSITIVE;
                if raw.flags & ot == ot {
                    raw.flags |= attribute_flags::PARTIAL;
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&bits, frame)) = data.split_first() else {
        return;
    };
    let codec = codec(bits);
    let Ok(decoded) = decode_message(frame, &codec) else {
        return;
    };
    let mut message = decoded.message;
    normalise(&mut message);
    match message.to_bytes(&codec) {
        Ok(bytes) => {
            let again = decode_message(&bytes, &codec).expect("re-encoded message must decode");
            assert_eq!(again.message, message);
        }
        // One capability per parameter can outgrow a grouped OPEN.
        Err(EncodeError::MessageTooLong { .. }) if matches!(message, Message::Open(_)) => {}
        Err(e) => panic!("decoded message does not encode: {e}"),
    }
});
