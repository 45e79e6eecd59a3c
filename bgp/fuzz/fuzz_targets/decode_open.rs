//! Arbitrary bytes as the first message of a session: parse the OPEN and,
//! when it parses, negotiate against a fixed local OPEN in both directions.
#![no_main]

use ferrolb_bgp::wire::{
    AddPathFamily, AddPathMode, Afi, Asn, BgpId, Capability, Codec, HoldTime, Message, Open, Safi,
    decode_open, negotiate,
};
use libfuzzer_sys::fuzz_target;

fn local() -> Option<Open> {
    Some(Open::new(
        Asn(4_200_000_000),
        HoldTime::DEFAULT,
        BgpId::new(0x0a00_0001)?,
        vec![
            Capability::MultiProtocol {
                afi: Afi::IPV4,
                safi: Safi::UNICAST,
            },
            Capability::MultiProtocol {
                afi: Afi::IPV6,
                safi: Safi::UNICAST,
            },
            Capability::FourOctetAs(Asn(4_200_000_000)),
            Capability::ExtendedMessage,
            Capability::AddPath(vec![AddPathFamily {
                afi: Afi::IPV4,
                safi: Safi::UNICAST,
                mode: AddPathMode::Both,
            }]),
        ],
    ))
}

fuzz_target!(|data: &[u8]| {
    let Ok(Some(remote)) = decode_open(data) else {
        return;
    };
    let Some(local) = local() else {
        return;
    };
    let ours = negotiate(&local, &remote);
    let theirs = negotiate(&remote, &local);
    assert_eq!(ours.send, theirs.receive);
    assert_eq!(ours.receive, theirs.send);
    assert_eq!(ours.hold_time, theirs.hold_time);
    if let Ok(bytes) = Message::Open(remote.clone()).to_bytes(&Codec::default()) {
        assert_eq!(decode_open(&bytes).ok().flatten(), Some(remote));
    }
});
