//! Arbitrary bytes as a membership datagram: unsigned, then signed and
//! fed to the membership state machine. Nothing may panic, and whatever
//! parses must seal and open back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferrolb_l2::membership::fuzzing::exercise(data);
});
