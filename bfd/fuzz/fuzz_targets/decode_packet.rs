//! Arbitrary bytes as a UDP payload on port 3784: decode, and what decodes
//! re-encodes to the same first 24 bytes but the Length (always 24 when
//! we send; a longer one without the A bit is accepted, §6.8.6 only bounds it).
#![no_main]

use ferrolb_bfd::wire::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = decode(data) {
        let mut sent = data[..24].to_vec();
        assert!(sent[3] >= 24);
        sent[3] = 24;
        assert_eq!(&packet.encode()[..], &sent[..]);
        assert_eq!(decode(&packet.encode()), Ok(packet));
    }
});
