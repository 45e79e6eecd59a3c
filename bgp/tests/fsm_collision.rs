//! Connection collisions (RFC 4271 §6.8): both outcomes, both arrival orders.
#![allow(clippy::unwrap_used)]

#[path = "fsm_common.rs"]
mod common;

use common::*;
use ferrolb_bgp::fsm::*;

const PEER_LOWER: BgpId = BgpId(0x0A00_0001);
const PEER_HIGHER: BgpId = BgpId(0x0A00_0009);

fn open_from(id: BgpId) -> PeerOpen {
    let mut open = peer_open();
    open.bgp_id = id;
    open
}

fn cease_collision(conn: ConnectionId) -> Vec<Action> {
    vec![notify(conn, 6, 7), disconnect(conn)]
}

/// Our outbound connection and the peer's inbound one, both in OpenSent.
fn both_open_sent() -> (Harness, ConnectionId, ConnectionId) {
    let mut h = Harness::new(config());
    let ours = h.open_sent();
    let theirs = inb(7);
    assert_eq!(
        h.ev(Event::TcpConnectionConfirmed { conn: theirs }),
        vec![Action::SendOpen { conn: theirs }]
    );
    assert_eq!(h.s.connections(), vec![ours, theirs]);
    (h, ours, theirs)
}

fn open_on(h: &mut Harness, conn: ConnectionId, id: BgpId) -> Vec<Action> {
    h.ev(Event::OpenReceived {
        conn,
        open: open_from(id),
    })
}

#[test]
fn higher_peer_id_keeps_the_peers_connection() {
    let (mut h, ours, theirs) = both_open_sent();
    assert_eq!(
        open_on(&mut h, ours, PEER_HIGHER),
        vec![Action::SendKeepalive { conn: ours }]
    );
    let mut expected = cease_collision(ours);
    expected.push(Action::SendKeepalive { conn: theirs });
    assert_eq!(open_on(&mut h, theirs, PEER_HIGHER), expected);
    assert_eq!(h.s.connections(), vec![theirs]);
    assert_eq!(h.s.state(), State::OpenConfirm);
    let up = h.ev(Event::KeepaliveReceived { conn: theirs });
    assert!(matches!(up.as_slice(), [Action::SessionUp { conn, .. }] if *conn == theirs));
}

#[test]
fn lower_peer_id_keeps_our_connection() {
    let (mut h, ours, theirs) = both_open_sent();
    open_on(&mut h, ours, PEER_LOWER);
    assert_eq!(open_on(&mut h, theirs, PEER_LOWER), cease_collision(theirs));
    assert_eq!(h.s.connections(), vec![ours]);
    assert_eq!(h.s.state(), State::OpenConfirm);
}

#[test]
fn the_rule_holds_whichever_open_arrives_first() {
    // The peer's OPEN first: its connection is the one in OpenConfirm.
    let (mut h, ours, theirs) = both_open_sent();
    open_on(&mut h, theirs, PEER_HIGHER);
    assert_eq!(open_on(&mut h, ours, PEER_HIGHER), cease_collision(ours));
    assert_eq!(h.s.connections(), vec![theirs]);

    let (mut h, ours, theirs) = both_open_sent();
    open_on(&mut h, theirs, PEER_LOWER);
    let mut expected = cease_collision(theirs);
    expected.push(Action::SendKeepalive { conn: ours });
    assert_eq!(open_on(&mut h, ours, PEER_LOWER), expected);
    assert_eq!(h.s.connections(), vec![ours]);
}

#[test]
fn equal_identifiers_fall_back_to_the_as_number() {
    // RFC 6286 §2.3: the peer's AS (64513) beats ours (64512).
    let (mut h, ours, theirs) = both_open_sent();
    open_on(&mut h, ours, LOCAL_ID);
    let mut expected = cease_collision(ours);
    expected.push(Action::SendKeepalive { conn: theirs });
    assert_eq!(open_on(&mut h, theirs, LOCAL_ID), expected);
}

#[test]
fn an_established_session_wins_over_a_newcomer() {
    let mut h = Harness::new(config());
    let ours = h.established();
    let theirs = inb(7);
    h.ev(Event::TcpConnectionConfirmed { conn: theirs });
    assert_eq!(
        open_on(&mut h, theirs, PEER_HIGHER),
        cease_collision(theirs)
    );
    assert_eq!(h.s.established().map(|(c, _)| c), Some(ours));
}

#[test]
fn with_graceful_restart_a_new_open_replaces_the_old_session() {
    let mut cfg = config();
    cfg.graceful_restart = true;
    let mut h = Harness::new(cfg);
    let ours = h.open_sent();
    let mut open = peer_open();
    open.capabilities.graceful_restart = Some(GracefulRestart {
        restart_state: false,
        restart_time: 120,
        families: vec![],
    });
    h.ev(Event::OpenReceived {
        conn: ours,
        open: open.clone(),
    });
    h.ev(Event::KeepaliveReceived { conn: ours });
    assert_eq!(h.s.state(), State::Established);

    let theirs = inb(7);
    h.ev(Event::TcpConnectionConfirmed { conn: theirs });
    open.capabilities
        .graceful_restart
        .as_mut()
        .unwrap()
        .restart_state = true;
    let actions = h.ev(Event::OpenReceived { conn: theirs, open });
    assert_eq!(
        actions,
        vec![
            disconnect(ours),
            Action::SessionDown {
                conn: ours,
                reason: DownReason::PeerRestarted
            },
            Action::SendKeepalive { conn: theirs },
        ]
    );
    assert_eq!(h.s.state(), State::OpenConfirm);
    let up = h.ev(Event::KeepaliveReceived { conn: theirs });
    let [Action::SessionUp { session, .. }] = up.as_slice() else {
        panic!("{up:?}");
    };
    assert!(session.graceful_restart.as_ref().unwrap().restart_state);
}

#[test]
fn a_third_connection_is_refused() {
    let (mut h, _, _) = both_open_sent();
    assert_eq!(
        h.ev(Event::TcpConnectionConfirmed { conn: inb(8) }),
        vec![disconnect(inb(8))]
    );
    assert_eq!(h.s.connections().len(), 2);
}

#[test]
fn losing_one_of_two_connections_keeps_the_session_going() {
    let (mut h, ours, theirs) = both_open_sent();
    open_on(&mut h, ours, PEER_HIGHER);
    assert_eq!(
        h.ev(Event::TcpConnectionFails { conn: theirs }),
        vec![disconnect(theirs)]
    );
    assert_eq!(h.s.state(), State::OpenConfirm);
    // An error on the remaining one still tears the session down.
    h.ev(Event::UpdateReceived { conn: ours });
    assert_eq!(h.s.state(), State::Idle);
}

#[test]
fn each_connection_has_its_own_hold_timer() {
    let (mut h, ours, theirs) = both_open_sent();
    h.run_for(100_000);
    // The peer never answers on its own connection: it times out at 4 minutes...
    open_on(&mut h, ours, PEER_LOWER);
    h.ev(Event::KeepaliveReceived { conn: ours });
    let mut actions = h.run_for(70_000);
    h.ev(Event::KeepaliveReceived { conn: ours });
    actions.extend(h.run_for(70_000));
    assert!(actions.contains(&notify(theirs, 4, 0)), "{actions:?}");
    // ...while the session on ours lives on.
    assert_eq!(h.s.state(), State::Established);
}

#[test]
fn resolve_follows_the_identifiers() {
    let local = Speaker {
        id: LOCAL_ID,
        asn: LOCAL_AS,
    };
    let higher = Speaker {
        id: PEER_HIGHER,
        asn: PEER_AS,
    };
    let lower = Speaker {
        id: PEER_LOWER,
        asn: PEER_AS,
    };
    use Origin::*;
    let cases = [
        (higher, Outbound, Inbound, Survivor::New),
        (higher, Inbound, Outbound, Survivor::Existing),
        (lower, Outbound, Inbound, Survivor::Existing),
        (lower, Inbound, Outbound, Survivor::New),
        (lower, Inbound, Inbound, Survivor::Existing),
    ];
    for (remote, existing, new, survivor) in cases {
        assert_eq!(resolve_collision(local, remote, existing, new), survivor);
    }
}
