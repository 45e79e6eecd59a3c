//! BFD Down (RFC 5882 §4.3): the session closes with Cease / BFD Down
//! (RFC 9384) and comes back by itself, like an administrative reset.
#![allow(clippy::unwrap_used)]

#[path = "fsm_common.rs"]
mod common;

use common::*;
use ferrolb_bgp::fsm::*;

#[test]
fn bfd_down_closes_established_with_cease_10_and_restarts() {
    let mut h = Harness::new(config());
    let conn = h.established();
    let actions = h.ev(Event::BfdDown);
    assert_eq!(
        actions,
        vec![
            notify(conn, 6, 10),
            disconnect(conn),
            Action::SessionDown {
                conn,
                reason: DownReason::NotificationSent {
                    code: 6,
                    subcode: 10
                },
            },
        ]
    );
    assert_eq!(h.s.state(), State::Idle);
    assert_eq!(
        h.fire_next_deadline(),
        vec![Action::Connect { conn: out(1) }]
    );
}

#[test]
fn bfd_down_in_idle_is_ignored() {
    let mut h = Harness::new(config());
    assert!(h.ev(Event::BfdDown).is_empty());
    assert_eq!(h.s.state(), State::Idle);
}

#[test]
fn bfd_down_while_connecting_drops_the_attempt() {
    let mut h = Harness::new(config());
    let conn = h.connect();
    let actions = h.ev(Event::BfdDown);
    assert_eq!(actions, vec![disconnect(conn)]);
    assert_eq!(h.s.state(), State::Idle);
}
