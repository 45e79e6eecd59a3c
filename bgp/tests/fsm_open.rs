//! OPEN validation (RFC 4271 §6.2, RFC 6793, RFC 6286) and negotiation.
#![allow(clippy::unwrap_used)]

#[path = "fsm_common.rs"]
mod common;

use common::*;
use ferrolb_bgp::fsm::*;

fn refused(config: &SessionConfig, open: &PeerOpen) -> Notification {
    check_open(config, open).unwrap_err().notification()
}

fn subcode(config: &SessionConfig, open: &PeerOpen) -> (u8, u8) {
    let n = refused(config, open);
    (n.code, n.subcode)
}

fn with(f: impl FnOnce(&mut PeerOpen)) -> PeerOpen {
    let mut open = peer_open();
    f(&mut open);
    open
}

#[test]
fn the_usual_open_is_accepted() {
    assert_eq!(check_open(&config(), &peer_open()), Ok(negotiated()));
}

#[test]
fn unsupported_version_names_version_4_in_two_octets() {
    let n = refused(&config(), &with(|o| o.version = 3));
    assert_eq!((n.code, n.subcode, n.data), (2, 1, vec![0, 4]));
}

#[test]
fn peer_as_must_match_the_configuration() {
    assert_eq!(
        subcode(
            &config(),
            &with(|o| {
                o.my_as = 65000;
                o.capabilities.four_octet_as = Some(65000);
            })
        ),
        (2, 2)
    );
    let internal = SessionConfig::new(LOCAL_AS, LOCAL_ID, PeerAs::Internal);
    assert_eq!(subcode(&internal, &peer_open()), (2, 2));
    let external = SessionConfig::new(PEER_AS, LOCAL_ID, PeerAs::External);
    assert_eq!(subcode(&external, &peer_open()), (2, 2));
    let any = SessionConfig::new(LOCAL_AS, LOCAL_ID, PeerAs::Any);
    assert_eq!(check_open(&any, &peer_open()).unwrap().peer_as, PEER_AS);
    assert_eq!(
        subcode(
            &any,
            &with(|o| {
                o.my_as = 0;
                o.capabilities.four_octet_as = None;
            })
        ),
        (2, 2)
    );
}

#[test]
fn as_trans_is_resolved_through_the_four_octet_capability() {
    let big = 4_200_000_001;
    let cfg = SessionConfig::new(LOCAL_AS, LOCAL_ID, PeerAs::Exact(big));
    let open = with(|o| {
        o.my_as = AS_TRANS;
        o.capabilities.four_octet_as = Some(big);
    });
    let session = check_open(&cfg, &open).unwrap();
    assert_eq!(session.peer_as, big);
    assert!(session.four_octet_as);
    // AS_TRANS without the capability names no real AS.
    let any = SessionConfig::new(LOCAL_AS, LOCAL_ID, PeerAs::Any);
    let old = with(|o| {
        o.my_as = AS_TRANS;
        o.capabilities.four_octet_as = None;
    });
    assert_eq!(subcode(&any, &old), (2, 2));
    // A 2-octet field that contradicts the capability.
    let liar = with(|o| o.capabilities.four_octet_as = Some(64999));
    assert_eq!(subcode(&any, &liar), (2, 2));
    // An old speaker without the capability is fine.
    let old_ok = with(|o| o.capabilities.four_octet_as = None);
    assert!(!check_open(&config(), &old_ok).unwrap().four_octet_as);
}

#[test]
fn bgp_identifier_must_be_nonzero_and_not_ours_on_ibgp() {
    assert_eq!(subcode(&config(), &with(|o| o.bgp_id = BgpId(0))), (2, 3));
    let ibgp = SessionConfig::new(LOCAL_AS, LOCAL_ID, PeerAs::Internal);
    let ours = with(|o| {
        o.my_as = 64512;
        o.capabilities.four_octet_as = Some(LOCAL_AS);
        o.bgp_id = LOCAL_ID;
    });
    assert_eq!(subcode(&ibgp, &ours), (2, 3));
    // eBGP may share an identifier (RFC 6286).
    assert!(check_open(&config(), &with(|o| o.bgp_id = LOCAL_ID)).is_ok());
}

#[test]
fn hold_time_of_one_or_two_seconds_is_unacceptable() {
    for bad in [1, 2] {
        assert_eq!(subcode(&config(), &with(|o| o.hold_time = bad)), (2, 6));
    }
    for good in [0, 3, 65535] {
        assert!(check_open(&config(), &with(|o| o.hold_time = good)).is_ok());
    }
}

#[test]
fn families_are_intersected_and_absence_means_ipv4_unicast() {
    let none = with(|o| o.capabilities.multiprotocol.clear());
    assert_eq!(
        check_open(&config(), &none).unwrap().families,
        vec![Family::IPV4_UNICAST]
    );
    let v6 = with(|o| o.capabilities.multiprotocol = vec![Family::IPV6_UNICAST]);
    assert_eq!(
        check_open(&config(), &v6).unwrap().families,
        vec![Family::IPV6_UNICAST]
    );
    let mut v4_only = config();
    v4_only.families = vec![Family::IPV4_UNICAST];
    let n = refused(&v4_only, &v6);
    assert_eq!((n.code, n.subcode), (2, 7));
    assert_eq!(n.data, vec![1, 4, 0, 1, 0, 1]);
}

#[test]
fn optional_capabilities_need_both_sides() {
    let mut cfg = config();
    cfg.extended_message = true;
    cfg.graceful_restart = true;
    let gr = GracefulRestart {
        restart_state: true,
        restart_time: 120,
        families: vec![GracefulRestartFamily {
            family: Family::IPV4_UNICAST,
            forwarding_preserved: true,
        }],
    };
    let rich = with(|o| {
        o.capabilities.extended_message = true;
        o.capabilities.graceful_restart = Some(gr.clone());
    });
    let s = check_open(&cfg, &rich).unwrap();
    assert!(s.extended_message && s.route_refresh);
    assert_eq!(s.graceful_restart, Some(gr));
    let s = check_open(&config(), &rich).unwrap();
    assert!(!s.extended_message);
    assert_eq!(s.graceful_restart, None);
    let plain = with(|o| o.capabilities.route_refresh = false);
    assert!(!check_open(&cfg, &plain).unwrap().route_refresh);
}

#[test]
fn a_refused_open_tears_the_session_down_with_its_notification() {
    let mut h = Harness::new(config());
    let conn = h.open_sent();
    let actions = h.ev(Event::OpenReceived {
        conn,
        open: with(|o| o.hold_time = 2),
    });
    assert_eq!(actions, vec![notify(conn, 2, 6), disconnect(conn)]);
    assert_eq!(h.s.state(), State::Idle);
}
