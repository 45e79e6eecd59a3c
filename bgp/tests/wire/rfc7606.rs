//! RFC 7606 outcomes, one test per rule.

use ferrolb_bgp::wire::{
    AddPath, Codec, ErrorAction, ErrorKind, Message, PathAttribute, UpdateOutcome, decode_message,
    type_code,
};

use super::{MARKER, decode, decode_err, four_octet, hex};

const ORIGIN: &str = "40 01 01 00";
const AS_PATH: &str = "40 02 04 02 01 fde9";
const NEXT_HOP: &str = "40 03 04 c0000201";
const NLRI: &str = "20 c0000264";

/// An UPDATE with the given attributes and NLRI; lengths computed.
fn update(attrs: &[&str], nlri: &str) -> Vec<u8> {
    let attrs = hex(attrs);
    let nlri = hex(&[nlri]);
    let mut m = hex(&[MARKER]);
    m.extend(((23 + attrs.len() + nlri.len()) as u16).to_be_bytes());
    m.push(2);
    m.extend([0, 0]);
    m.extend((attrs.len() as u16).to_be_bytes());
    m.extend(attrs);
    m.extend(nlri);
    m
}

fn codes(msg: &Message) -> Vec<u8> {
    match msg {
        Message::Update(u) => u.attributes.iter().map(PathAttribute::type_code).collect(),
        _ => panic!("not an UPDATE"),
    }
}

/// Decodes and checks the outcome is treat-as-withdraw with one error of
/// the given type at the given offset; the prefix must come out withdrawn.
fn treat_as_withdraw(bytes: &[u8], type_code: u8, offset: usize) -> ErrorKind {
    let d = decode(bytes, &Codec::default());
    let UpdateOutcome::TreatAsWithdraw(errors) = &d.outcome else {
        panic!("expected treat-as-withdraw, got {:?}", d.outcome);
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].type_code, type_code);
    assert_eq!(errors[0].offset, offset);
    assert_eq!(errors[0].action, ErrorAction::TreatAsWithdraw);
    let changes = d.clone().into_update().unwrap().ipv4_unicast();
    assert!(changes.announced.is_empty());
    assert_eq!(changes.withdrawn.len(), 1);
    errors[0].kind.clone()
}

fn discard(bytes: &[u8], codec: &Codec, type_code: u8) -> Message {
    let d = decode_message(bytes, codec).unwrap();
    let UpdateOutcome::AttributeDiscard(errors) = &d.outcome else {
        panic!("expected attribute discard, got {:?}", d.outcome);
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].type_code, type_code);
    assert_eq!(errors[0].action, ErrorAction::AttributeDiscard);
    d.message
}

/// Attributes start at byte 23 of a message without withdrawn routes.
const ATTRS_AT: usize = 23;

#[test]
fn well_formed_update_is_clean() {
    let d = decode(
        &update(&[ORIGIN, AS_PATH, NEXT_HOP], NLRI),
        &Codec::default(),
    );
    assert_eq!(d.outcome, UpdateOutcome::Clean);
}

#[test]
fn malformed_communities_withdraw() {
    let k = treat_as_withdraw(
        &update(&[ORIGIN, AS_PATH, NEXT_HOP, "c0 08 03 000000"], NLRI),
        type_code::COMMUNITIES,
        ATTRS_AT + 4 + 7 + 7,
    );
    assert!(matches!(k, ErrorKind::AttributeLength { type_code: 8, .. }));
    // Zero-length COMMUNITIES is malformed too (RFC 7606 §7.8).
    treat_as_withdraw(
        &update(&[ORIGIN, AS_PATH, NEXT_HOP, "c0 08 00"], NLRI),
        8,
        41,
    );
}

#[test]
fn malformed_extended_and_large_communities_withdraw() {
    treat_as_withdraw(
        &update(
            &[ORIGIN, AS_PATH, NEXT_HOP, "c0 10 07 00000000000000"],
            NLRI,
        ),
        16,
        41,
    );
    treat_as_withdraw(
        &update(
            &[ORIGIN, AS_PATH, NEXT_HOP, "c0 20 0b 0000000000000000000000"],
            NLRI,
        ),
        32,
        41,
    );
}

#[test]
fn malformed_well_known_attributes_withdraw() {
    let k = treat_as_withdraw(
        &update(&["40 01 01 03", AS_PATH, NEXT_HOP], NLRI),
        1,
        ATTRS_AT,
    );
    assert_eq!(k.notification().subcode, 6, "Invalid ORIGIN");
    assert_eq!(k.notification().data.as_ref(), hex(&["40 01 01 03"]));
    treat_as_withdraw(
        &update(&["40 01 02 0000", AS_PATH, NEXT_HOP], NLRI),
        1,
        ATTRS_AT,
    );
    // AS_PATH: unknown segment type, empty segment, overrun.
    for bad in [
        "40 02 04 09 01 fde9",
        "40 02 02 02 00",
        "40 02 04 02 02 fde9",
    ] {
        let k = treat_as_withdraw(&update(&[ORIGIN, bad, NEXT_HOP], NLRI), 2, ATTRS_AT + 4);
        assert_eq!(k.notification().subcode, 11, "Malformed AS_PATH");
    }
    treat_as_withdraw(
        &update(&[ORIGIN, AS_PATH, "40 03 03 c00002"], NLRI),
        3,
        ATTRS_AT + 11,
    );
    treat_as_withdraw(
        &update(&[ORIGIN, AS_PATH, NEXT_HOP, "80 04 02 0001"], NLRI),
        4,
        41,
    );
    treat_as_withdraw(
        &update(&[ORIGIN, AS_PATH, NEXT_HOP, "40 05 05 0000000001"], NLRI),
        5,
        41,
    );
}

#[test]
fn conflicting_flags_withdraw() {
    // ORIGIN marked optional.
    let k = treat_as_withdraw(
        &update(&["c0 01 01 00", AS_PATH, NEXT_HOP], NLRI),
        1,
        ATTRS_AT,
    );
    assert!(matches!(k, ErrorKind::AttributeFlags { flags: 0xc0, .. }));
    assert_eq!(k.notification().subcode, 4);
}

#[test]
fn missing_mandatory_attributes_withdraw() {
    let k = treat_as_withdraw(&update(&[ORIGIN, AS_PATH], NLRI), 3, 34);
    assert_eq!(k, ErrorKind::MissingWellKnown { type_code: 3 });
    assert_eq!(k.notification().data.as_ref(), [3]);
    let d = decode(&update(&[], NLRI), &Codec::default());
    let missing: Vec<u8> = d.outcome.errors().iter().map(|e| e.type_code).collect();
    assert_eq!(missing, vec![1, 2, 3]);
    // Without NLRI nothing is mandatory.
    assert_eq!(
        decode(&update(&[], ""), &Codec::default()).outcome,
        UpdateOutcome::Clean
    );
}

#[test]
fn missing_mandatory_attributes_withdraw_ipv6() {
    let reach = "80 0e 1a 0002 01 10 20010db8000000000000000000000001 00 20 20010db8";
    let d = decode(&update(&[reach], ""), &Codec::default());
    assert!(matches!(d.outcome, UpdateOutcome::TreatAsWithdraw(_)));
    let changes = d.into_update().unwrap().ipv6_unicast();
    assert!(changes.announced.is_empty());
    assert_eq!(
        changes.withdrawn[0].prefix,
        "2001:db8::/32".parse().unwrap()
    );
}

#[test]
fn malformed_aggregator_and_atomic_aggregate_are_discarded() {
    let codec = Codec::default();
    let msg = discard(
        &update(&[ORIGIN, AS_PATH, NEXT_HOP, "c0 07 05 fde9c00002"], NLRI),
        &codec,
        7,
    );
    assert_eq!(codes(&msg), vec![1, 2, 3]);
    let msg = discard(
        &update(&[ORIGIN, AS_PATH, NEXT_HOP, "40 06 01 00"], NLRI),
        &codec,
        6,
    );
    assert_eq!(codes(&msg), vec![1, 2, 3]);
    // 8-byte AGGREGATOR on a 2-octet session.
    discard(
        &update(
            &[ORIGIN, AS_PATH, NEXT_HOP, "c0 07 08 0000fde9c0000201"],
            NLRI,
        ),
        &codec,
        7,
    );
}

#[test]
fn as4_attributes_are_discarded_when_malformed_or_unexpected() {
    let two = Codec::default();
    discard(
        &update(&[ORIGIN, AS_PATH, NEXT_HOP, "c0 11 03 020100"], NLRI),
        &two,
        17,
    );
    // Confederation segment in AS4_PATH.
    discard(
        &update(
            &[ORIGIN, AS_PATH, NEXT_HOP, "c0 11 06 03 01 00010000"],
            NLRI,
        ),
        &two,
        17,
    );
    discard(
        &update(&[ORIGIN, AS_PATH, NEXT_HOP, "c0 12 06 0001c0000201"], NLRI),
        &two,
        18,
    );
    // Well-formed, but between 4-octet speakers AS4_* has no business.
    let four = four_octet();
    let as_path4 = "40 02 06 02 01 0000fde9";
    discard(
        &update(
            &[ORIGIN, as_path4, NEXT_HOP, "c0 11 06 02 01 00010000"],
            NLRI,
        ),
        &four,
        17,
    );
}

#[test]
fn repeated_attributes_keep_the_first() {
    let msg = discard(
        &update(
            &[
                ORIGIN,
                AS_PATH,
                NEXT_HOP,
                "80 04 04 00000001",
                "80 04 04 00000002",
            ],
            NLRI,
        ),
        &Codec::default(),
        4,
    );
    let Message::Update(u) = msg else {
        unreachable!()
    };
    assert_eq!(u.attributes[3], PathAttribute::Med(1));
    assert_eq!(u.attributes.len(), 4);
}

#[test]
fn unknown_optional_attributes_are_kept() {
    let d = decode(
        &update(&[ORIGIN, AS_PATH, NEXT_HOP, "c0 63 02 abcd"], NLRI),
        &Codec::default(),
    );
    assert_eq!(d.outcome, UpdateOutcome::Clean);
    assert_eq!(codes(&d.message), vec![1, 2, 3, 99]);
}

#[test]
fn session_resets() {
    let codec = Codec::default();
    let reset = |bytes: Vec<u8>, offset: usize, subcode: u8| {
        let err = decode_err(&bytes, &codec);
        assert_eq!(err.offset, offset, "{err}");
        let n = err.notification();
        assert_eq!((n.code, n.subcode), (3, subcode), "{err}");
        err.kind
    };
    let unreach = "80 0f 03 000201";
    // MP_UNREACH_NLRI twice: Malformed Attribute List.
    reset(update(&[unreach, unreach], ""), ATTRS_AT + 6, 1);
    // Unknown well-known attribute: Unrecognized Well-known, data = attribute.
    let k = reset(update(&[ORIGIN, "40 63 01 00"], ""), ATTRS_AT + 4, 2);
    assert_eq!(k.notification().data.as_ref(), hex(&["40 63 01 00"]));
    // IPv6 next hop of 5 bytes: Optional Attribute Error.
    reset(
        update(&["80 0e 0a 0002 01 05 0000000000 00"], ""),
        ATTRS_AT,
        9,
    );
    // Next hop length runs past the attribute.
    reset(update(&["80 0e 05 0002 01 20 00"], ""), ATTRS_AT, 9);
    // Bad NLRI inside MP_REACH_NLRI.
    reset(
        update(
            &["80 0e 17 0002 01 10 20010db8000000000000000000000001 00 81 00"],
            "",
        ),
        ATTRS_AT,
        9,
    );
    // Bad prefix inside MP_UNREACH_NLRI.
    reset(update(&["80 0f 05 0002 01 40 20"], ""), ATTRS_AT, 9);
}

#[test]
fn attribute_overrunning_the_attribute_list_withdraws() {
    // RFC 7606 §4: the Total Attribute Length still locates the NLRI, so
    // the routes are withdrawn and the session stays up.
    for tail in ["40 03 09 c0000201", "40 03", "50 03 00"] {
        let k = treat_as_withdraw(&update(&[ORIGIN, AS_PATH, tail], NLRI), 3, ATTRS_AT + 11);
        assert!(
            matches!(k, ErrorKind::AttributeLength { type_code: 3, .. }),
            "{k:?}"
        );
    }
}

#[test]
fn add_path_mismatch_is_a_session_reset_not_a_panic() {
    // A peer that sends path identifiers we did not negotiate produces
    // garbage NLRI; the point is a clean error.
    let codec = Codec {
        add_path: AddPath {
            ipv4_unicast: true,
            ipv6_unicast: false,
        },
        ..Codec::default()
    };
    let err = decode_err(&update(&[ORIGIN, AS_PATH, NEXT_HOP], "20 c0000264"), &codec);
    assert_eq!(err.notification().subcode, 10);
}
