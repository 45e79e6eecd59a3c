//! Decode errors: the offset they point at and the NOTIFICATION they call
//! for (RFC 4271 §6, RFC 5492, RFC 7313).

use bytes::Bytes;
use ferrolb_bgp::wire::{Capability, Codec, ErrorKind, Message, Notification};

use super::{MARKER, decode, decode_err, hex};

fn assert_error(
    bytes: &[u8],
    codec: &Codec,
    offset: usize,
    code: u8,
    subcode: u8,
    data: &[u8],
) -> ErrorKind {
    let err = decode_err(bytes, codec);
    assert_eq!(err.offset, offset, "offset of {err}");
    assert_eq!(
        err.notification(),
        Notification::new(code, subcode, Bytes::copy_from_slice(data)),
        "notification for {err}"
    );
    err.kind
}

const OPEN_FIXED: &str = "04 fde9 005a 0a000001";

#[test]
fn header_errors() {
    let codec = Codec::default();
    let mut bad_marker = hex(&[MARKER, "0013", "04"]);
    bad_marker[3] = 0xfe;
    assert_error(&bad_marker, &codec, 0, 1, 1, &[]);
    assert_error(
        &hex(&[MARKER, "0012", "04"]),
        &codec,
        16,
        1,
        2,
        &[0x00, 0x12],
    );
    assert_error(&hex(&[MARKER, "0013", "09"]), &codec, 18, 1, 3, &[0x09]);
    assert_error(
        &hex(&[MARKER, "0014", "04", "00"]),
        &codec,
        16,
        1,
        2,
        &[0x00, 0x14],
    );
    // OPEN shorter than its fixed part; NOTIFICATION without a subcode.
    assert_error(
        &hex(&[MARKER, "001c", "01", "04fde9005a0a000001"]),
        &codec,
        16,
        1,
        2,
        &[0, 0x1c],
    );
    assert_error(
        &hex(&[MARKER, "0014", "03", "06"]),
        &codec,
        16,
        1,
        2,
        &[0, 0x14],
    );
    // A frame shorter than a header.
    let k = decode_err(&hex(&[MARKER, "00"]), &codec).kind;
    assert_eq!(k, ErrorKind::BadMessageLength { length: 17 });
    // A frame shorter than its length field.
    assert_error(
        &hex(&[MARKER, "001e", "02", "00000000"]),
        &codec,
        16,
        1,
        2,
        &[0, 0x1e],
    );
}

#[test]
fn message_size_limit_follows_extended_message() {
    let mut big = hex(&[MARKER, "1001", "02", "0000", "0000"]);
    big.resize(4097, 0);
    assert_error(&big, &Codec::default(), 16, 1, 2, &[0x10, 0x01]);
    let extended = Codec {
        extended_message: true,
        ..Codec::default()
    };
    // The padding reads as 0.0.0.0/0 NLRI without attributes: decodes, and
    // treat-as-withdraw applies.
    assert!(!decode(&big, &extended).outcome.errors().is_empty());
}

#[test]
fn open_errors() {
    let codec = Codec::default();
    let open = |body: &str| {
        let body = hex(&[body]);
        let mut m = hex(&[MARKER]);
        m.extend(((19 + body.len()) as u16).to_be_bytes());
        m.push(1);
        m.extend(body);
        m
    };
    let k = assert_error(&open("03 fde9 005a 0a000001 00"), &codec, 19, 2, 1, &[0, 4]);
    assert_eq!(k, ErrorKind::UnsupportedVersion { version: 3 });
    assert_error(&open("04 0000 005a 0a000001 00"), &codec, 20, 2, 2, &[]);
    let k = assert_error(&open("04 fde9 0002 0a000001 00"), &codec, 22, 2, 6, &[]);
    assert_eq!(k, ErrorKind::UnacceptableHoldTime { hold_time: 2 });
    assert_error(&open("04 fde9 005a 00000000 00"), &codec, 24, 2, 3, &[]);
    // Optional parameter type 1 (authentication, deprecated).
    let body = format!("{OPEN_FIXED} 04 01 02 abcd");
    assert_error(&open(&body), &codec, 29, 2, 4, &[]);
    // Parameters length says 5, 4 bytes follow.
    let body = format!("{OPEN_FIXED} 05 02 02 02 00");
    assert_error(&open(&body), &codec, 28, 2, 0, &[]);
    // Capability length runs past its parameter.
    let body = format!("{OPEN_FIXED} 04 02 02 02 05");
    assert_error(&open(&body), &codec, 31, 2, 0, &[]);
    // Multiprotocol capability of the wrong size.
    let body = format!("{OPEN_FIXED} 05 02 03 01 01 00");
    assert_error(&open(&body), &codec, 33, 2, 0, &[]);
    // 4-octet AS capability carrying AS 0 (RFC 7607).
    let body = format!("{OPEN_FIXED} 08 02 06 41 04 00000000");
    assert_error(&open(&body), &codec, 33, 2, 2, &[]);
    // ADD-PATH send/receive value 4: not understood, so kept as unknown
    // and ignored (RFC 7911 §4), not refused.
    let body = format!("{OPEN_FIXED} 08 02 06 45 04 0001 01 04");
    let Message::Open(o) = decode(&open(&body), &codec).message else {
        panic!("not an OPEN");
    };
    assert!(matches!(
        o.capabilities[..],
        [Capability::Unknown { code: 69, .. }]
    ));
}

#[test]
fn update_framing_errors() {
    let codec = Codec::default();
    // Withdrawn routes length 5 with 2 bytes of message left.
    let k = assert_error(
        &hex(&[MARKER, "0017", "02", "0005", "0000"]),
        &codec,
        19,
        3,
        1,
        &[],
    );
    assert!(matches!(k, ErrorKind::MalformedAttributeList { .. }));
    // Total path attribute length 9 with 1 byte left.
    assert_error(
        &hex(&[MARKER, "0018", "02", "0000", "0009", "00"]),
        &codec,
        21,
        3,
        1,
        &[],
    );
    // NLRI prefix length 33.
    assert_error(
        &hex(&[MARKER, "001c", "02", "0000", "0000", "21 0a000001"]),
        &codec,
        23,
        3,
        10,
        &[],
    );
    // Withdrawn prefix cut short.
    assert_error(
        &hex(&[MARKER, "001a", "02", "0003", "18 0a00", "0000"]),
        &codec,
        21,
        3,
        10,
        &[],
    );
}

#[test]
fn route_refresh_length_error() {
    // BoRR one byte too long.
    let bytes = hex(&[MARKER, "0018", "05", "0001 01 01 00"]);
    let k = assert_error(&bytes, &Codec::default(), 16, 7, 1, &bytes);
    assert!(matches!(
        k,
        ErrorKind::RouteRefreshLength { length: 24, .. }
    ));
    // Too short to hold AFI, subtype, SAFI.
    let short = hex(&[MARKER, "0015", "05", "0001"]);
    assert_error(&short, &Codec::default(), 16, 7, 1, &short);
    // A plain request with trailing (ORF) bytes is accepted, ORFs ignored.
    let orf = hex(&[MARKER, "001a", "05", "0001 00 01", "01 0203"]);
    assert!(matches!(
        decode(&orf, &Codec::default()).message,
        Message::RouteRefresh(_)
    ));
}

#[test]
fn errors_display_offset_and_cause() {
    let err = decode_err(&hex(&[MARKER, "0013", "09"]), &Codec::default());
    assert_eq!(err.to_string(), "at byte 18: unknown message type 9");
}

#[test]
fn every_error_kind_maps_to_its_notification() {
    let attr = Bytes::from_static(&[0x40, 0x01, 0x01, 0x07]);
    let cases = [
        (ErrorKind::NotSynchronized, (1, 1)),
        (ErrorKind::BadMessageLength { length: 5 }, (1, 2)),
        (ErrorKind::BadMessageType { message_type: 9 }, (1, 3)),
        (ErrorKind::UnsupportedVersion { version: 3 }, (2, 1)),
        (ErrorKind::BadPeerAs { asn: 0 }, (2, 2)),
        (ErrorKind::BadBgpId { id: 0 }, (2, 3)),
        (
            ErrorKind::UnsupportedOptionalParameter { param_type: 1 },
            (2, 4),
        ),
        (ErrorKind::UnacceptableHoldTime { hold_time: 1 }, (2, 6)),
        (
            ErrorKind::UnsupportedCapability {
                capabilities: Bytes::from_static(&[65, 4, 0, 0, 0xfd, 0xe9]),
            },
            (2, 7),
        ),
        (ErrorKind::MalformedOpen { what: "x" }, (2, 0)),
        (ErrorKind::MalformedAttributeList { what: "x" }, (3, 1)),
        (
            ErrorKind::UnrecognizedWellKnown {
                type_code: 99,
                attribute: attr.clone(),
            },
            (3, 2),
        ),
        (ErrorKind::MissingWellKnown { type_code: 1 }, (3, 3)),
        (
            ErrorKind::AttributeFlags {
                type_code: 1,
                flags: 0xc0,
                attribute: attr.clone(),
            },
            (3, 4),
        ),
        (
            ErrorKind::AttributeLength {
                type_code: 1,
                what: "x",
                attribute: attr.clone(),
            },
            (3, 5),
        ),
        (
            ErrorKind::InvalidOrigin {
                attribute: attr.clone(),
            },
            (3, 6),
        ),
        (
            ErrorKind::InvalidNextHop {
                attribute: attr.clone(),
            },
            (3, 8),
        ),
        (
            ErrorKind::OptionalAttribute {
                type_code: 14,
                what: "x",
                attribute: attr.clone(),
            },
            (3, 9),
        ),
        (ErrorKind::InvalidNetworkField { what: "x" }, (3, 10)),
        (
            ErrorKind::MalformedAsPath {
                what: "x",
                attribute: attr.clone(),
            },
            (3, 11),
        ),
        (
            ErrorKind::RouteRefreshLength {
                length: 24,
                message: Bytes::new(),
            },
            (7, 1),
        ),
    ];
    for (kind, (code, subcode)) in cases {
        let n = kind.notification();
        assert_eq!((n.code, n.subcode), (code, subcode), "{kind}");
    }
    // Data carries the offending attribute where RFC 4271 §6.3 says so.
    let n = ErrorKind::AttributeLength {
        type_code: 1,
        what: "x",
        attribute: attr.clone(),
    }
    .notification();
    assert_eq!(n.data, attr);
}
