//! One input through the whole receive path, for the fuzz target
//! (`l2/fuzz/fuzz_targets/membership_datagram.rs`) and the property
//! tests: nothing may panic, and what parses must seal and open back to
//! itself.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::core::{Input, Membership};
use super::timing::MembershipTiming;
use super::wire::{Body, Datagram, Header, Key, MAX_DATAGRAM};

pub fn exercise(data: &[u8]) {
    let key = Key::new(b"fuzz".to_vec());
    let now = Instant::now();
    // Unsigned garbage must be refused without a panic.
    let _ = Datagram::open(&key, data);
    let Ok(datagram) = Datagram::parse(data) else {
        return;
    };
    let sealed = datagram.seal(&key);
    if sealed.len() <= MAX_DATAGRAM {
        assert_eq!(Datagram::open(&key, &sealed).as_ref(), Ok(&datagram));
    }
    // Signed, from a known member: it reaches the state machine.
    let me = if datagram.header.sender == "fuzz-self" {
        "fuzz-other"
    } else {
        "fuzz-self"
    };
    let mut membership = Membership::new(me, key.clone(), MembershipTiming::default(), now, 1);
    let known = BTreeSet::from([me.to_string(), datagram.header.sender.clone()]);
    let _ = membership.handle(now, Input::SetKnown(known));
    let _ = membership.handle(now, Input::Received(sealed.clone()));
    // Twice: the second is a replay.
    let _ = membership.handle(now, Input::Received(sealed.clone()));
    // The sender leaves (whatever it sent, at its own incarnation and the
    // next sequence), then speaks again in this life (stale) and in the
    // next (it restarted): the paths in and out of "left".
    let header = &datagram.header;
    let leave = Datagram {
        header: Header {
            sequence: header.sequence.wrapping_add(1),
            ..header.clone()
        },
        body: Body::Leave,
    };
    let mut later = datagram.clone();
    later.header.sequence = header.sequence.wrapping_add(2);
    let mut reborn = datagram.clone();
    reborn.header.incarnation = header.incarnation.saturating_add(1);
    for d in [leave, later, reborn] {
        let _ = membership.handle(now, Input::Received(d.seal(&key)));
    }
    let _ = membership.poll(now + Duration::from_millis(100));
    // This node leaves: what still comes in must not panic either.
    let _ = membership.leave(now + Duration::from_millis(100));
    let _ = membership.handle(now + Duration::from_millis(101), Input::Received(sealed));
    let _ = membership.poll(now + Duration::from_millis(200));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The fuzz target's committed seeds (`l2/fuzz/seeds/membership_datagram`,
    /// datagrams without their MAC: first one of each kind, then the
    /// corpus long runs merged in) go through the receive path, and
    /// those that parse still cover every kind: a kind the parser
    /// stopped taking would leave the fuzzer starting from garbage.
    /// Merged seeds need not parse; inputs the parser refuses are how
    /// the fuzzer reaches its error paths.
    #[test]
    fn the_fuzz_seeds_are_datagrams_of_every_kind() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/seeds/membership_datagram"
        );
        let mut kinds = std::collections::HashSet::new();
        for entry in std::fs::read_dir(dir).expect("the seeds directory") {
            let bytes = std::fs::read(entry.expect("a seed").path()).expect("a seed file");
            if let Ok(datagram) = Datagram::parse(&bytes) {
                kinds.insert(std::mem::discriminant(&datagram.body));
            }
            exercise(&bytes);
        }
        assert_eq!(kinds.len(), 9, "seeds that parse, of every kind");
    }

    proptest! {
        #[test]
        fn no_input_panics_the_receive_path(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            exercise(&data);
        }

        /// Inputs shaped like datagrams get past the parser more often.
        #[test]
        fn no_datagram_shaped_input_panics(kind in 0u8..11, name in "[a-z]{1,8}", rest in proptest::collection::vec(any::<u8>(), 0..120)) {
            let mut data = vec![1, kind, name.len() as u8];
            data.extend(name.as_bytes());
            data.extend(rest);
            exercise(&data);
        }
    }
}
