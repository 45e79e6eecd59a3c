//! Inputs that once broke the decoder (from fuzzing and review). Each must
//! decode to an error or a value, never panic.

use ferrolb_bgp::wire::{AddPath, Codec, decode_message};

use super::{MARKER, hex};

fn all_codecs() -> impl Iterator<Item = Codec> {
    (0..8u8).map(|bits| Codec {
        four_octet_as: bits & 1 != 0,
        add_path: AddPath {
            ipv4_unicast: bits & 2 != 0,
            ipv6_unicast: bits & 2 != 0,
        },
        extended_message: bits & 4 != 0,
    })
}

fn survives(bytes: &[u8]) {
    for codec in all_codecs() {
        let _ = decode_message(bytes, &codec);
    }
}

#[test]
fn truncated_and_odd_inputs() {
    survives(&[]);
    survives(&hex(&[MARKER]));
    survives(&hex(&[MARKER, "ffff", "02"]));
    survives(&hex(&[MARKER, "0013", "02"]));
    // OPEN with the extended-parameters marker and nothing after it.
    survives(&hex(&[MARKER, "001e", "01", "04 fde9 005a 0a000001 ff ff"]));
    // Extended length attribute header with one length byte.
    survives(&hex(&[MARKER, "001a", "02", "0000 0003 50 0e 00"]));
}
