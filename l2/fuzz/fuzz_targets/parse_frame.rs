//! Arbitrary bytes as a received Ethernet frame: the parser must never
//! panic, and whatever it accepts must encode to a frame that parses to
//! the same value.
#![no_main]

use ferrolb_l2::wire::parse_frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = parse_frame(data) else {
        return;
    };
    let again = parse_frame(&frame.to_bytes()).expect("re-encoded frame must parse");
    assert_eq!(again, frame);
});
