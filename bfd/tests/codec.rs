//! The Control packet codec against byte vectors built from RFC 5880 §4.1's
//! layout, each paired with its decoded value and checked both ways, and
//! every discard rule of §6.8.6 that a packet alone can break.

use ferrolb_bfd::wire::{AuthType, ControlPacket, DecodeError, Diagnostic, SessionState, decode};
use proptest::prelude::*;

/// A Down packet before the peer is known: Your Discriminator zero, the
/// slow 1 s transmit interval of §6.8.3, 300 ms receive, no Echo.
const DOWN_FIRST: [u8; 24] = [
    0x20, 0x40, 0x03, 0x18, // version 1, diag 0 | Down | mult 3 | length 24
    0x00, 0x00, 0x00, 0x01, // My Discriminator 1
    0x00, 0x00, 0x00, 0x00, // Your Discriminator 0
    0x00, 0x0f, 0x42, 0x40, // Desired Min TX 1 000 000 µs
    0x00, 0x04, 0x93, 0xe0, // Required Min RX 300 000 µs
    0x00, 0x00, 0x00, 0x00, // Required Min Echo RX 0
];

/// An Up packet with Poll, after a detection timeout (diag 1), 50 ms timers.
const UP_POLL: [u8; 24] = [
    0x21, 0xe0, 0x03, 0x18, // version 1, diag 1 | Up, P | mult 3 | length 24
    0xde, 0xad, 0xbe, 0xef, // My Discriminator
    0x00, 0x00, 0x00, 0x2a, // Your Discriminator 42
    0x00, 0x00, 0xc3, 0x50, // 50 000 µs
    0x00, 0x00, 0xc3, 0x50, // 50 000 µs
    0x00, 0x00, 0xc3, 0x50, // Echo 50 000 µs
];

fn down_first() -> ControlPacket {
    ControlPacket {
        diag: Diagnostic::NoDiagnostic,
        state: SessionState::Down,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: 1,
        your_discriminator: 0,
        desired_min_tx: 1_000_000,
        required_min_rx: 300_000,
        required_min_echo_rx: 0,
    }
}

fn up_poll() -> ControlPacket {
    ControlPacket {
        diag: Diagnostic::ControlDetectionTimeExpired,
        state: SessionState::Up,
        poll: true,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: 0xdead_beef,
        your_discriminator: 42,
        desired_min_tx: 50_000,
        required_min_rx: 50_000,
        required_min_echo_rx: 50_000,
    }
}

#[test]
fn golden_vectors_decode_and_encode() {
    for (bytes, packet) in [(DOWN_FIRST, down_first()), (UP_POLL, up_poll())] {
        assert_eq!(decode(&bytes), Ok(packet));
        assert_eq!(packet.encode(), bytes);
    }
}

#[test]
fn flags_each_in_their_bit() {
    let mut bytes = UP_POLL;
    bytes[1] = 0x98; // Init | F | C
    bytes[0] = 0x27; // diag 7
    let p = decode(&bytes).expect("valid");
    assert_eq!(p.state, SessionState::Init);
    assert!(!p.poll && p.final_ && p.control_plane_independent && !p.demand);
    assert_eq!(p.diag, Diagnostic::AdministrativelyDown);
    assert_eq!(p.encode(), bytes);
    bytes[1] = 0x02 | 0xc0; // Up | D
    assert!(decode(&bytes).expect("valid").demand);
}

#[test]
fn a_longer_length_without_authentication_is_accepted() {
    let mut long = DOWN_FIRST.to_vec();
    long.extend_from_slice(&[0; 4]);
    long[3] = 28;
    assert_eq!(decode(&long), Ok(down_first()));
}

#[test]
fn bytes_past_length_are_ignored() {
    let mut long = DOWN_FIRST.to_vec();
    long.extend_from_slice(&[0xff; 8]);
    assert_eq!(decode(&long), Ok(down_first()));
}

fn with(mut bytes: [u8; 24], edit: impl FnOnce(&mut [u8; 24])) -> [u8; 24] {
    edit(&mut bytes);
    bytes
}

#[test]
fn every_packet_level_discard_rule_of_6_8_6() {
    assert_eq!(
        decode(&DOWN_FIRST[..23]),
        Err(DecodeError::Truncated { got: 23 })
    );
    assert_eq!(
        decode(&with(DOWN_FIRST, |b| b[0] = 0x40)),
        Err(DecodeError::Version(2))
    );
    assert_eq!(
        decode(&with(DOWN_FIRST, |b| b[3] = 23)),
        Err(DecodeError::LengthTooShort {
            length: 23,
            minimum: 24
        })
    );
    assert_eq!(
        decode(&with(DOWN_FIRST, |b| b[3] = 25)),
        Err(DecodeError::LengthBeyondPayload {
            length: 25,
            payload: 24
        })
    );
    assert_eq!(
        decode(&with(DOWN_FIRST, |b| b[2] = 0)),
        Err(DecodeError::ZeroDetectMult)
    );
    assert_eq!(
        decode(&with(DOWN_FIRST, |b| b[1] |= 0x01)),
        Err(DecodeError::Multipoint)
    );
    assert_eq!(
        decode(&with(DOWN_FIRST, |b| b[7] = 0)),
        Err(DecodeError::ZeroMyDiscriminator)
    );
    for (sta, state) in [(0x80, SessionState::Init), (0xc0, SessionState::Up)] {
        assert_eq!(
            decode(&with(DOWN_FIRST, |b| b[1] = sta)),
            Err(DecodeError::ZeroYourDiscriminator(state))
        );
    }
    // AdminDown may also leave Your Discriminator zero.
    assert!(decode(&with(DOWN_FIRST, |b| b[1] = 0x00)).is_ok());
}

fn authenticated(kind: u8, auth_len: u8, section: usize) -> Vec<u8> {
    let mut bytes = DOWN_FIRST.to_vec();
    bytes[1] |= 0x04;
    bytes[3] = (24 + section) as u8;
    bytes.push(kind);
    bytes.push(auth_len);
    bytes.resize(24 + section, 0);
    bytes
}

#[test]
fn authentication_is_parsed_then_refused() {
    // A bit with Length 24: too short for any section.
    assert_eq!(
        decode(&with(DOWN_FIRST, |b| b[1] |= 0x04)),
        Err(DecodeError::LengthTooShort {
            length: 24,
            minimum: 26
        })
    );
    for (kind, len, auth) in [
        (1, 7, AuthType::SimplePassword),
        (2, 24, AuthType::KeyedMd5),
        (3, 24, AuthType::MeticulousKeyedMd5),
        (4, 28, AuthType::KeyedSha1),
        (5, 28, AuthType::MeticulousKeyedSha1),
    ] {
        assert_eq!(
            decode(&authenticated(kind, len, usize::from(len))),
            Err(DecodeError::AuthenticationNotSupported(auth))
        );
    }
    // Keyed MD5 must be 24 bytes; a section that disagrees with Length.
    assert_eq!(
        decode(&authenticated(2, 20, 20)),
        Err(DecodeError::AuthLength {
            auth: AuthType::KeyedMd5,
            auth_len: 20,
            section: 20
        })
    );
    assert_eq!(
        decode(&authenticated(1, 10, 12)),
        Err(DecodeError::AuthLength {
            auth: AuthType::SimplePassword,
            auth_len: 10,
            section: 12
        })
    );
    // A 17-byte password is one too many.
    assert!(matches!(
        decode(&authenticated(1, 20, 20)),
        Err(DecodeError::AuthLength { .. })
    ));
}

fn state() -> impl Strategy<Value = SessionState> {
    prop_oneof![
        Just(SessionState::AdminDown),
        Just(SessionState::Down),
        Just(SessionState::Init),
        Just(SessionState::Up),
    ]
}

prop_compose! {
    fn packet()(
        diag in 0u8..32, state in state(), flags in any::<[bool; 4]>(),
        detect_mult in 1u8.., my in 1u32.., your in any::<u32>(),
        tx in any::<u32>(), rx in any::<u32>(), echo in any::<u32>(),
    ) -> ControlPacket {
        let diag = decode_diag(diag);
        let your = if matches!(state, SessionState::Init | SessionState::Up) { your.max(1) } else { your };
        ControlPacket {
            diag, state, poll: flags[0], final_: flags[1],
            control_plane_independent: flags[2], demand: flags[3], detect_mult,
            my_discriminator: my, your_discriminator: your,
            desired_min_tx: tx, required_min_rx: rx, required_min_echo_rx: echo,
        }
    }
}

fn decode_diag(v: u8) -> Diagnostic {
    let mut bytes = DOWN_FIRST;
    bytes[0] = 0x20 | v;
    decode(&bytes).expect("valid").diag
}

proptest! {
    #[test]
    fn every_valid_packet_round_trips(p in packet()) {
        prop_assert_eq!(decode(&p.encode()), Ok(p));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_reencode_exactly(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(p) = decode(&bytes) {
            // What was accepted re-encodes to its first 24 bytes, but for
            // the Length: ours is 24, a longer one is accepted (§6.8.6 only
            // bounds it by the minimum and the payload).
            let mut first = bytes[..24].to_vec();
            prop_assert!(first[3] >= 24 && usize::from(first[3]) <= bytes.len());
            first[3] = 24;
            prop_assert_eq!(&p.encode()[..], &first[..]);
        }
    }
}
