//! Control packets captured in the lab between FRR 8.4's bfdd and BIRD
//! 2.0.12 (`tcpdump udp port 3784` on the LAN, both routers single-hop with
//! their default timers, IPv4 and IPv6; every packet arrived with TTL 255):
//! each decodes to what the routers meant and re-encodes byte for byte.

use ferrolb_bfd::wire::{Diagnostic, SessionState, decode};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// (router, what, bytes, state, poll, final, diag, mult, your, tx µs, rx µs, echo µs)
type Vector = (
    &'static str,
    &'static str,
    &'static str,
    SessionState,
    bool,
    bool,
    Diagnostic,
    u8,
    u32,
    u32,
    u32,
    u32,
);

const VECTORS: &[Vector] = &[
    (
        "BIRD",
        "IPv4 first Down, peer unknown: 1 s TX, 10 ms RX, multiplier 5",
        "204005181f5885ae00000000000f42400000271000000000",
        SessionState::Down,
        false,
        false,
        Diagnostic::NoDiagnostic,
        5,
        0,
        1_000_000,
        10_000,
        0,
    ),
    (
        "BIRD",
        "IPv4 Init",
        "208005181f5885ae181d95e4000f42400000271000000000",
        SessionState::Init,
        false,
        false,
        Diagnostic::NoDiagnostic,
        5,
        0x181d_95e4,
        1_000_000,
        10_000,
        0,
    ),
    (
        "BIRD",
        "IPv4 Up with Poll: 100 ms TX now",
        "20e005181f5885ae257cf0a2000186a00000271000000000",
        SessionState::Up,
        true,
        false,
        Diagnostic::NoDiagnostic,
        5,
        0x257c_f0a2,
        100_000,
        10_000,
        0,
    ),
    (
        "BIRD",
        "IPv6 Final",
        "20d005184169c78b25e97ff7000186a00000271000000000",
        SessionState::Up,
        false,
        true,
        Diagnostic::NoDiagnostic,
        5,
        0x25e9_7ff7,
        100_000,
        10_000,
        0,
    ),
    (
        "FRR",
        "IPv4 Down after the neighbour's Down (diag 3), echo RX 50 ms advertised",
        "23400318181d95e41f5885ae000f4240000f42400000c350",
        SessionState::Down,
        false,
        false,
        Diagnostic::NeighborSignaledSessionDown,
        3,
        0x1f58_85ae,
        1_000_000,
        1_000_000,
        50_000,
    ),
    (
        "FRR",
        "IPv4 Up with Poll: 300 ms both ways",
        "20e00318257cf0a21f5885ae000493e0000493e00000c350",
        SessionState::Up,
        true,
        false,
        Diagnostic::NoDiagnostic,
        3,
        0x1f58_85ae,
        300_000,
        300_000,
        50_000,
    ),
    (
        "FRR",
        "IPv6 Final",
        "20d0031825e97ff74169c78b000493e0000493e00000c350",
        SessionState::Up,
        false,
        true,
        Diagnostic::NoDiagnostic,
        3,
        0x4169_c78b,
        300_000,
        300_000,
        50_000,
    ),
    (
        "FRR",
        "IPv6 Up, periodic",
        "20c0031825e97ff74169c78b000493e0000493e00000c350",
        SessionState::Up,
        false,
        false,
        Diagnostic::NoDiagnostic,
        3,
        0x4169_c78b,
        300_000,
        300_000,
        50_000,
    ),
];

#[test]
fn packets_from_frr_and_bird_decode_and_reencode() {
    for &(router, what, bytes, state, poll, final_, diag, mult, your, tx, rx, echo) in VECTORS {
        let bytes = hex(bytes);
        let p = decode(&bytes).unwrap_or_else(|e| panic!("{router} {what}: {e}"));
        assert_eq!(
            (p.state, p.poll, p.final_, p.diag, p.detect_mult),
            (state, poll, final_, diag, mult),
            "{router} {what}"
        );
        assert_eq!(
            (p.your_discriminator, p.desired_min_tx, p.required_min_rx),
            (your, tx, rx),
            "{router} {what}"
        );
        assert_eq!(p.required_min_echo_rx, echo, "{router} {what}");
        assert!(!p.demand && !p.control_plane_independent);
        assert_eq!(p.encode().to_vec(), bytes, "{router} {what}");
    }
}

/// Our state machine, with FRR's discriminator, meets BIRD's captured
/// handshake: Down -> Init on its first Down, Up on its Init, and answers
/// its Poll with a Final carrying BIRD's discriminator.
#[test]
fn birds_captured_handshake_brings_our_session_up() {
    use ferrolb_bfd::fsm::{Action, Micros, Session, SessionConfig, Timers};
    let discr = std::num::NonZeroU32::new(0x181d_95e4).expect("nonzero");
    let config = SessionConfig {
        timers: Timers::default(),
        passive: false,
    };
    let mut s = Session::new(config, discr, 1, Micros(0));
    let packet = |i: usize| decode(&hex(VECTORS[i].2)).expect("valid");
    let _ = s.receive(Micros(1_000), &packet(0));
    assert_eq!(s.state(), SessionState::Init);
    assert_eq!(s.remote_discriminator(), 0x1f58_85ae);
    let _ = s.receive(Micros(2_000), &packet(1));
    assert_eq!(s.state(), SessionState::Up);
    // BIRD's Poll names FRR's later discriminator; ours answers only its own.
    let mut poll = packet(2);
    poll.your_discriminator = discr.get();
    let actions = s.receive(Micros(3_000), &poll);
    assert!(actions.iter().any(|a| matches!(a,
        Action::Send(p) if p.final_ && !p.poll && p.your_discriminator == 0x1f58_85ae)));
    // BIRD asked for 10 ms: we still send no faster than our own 300 ms.
    assert_eq!(s.tx_interval_us(), Some(300_000));
}
