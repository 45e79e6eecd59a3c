//! Stopping for a planned restart (RFC 4724 §4.1): the session that
//! negotiated graceful restart closes without NOTIFICATION, every other
//! connection says goodbye as a ManualStop does.
#![allow(clippy::unwrap_used)]

#[path = "fsm_common.rs"]
mod common;

use common::*;
use ferrolb_bgp::fsm::*;

fn graceful_stop() -> Event {
    Event::GracefulStop {
        reason: "upgrade".into(),
    }
}

fn with_gr(mut open: PeerOpen) -> PeerOpen {
    open.capabilities.graceful_restart = Some(GracefulRestart {
        restart_state: false,
        restart_time: 120,
        families: vec![],
    });
    open
}

fn gr_config() -> SessionConfig {
    let mut cfg = config();
    cfg.graceful_restart = true;
    cfg
}

/// Established with both sides advertising graceful restart.
fn established_with_gr(h: &mut Harness) -> ConnectionId {
    let conn = h.open_sent();
    let open = with_gr(peer_open());
    assert_eq!(
        h.ev(Event::OpenReceived { conn, open }),
        vec![Action::SendKeepalive { conn }]
    );
    let up = h.ev(Event::KeepaliveReceived { conn });
    let [Action::SessionUp { session, .. }] = up.as_slice() else {
        panic!("{up:?}");
    };
    assert!(session.graceful_restart.is_some(), "negotiated");
    conn
}

#[test]
fn a_graceful_stop_closes_a_graceful_restart_session_without_notification() {
    let mut h = Harness::new(gr_config());
    let conn = established_with_gr(&mut h);
    assert_eq!(
        h.ev(graceful_stop()),
        vec![
            disconnect(conn),
            Action::SessionDown {
                conn,
                reason: DownReason::GracefulStop
            }
        ]
    );
    assert_eq!(h.s.state(), State::Idle);
    // Stopped for good: no automatic restart, nothing to poll.
    assert_eq!(h.s.next_deadline(), None);
    assert!(h.run_for(600_000).is_empty());
}

#[test]
fn a_graceful_stop_says_goodbye_when_the_peer_lacks_graceful_restart() {
    // We offer it, the peer does not: it would keep nothing, so it must
    // hear that we stop rather than wait for its hold timer.
    let mut h = Harness::new(gr_config());
    let conn = h.established();
    assert_eq!(
        h.ev(graceful_stop()),
        vec![
            notify_data(conn, 6, 2, b"\x07upgrade".to_vec()),
            disconnect(conn),
            Action::SessionDown {
                conn,
                reason: DownReason::ManualStop
            }
        ]
    );
    assert_eq!(h.s.state(), State::Idle);
}

#[test]
fn a_graceful_stop_says_goodbye_when_we_did_not_offer_graceful_restart() {
    let mut h = Harness::new(config());
    let conn = h.open_sent();
    h.ev(Event::OpenReceived {
        conn,
        open: with_gr(peer_open()),
    });
    let up = h.ev(Event::KeepaliveReceived { conn });
    let [Action::SessionUp { session, .. }] = up.as_slice() else {
        panic!("{up:?}");
    };
    assert_eq!(session.graceful_restart, None, "only the peer offered it");
    let actions = h.ev(graceful_stop());
    assert_eq!(actions[0], notify_data(conn, 6, 2, b"\x07upgrade".to_vec()));
}

#[test]
fn a_graceful_stop_is_silent_only_on_connections_that_negotiated_it() {
    // The session is up with graceful restart; the peer dials again and
    // its connection is still in OpenSent: that one gets the Cease.
    let mut h = Harness::new(gr_config());
    let ours = established_with_gr(&mut h);
    let theirs = inb(7);
    assert_eq!(
        h.ev(Event::TcpConnectionConfirmed { conn: theirs }),
        vec![Action::SendOpen { conn: theirs }]
    );
    let actions = h.ev(graceful_stop());
    assert_eq!(
        actions,
        vec![
            disconnect(ours),
            Action::SessionDown {
                conn: ours,
                reason: DownReason::GracefulStop
            },
            notify_data(theirs, 6, 2, b"\x07upgrade".to_vec()),
            disconnect(theirs),
        ]
    );
    assert_eq!(h.s.state(), State::Idle);
}

#[test]
fn a_graceful_stop_before_any_open_just_drops_the_attempt() {
    let mut h = Harness::new(gr_config());
    let conn = h.connect();
    assert_eq!(h.ev(graceful_stop()), vec![disconnect(conn)]);
    assert_eq!(h.s.state(), State::Idle);
    assert_eq!(h.s.next_deadline(), None);
}

#[test]
fn a_graceful_stop_in_idle_does_nothing() {
    let mut h = Harness::new(gr_config());
    assert!(h.ev(graceful_stop()).is_empty());
    assert_eq!(h.s.state(), State::Idle);
}

#[test]
fn graceful_restart_is_negotiated_only_when_both_offer_it() {
    for (ours, theirs, negotiated) in [
        (true, true, true),
        (true, false, false),
        (false, true, false),
        (false, false, false),
    ] {
        let mut cfg = config();
        cfg.graceful_restart = ours;
        let mut open = peer_open();
        if theirs {
            open = with_gr(open);
        }
        let session = check_open(&cfg, &open).unwrap();
        assert_eq!(
            session.graceful_restart.is_some(),
            negotiated,
            "ours {ours}, theirs {theirs}"
        );
    }
}
