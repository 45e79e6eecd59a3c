//! KEEPALIVE, NOTIFICATION and ROUTE-REFRESH vectors (RFC 4271 §4.4, §4.5;
//! RFC 2918; RFC 7313; RFC 9003).

use bytes::Bytes;
use ferrolb_bgp::wire::{
    Afi, Asn, Capability, Codec, Message, Notification, RefreshSubtype, RouteRefresh, Safi,
    ShutdownCommunicationError, code, frame_len, subcode, take_frame,
};

use super::{MARKER, decode, golden, hex};

#[test]
fn keepalive() {
    let bytes = hex(&[
        MARKER, "0013", // length 19
        "04",   // type KEEPALIVE
    ]);
    golden(&bytes, &Codec::default(), &Message::Keepalive);
}

#[test]
fn notification_hold_timer_expired() {
    let bytes = hex(&[
        MARKER, "0015", // length 21
        "03",   // type NOTIFICATION
        "04",   // code: Hold Timer Expired
        "00",   // subcode
    ]);
    let n = Notification::new(code::HOLD_TIMER_EXPIRED, 0, Bytes::new());
    golden(&bytes, &Codec::default(), &Message::Notification(n));
}

#[test]
fn notification_with_data() {
    let bytes = hex(&[
        MARKER, "0017", // length 23
        "03",   // type NOTIFICATION
        "01",   // code: Message Header Error
        "02",   // subcode: Bad Message Length
        "0012", // data: the bad length, 18
    ]);
    let n = Notification::new(1, 2, Bytes::from_static(&[0, 0x12]));
    golden(&bytes, &Codec::default(), &Message::Notification(n));
}

#[test]
fn admin_shutdown_communication() {
    let bytes = hex(&[
        MARKER, "0019",   // length 25
        "03",     // type NOTIFICATION
        "06",     // code: Cease
        "02",     // subcode: Administrative Shutdown
        "03",     // RFC 9003 length
        "627965", // "bye"
    ]);
    let n = Notification::admin_shutdown("bye");
    golden(&bytes, &Codec::default(), &Message::Notification(n.clone()));
    assert_eq!(n.shutdown_message(), Some(Ok("bye")));
    let reset = Notification::admin_reset("maintenance");
    assert_eq!(reset.subcode, subcode::cease::ADMIN_RESET);
    assert_eq!(reset.shutdown_message(), Some(Ok("maintenance")));
}

#[test]
fn shutdown_communication_is_cut_at_a_char_boundary() {
    // 200 two-byte characters: 400 bytes, cut to 254 (127 characters).
    let long = "é".repeat(200);
    let n = Notification::admin_shutdown(&long);
    assert_eq!(n.data[0], 254);
    assert_eq!(n.data.len(), 255);
    assert_eq!(n.shutdown_message(), Some(Ok("é".repeat(127).as_str())));
}

#[test]
fn shutdown_communication_errors() {
    let bad_len = Notification::new(6, 2, Bytes::from_static(&[5, b'a']));
    assert_eq!(
        bad_len.shutdown_message(),
        Some(Err(ShutdownCommunicationError::Length))
    );
    let bad_utf8 = Notification::new(6, 4, Bytes::from_static(&[2, 0xc3, 0x28]));
    assert_eq!(
        bad_utf8.shutdown_message(),
        Some(Err(ShutdownCommunicationError::Utf8))
    );
    let other = Notification::new(6, 3, Bytes::from_static(&[1, b'a']));
    assert_eq!(other.shutdown_message(), None);
    let empty = Notification::new(6, 2, Bytes::new());
    assert_eq!(empty.shutdown_message(), None);
}

#[test]
fn route_refresh_request() {
    let bytes = hex(&[
        MARKER, "0017", // length 23
        "05",   // type ROUTE-REFRESH
        "0001", // AFI IPv4
        "00",   // subtype: request
        "01",   // SAFI unicast
    ]);
    let rr = RouteRefresh {
        afi: Afi::IPV4,
        safi: Safi::UNICAST,
        subtype: RefreshSubtype::Request,
    };
    golden(&bytes, &Codec::default(), &Message::RouteRefresh(rr));
}

#[test]
fn route_refresh_rfc7313_subtypes() {
    for (byte, subtype) in [
        ("01", RefreshSubtype::Begin),
        ("02", RefreshSubtype::End),
        ("ff", RefreshSubtype::Other(255)),
    ] {
        let bytes = hex(&[
            MARKER, "0017", "05", "0002", // AFI IPv6
            byte, "01",
        ]);
        let rr = RouteRefresh {
            afi: Afi::IPV6,
            safi: Safi::UNICAST,
            subtype,
        };
        golden(&bytes, &Codec::default(), &Message::RouteRefresh(rr));
    }
}

#[test]
fn frame_len_cuts_a_stream() {
    let mut stream = hex(&[MARKER, "0013", "04"]);
    stream.extend(hex(&[MARKER, "0017", "05", "0001", "00", "01"]));
    let codec = Codec::default();
    assert_eq!(frame_len(&stream[..10], &codec), Ok(None));
    assert_eq!(frame_len(&stream, &codec), Ok(Some(19)));
    assert_eq!(frame_len(&stream[19..], &codec), Ok(Some(23)));
    assert!(matches!(
        decode(&stream[19..], &codec).message,
        Message::RouteRefresh(_)
    ));
}

#[test]
fn take_frame_waits_for_whole_messages() {
    let mut buf = bytes::BytesMut::new();
    let codec = Codec::default();
    let keepalive = hex(&[MARKER, "0013", "04"]);
    buf.extend_from_slice(&keepalive[..10]);
    assert_eq!(take_frame(&mut buf, &codec), Ok(None));
    buf.extend_from_slice(&keepalive[10..]);
    buf.extend_from_slice(&keepalive[..5]);
    assert_eq!(
        take_frame(&mut buf, &codec).unwrap().as_deref(),
        Some(&keepalive[..])
    );
    assert_eq!(buf.len(), 5, "the next message's start stays");
    // A bad header is refused before its body arrives.
    let mut bad = bytes::BytesMut::from(&hex(&[MARKER, "ffff", "02"])[..]);
    assert_eq!(
        take_frame(&mut bad, &codec)
            .unwrap_err()
            .notification()
            .subcode,
        2
    );
}

#[test]
fn unsupported_capability_lists_what_is_missing() {
    let n = Notification::unsupported_capability(&[Capability::FourOctetAs(Asn(65001))]).unwrap();
    let bytes = hex(&[
        MARKER,
        "001b",           // length 27
        "03",             // type NOTIFICATION
        "02",             // code: OPEN Message Error
        "07",             // subcode: Unsupported Capability
        "41 04 0000fde9", // capability 65 (4-octet AS), length 4, AS 65001
    ]);
    golden(&bytes, &Codec::default(), &Message::Notification(n));
}
