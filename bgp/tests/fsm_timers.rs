//! Hold, keepalive, ConnectRetry backoff and automatic restart, with a hand-moved clock.
#![allow(clippy::unwrap_used)]

#[path = "fsm_common.rs"]
mod common;

use std::num::NonZeroU16;

use common::*;
use ferrolb_bgp::fsm::*;

fn keepalives(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::SendKeepalive { .. }))
        .count()
}

/// Establishes with the peer proposing `hold` seconds.
fn established_with(mut h: Harness, hold: u16) -> (Harness, ConnectionId) {
    let conn = h.open_sent();
    let mut open = peer_open();
    open.hold_time = hold;
    h.ev(Event::OpenReceived { conn, open });
    let up = h.ev(Event::KeepaliveReceived { conn });
    assert!(matches!(up.as_slice(), [Action::SessionUp { .. }]));
    (h, conn)
}

fn hold_expired(conn: ConnectionId) -> Vec<Action> {
    vec![
        notify(conn, 4, 0),
        disconnect(conn),
        Action::SessionDown {
            conn,
            reason: DownReason::HoldTimerExpired,
        },
    ]
}

#[test]
fn a_silent_peer_is_detected_after_exactly_the_hold_time() {
    let mut h = Harness::new(config());
    let conn = h.established();
    let quiet = h.run_for(89_999);
    assert_eq!(keepalives(&quiet), 2, "at 30 s and 60 s: {quiet:?}");
    assert_eq!(h.s.state(), State::Established);
    assert_eq!(h.advance(1), hold_expired(conn));
    assert_eq!(h.s.state(), State::Idle);
    assert_eq!(h.s.stats().flaps, 1);
}

#[test]
fn every_message_from_the_peer_restarts_the_hold_timer() {
    let mut h = Harness::new(config());
    let conn = h.established();
    h.run_for(80_000);
    h.ev(Event::UpdateReceived { conn });
    h.run_for(80_000);
    h.ev(Event::KeepaliveReceived { conn });
    assert_eq!(keepalives(&h.run_for(89_999)), 3);
    assert_eq!(h.advance(1), hold_expired(conn));
}

#[test]
fn keepalives_go_out_every_third_of_the_negotiated_hold_time() {
    let (mut h, conn) = established_with(Harness::new(config()), 30);
    for _ in 0..20 {
        assert_eq!(h.s.next_deadline(), Some(Millis(h.now.0 + 10_000)));
        assert_eq!(h.advance(10_000), vec![Action::SendKeepalive { conn }]);
        h.ev(Event::KeepaliveReceived { conn });
    }
    assert_eq!(h.s.state(), State::Established);
}

#[test]
fn a_configured_keepalive_is_used_but_never_beyond_a_third() {
    let mut cfg = config();
    cfg.keepalive = NonZeroU16::new(5);
    let (h, _) = established_with(Harness::new(cfg.clone()), 90);
    let ka = h.s.established().unwrap().1.keepalive;
    assert_eq!(ka, Some(std::time::Duration::from_secs(5)));
    cfg.keepalive = NonZeroU16::new(60);
    let (h, _) = established_with(Harness::new(cfg), 90);
    let ka = h.s.established().unwrap().1.keepalive;
    assert_eq!(ka, Some(std::time::Duration::from_secs(30)));
}

#[test]
fn hold_time_zero_means_no_timers_at_all() {
    let (mut h, _) = established_with(Harness::new(config()), 0);
    let session = h.s.established().unwrap().1.clone();
    assert!(session.hold_time.is_disabled());
    assert_eq!(session.keepalive, None);
    assert_eq!(h.s.next_deadline(), None);
    assert!(h.advance(10_000_000).is_empty());
    assert_eq!(h.s.state(), State::Established);
}

#[test]
fn the_smaller_hold_time_wins() {
    let mut cfg = config();
    cfg.hold_time = HoldTime::new(9).unwrap();
    let (h, _) = established_with(Harness::new(cfg), 90);
    assert_eq!(h.s.established().unwrap().1.hold_time.seconds(), 9);
}

#[test]
fn open_sent_waits_four_minutes_for_the_peer_open() {
    let mut h = Harness::new(config());
    let conn = h.open_sent();
    assert!(h.advance(239_999).is_empty());
    assert_eq!(h.advance(1), vec![notify(conn, 4, 0), disconnect(conn)]);
    assert_eq!(h.s.state(), State::Idle);
}

#[test]
fn open_confirm_enforces_the_negotiated_hold_time_and_sends_keepalives() {
    let mut h = Harness::new(config());
    let conn = h.open_confirm();
    assert_eq!(keepalives(&h.run_for(89_999)), 2);
    assert_eq!(h.advance(1), vec![notify(conn, 4, 0), disconnect(conn)]);
}

fn millis(from: Millis, to: Option<Millis>) -> u64 {
    to.unwrap().0 - from.0
}

/// Expected unjittered delay after `failures` consecutive failures.
fn unjittered(failures: u32) -> u64 {
    (1000u64 << failures.saturating_sub(1).min(20)).min(60_000)
}

fn assert_jittered(delay: u64, failures: u32) {
    let max = unjittered(failures);
    assert!(
        delay >= max * 3 / 4 && delay <= max,
        "after {failures} failures: {delay} ms not in [{}, {max}]",
        max * 3 / 4
    );
}

#[test]
fn connect_retry_backs_off_exponentially_up_to_the_cap() {
    let mut h = Harness::new(config());
    let mut conn = h.connect();
    let mut delays = Vec::new();
    for failures in 0..12u32 {
        let delay = millis(h.now, h.s.next_deadline());
        assert_jittered(delay, failures);
        delays.push(delay);
        let next = out(conn.seq() + 1);
        assert_eq!(
            h.fire_next_deadline(),
            vec![disconnect(conn), Action::Connect { conn: next }]
        );
        assert_eq!(h.s.state(), State::Connect);
        assert_eq!(h.s.stats().connect_retry_counter, failures + 1);
        conn = next;
    }
    assert!(delays[11] > 45_000, "capped near 60 s: {delays:?}");
}

/// Six refused attempts, then a session that comes up on the seventh.
fn established_after_six_failures() -> (Harness, ConnectionId) {
    let mut h = Harness::new(config());
    let mut conn = h.connect();
    for _ in 0..6 {
        h.fire_next_deadline();
        conn = out(conn.seq() + 1);
    }
    assert_eq!(h.s.stats().connect_retry_counter, 6);
    bring_up(&mut h, conn);
    (h, conn)
}

/// The attempt `conn` connects and the session comes up on it.
fn bring_up(h: &mut Harness, conn: ConnectionId) {
    h.ev(Event::TcpConnectionSucceeded { conn });
    h.ev(Event::OpenReceived {
        conn,
        open: peer_open(),
    });
    h.ev(Event::KeepaliveReceived { conn });
    assert_eq!(h.s.state(), State::Established);
}

#[test]
fn backoff_is_forgotten_once_a_session_has_lasted() {
    let (mut h, conn) = established_after_six_failures();
    let forget = u64::try_from(config().backoff.forget_after.as_millis()).unwrap();
    // The peer stays alive for the whole period (its KEEPALIVEs every 30 s).
    for _ in 0..forget / 30_000 {
        h.run_for(30_000);
        h.ev(Event::KeepaliveReceived { conn });
    }
    h.ev(Event::NotificationReceived {
        conn,
        code: 6,
        subcode: 2,
    });
    assert_eq!(h.s.state(), State::Idle);
    assert_eq!(h.s.stats().connect_retry_counter, 1);
    // One failure since a healthy session: the restart waits about the base delay.
    assert_jittered(millis(h.now, h.s.next_deadline()), 1);
}

#[test]
fn a_network_fault_brings_the_session_back_at_the_base_delay() {
    // A flapping link must not delay the session once the path is back.
    let (mut h, conn) = established_after_six_failures();
    h.ev(Event::TcpConnectionFails { conn });
    assert_eq!(h.s.stats().connect_retry_counter, 1);
    assert_jittered(millis(h.now, h.s.next_deadline()), 1);
}

#[test]
fn a_session_refused_at_once_keeps_backing_off() {
    // A peer that accepts and rejects at once (a prefix limit, a policy)
    // must not earn a reconnect and a full table every second.
    let (mut h, mut conn) = established_after_six_failures();
    for failures in 7..10u32 {
        h.ev(Event::NotificationReceived {
            conn,
            code: 6,
            subcode: 2,
        });
        assert_eq!(h.s.stats().connect_retry_counter, failures);
        assert_jittered(millis(h.now, h.s.next_deadline()), failures);
        let restarted = h.fire_next_deadline();
        let [Action::Connect { conn: next }] = restarted.as_slice() else {
            panic!("expected a restart, got {restarted:?}");
        };
        conn = *next;
        bring_up(&mut h, conn);
    }
}

#[test]
fn a_dropped_session_restarts_by_itself_after_the_backoff() {
    let mut h = Harness::new(config());
    let conn = h.established();
    h.ev(Event::NotificationReceived {
        conn,
        code: 6,
        subcode: 4,
    });
    assert_eq!(h.s.state(), State::Idle);
    assert_eq!(
        h.fire_next_deadline(),
        vec![Action::Connect { conn: out(1) }]
    );
    assert_eq!(h.s.state(), State::Connect);
    let stats = h.s.stats();
    assert_eq!((stats.established, stats.flaps), (1, 1));
}

#[test]
fn repeated_refused_attempts_space_out_the_retries() {
    let mut h = Harness::new(config());
    let mut conn = h.connect();
    for failures in 1..10u32 {
        h.ev(Event::TcpConnectionFails { conn });
        assert_eq!(h.s.state(), State::Active);
        assert_jittered(millis(h.now, h.s.next_deadline()), failures);
        let restarted = h.fire_next_deadline();
        let [Action::Connect { conn: next }] = restarted.as_slice() else {
            panic!("expected a restart, got {restarted:?}");
        };
        conn = *next;
    }
}

#[test]
fn no_restart_after_manual_stop_or_when_disabled() {
    let mut h = Harness::new(config());
    h.established();
    h.ev(Event::ManualStop { reason: "".into() });
    assert_eq!(h.s.next_deadline(), None);
    assert_eq!(h.s.stats().connect_retry_counter, 0);

    let mut cfg = config();
    cfg.automatic_restart = false;
    let mut h = Harness::new(cfg);
    let conn = h.established();
    h.ev(Event::TcpConnectionFails { conn });
    assert_eq!(h.s.next_deadline(), None);
}

#[test]
fn tcp_failure_in_open_sent_returns_to_active_then_retries() {
    let mut h = Harness::new(config());
    let conn = h.open_sent();
    assert_eq!(
        h.ev(Event::TcpConnectionFails { conn }),
        vec![disconnect(conn)]
    );
    assert_eq!(h.s.state(), State::Active);
    assert_eq!(
        h.fire_next_deadline(),
        vec![Action::Connect { conn: out(1) }]
    );
    assert_eq!(h.s.state(), State::Connect);
}

#[test]
fn a_passive_session_never_connects() {
    let mut h = Harness::new(config());
    h.ev(Event::ManualStartPassive);
    assert_eq!(h.s.next_deadline(), None);
    let conn = inb(3);
    assert_eq!(
        h.ev(Event::TcpConnectionConfirmed { conn }),
        vec![Action::SendOpen { conn }]
    );
    assert_eq!(
        h.ev(Event::TcpConnectionFails { conn }),
        vec![disconnect(conn)]
    );
    assert_eq!(h.s.state(), State::Active);
    assert_eq!(h.s.next_deadline(), None);
}

#[test]
fn jitter_is_seeded_and_deterministic() {
    let delay = |seed| {
        let mut s = Session::new(config(), seed);
        s.handle(Millis(0), Event::ManualStart);
        s.next_deadline().unwrap().0
    };
    assert_eq!(delay(1), delay(1));
    let spread: std::collections::BTreeSet<u64> = (0..50).map(delay).collect();
    assert!(spread.len() > 10, "jitter spreads: {spread:?}");
    assert!(spread.iter().all(|d| (750..=1000).contains(d)));
}

#[test]
fn a_refused_attempt_listens_for_the_peer_until_the_next_one() {
    let mut h = Harness::new(config());
    let ours = h.connect();
    h.ev(Event::TcpConnectionFails { conn: ours });
    // RFC 4271 §8.2.2, Connect + event 18: Active, not Idle, so that a
    // router that refuses our connections can still open its own.
    assert_eq!(h.s.state(), State::Active);
    let retry = h.fire_next_deadline();
    assert!(
        matches!(retry.as_slice(), [Action::Connect { .. }]),
        "ConnectRetry dials again after the backoff: {retry:?}"
    );
    assert_eq!(h.s.state(), State::Connect);
    let again = match retry.as_slice() {
        [Action::Connect { conn }] => *conn,
        _ => unreachable!(),
    };
    h.ev(Event::TcpConnectionFails { conn: again });
    let theirs = inb(1);
    assert_eq!(
        h.ev(Event::TcpConnectionConfirmed { conn: theirs }),
        vec![Action::SendOpen { conn: theirs }],
        "the peer's connection is taken while we wait to retry"
    );
    assert_eq!(h.s.state(), State::OpenSent);
}
