//! RFC 4271 §8.2.2, state by event: start state, event, actions, end state.
#![allow(clippy::unwrap_used)]

#[path = "fsm_common.rs"]
mod common;

use common::*;
use ferrolb_bgp::fsm::*;

struct Row {
    from: State,
    event: fn(ConnectionId) -> Event,
    expect: Expect,
    to: State,
}

const fn row(from: State, event: fn(ConnectionId) -> Event, expect: Expect, to: State) -> Row {
    Row {
        from,
        event,
        expect,
        to,
    }
}

fn stop(_: ConnectionId) -> Event {
    Event::ManualStop {
        reason: "maintenance".into(),
    }
}
fn reset(_: ConnectionId) -> Event {
    Event::AdminReset {
        reason: "maintenance".into(),
    }
}
fn update_sent(conn: ConnectionId) -> Event {
    Event::UpdateSent { conn }
}
fn start(_: ConnectionId) -> Event {
    Event::ManualStart
}
fn start_passive(_: ConnectionId) -> Event {
    Event::ManualStartPassive
}
fn auto_start(_: ConnectionId) -> Event {
    Event::AutomaticStart
}
fn accepted(_: ConnectionId) -> Event {
    Event::TcpConnectionConfirmed { conn: inb(7) }
}
fn succeeded(conn: ConnectionId) -> Event {
    Event::TcpConnectionSucceeded { conn }
}
fn fails(conn: ConnectionId) -> Event {
    Event::TcpConnectionFails { conn }
}
fn open(conn: ConnectionId) -> Event {
    Event::OpenReceived {
        conn,
        open: peer_open(),
    }
}
fn open_v3(conn: ConnectionId) -> Event {
    let mut open = peer_open();
    open.version = 3;
    Event::OpenReceived { conn, open }
}
fn keepalive(conn: ConnectionId) -> Event {
    Event::KeepaliveReceived { conn }
}
fn update(conn: ConnectionId) -> Event {
    Event::UpdateReceived { conn }
}
fn refresh(conn: ConnectionId) -> Event {
    Event::RouteRefreshReceived { conn }
}
fn notification(conn: ConnectionId) -> Event {
    Event::NotificationReceived {
        conn,
        code: 6,
        subcode: 2,
    }
}
fn decode_error(conn: ConnectionId) -> Event {
    Event::MessageDecodeError {
        conn,
        notification: Notification::new(1, 2),
    }
}

fn nothing(_: ConnectionId) -> Vec<Action> {
    Vec::new()
}
fn drop_it(conn: ConnectionId) -> Vec<Action> {
    vec![disconnect(conn)]
}
fn cease_with(conn: ConnectionId, subcode: u8) -> Vec<Action> {
    let mut data = vec![11];
    data.extend_from_slice(b"maintenance");
    vec![notify_data(conn, 6, subcode, data), disconnect(conn)]
}
fn cease(conn: ConnectionId) -> Vec<Action> {
    cease_with(conn, 2)
}
fn cease_reset(conn: ConnectionId) -> Vec<Action> {
    cease_with(conn, 4)
}
fn down(conn: ConnectionId, reason: DownReason) -> Action {
    Action::SessionDown { conn, reason }
}
fn with_down(mut actions: Vec<Action>, conn: ConnectionId, reason: DownReason) -> Vec<Action> {
    actions.push(down(conn, reason));
    actions
}

use State::*;

const TABLE: &[Row] = &[
    // Idle: only start events do anything; connections are refused.
    row(
        Idle,
        start,
        |_| vec![Action::Connect { conn: out(0) }],
        Connect,
    ),
    row(Idle, start_passive, nothing, Active),
    row(
        Idle,
        auto_start,
        |_| vec![Action::Connect { conn: out(0) }],
        Connect,
    ),
    row(Idle, stop, nothing, Idle),
    row(Idle, reset, nothing, Idle),
    row(Idle, accepted, |_| vec![disconnect(inb(7))], Idle),
    row(Idle, succeeded, drop_it, Idle),
    row(Idle, fails, nothing, Idle),
    row(Idle, open, drop_it, Idle),
    row(Idle, keepalive, drop_it, Idle),
    row(Idle, update, drop_it, Idle),
    row(Idle, notification, nothing, Idle),
    row(Idle, decode_error, drop_it, Idle),
    // Connect: waiting for our TCP connection.
    row(Connect, start, nothing, Connect),
    row(Connect, auto_start, nothing, Connect),
    row(Connect, stop, drop_it, Idle),
    row(Connect, reset, drop_it, Idle),
    row(
        Connect,
        succeeded,
        |c| vec![Action::SendOpen { conn: c }],
        OpenSent,
    ),
    row(
        Connect,
        accepted,
        |c| vec![disconnect(c), Action::SendOpen { conn: inb(7) }],
        OpenSent,
    ),
    row(Connect, fails, drop_it, Active),
    row(Connect, open, drop_it, Idle),
    row(Connect, keepalive, drop_it, Idle),
    row(Connect, update, drop_it, Idle),
    row(Connect, notification, drop_it, Idle),
    row(Connect, decode_error, drop_it, Idle),
    // Active (passive start): listening.
    row(Active, start, nothing, Active),
    row(Active, stop, nothing, Idle),
    row(Active, reset, nothing, Idle),
    row(
        Active,
        accepted,
        |_| vec![Action::SendOpen { conn: inb(7) }],
        OpenSent,
    ),
    row(Active, succeeded, drop_it, Active),
    row(Active, fails, nothing, Active),
    row(Active, open, drop_it, Active),
    row(Active, keepalive, drop_it, Active),
    row(Active, notification, nothing, Active),
    // OpenSent: our OPEN is out.
    row(OpenSent, start, nothing, OpenSent),
    row(OpenSent, stop, cease, Idle),
    row(OpenSent, reset, cease_reset, Idle),
    row(OpenSent, update_sent, nothing, OpenSent),
    row(OpenSent, fails, drop_it, Active),
    row(
        OpenSent,
        open,
        |c| vec![Action::SendKeepalive { conn: c }],
        OpenConfirm,
    ),
    row(
        OpenSent,
        open_v3,
        |c| vec![notify_data(c, 2, 1, vec![0, 4]), disconnect(c)],
        Idle,
    ),
    row(
        OpenSent,
        keepalive,
        |c| vec![notify(c, 5, 1), disconnect(c)],
        Idle,
    ),
    row(
        OpenSent,
        update,
        |c| vec![notify(c, 5, 1), disconnect(c)],
        Idle,
    ),
    row(
        OpenSent,
        refresh,
        |c| vec![notify(c, 5, 1), disconnect(c)],
        Idle,
    ),
    row(OpenSent, notification, drop_it, Idle),
    row(
        OpenSent,
        decode_error,
        |c| vec![notify(c, 1, 2), disconnect(c)],
        Idle,
    ),
    row(
        OpenSent,
        accepted,
        |_| vec![Action::SendOpen { conn: inb(7) }],
        OpenSent,
    ),
    row(OpenSent, succeeded, nothing, OpenSent),
    // OpenConfirm: OPENs exchanged, waiting for the KEEPALIVE.
    row(OpenConfirm, start, nothing, OpenConfirm),
    row(OpenConfirm, stop, cease, Idle),
    row(OpenConfirm, reset, cease_reset, Idle),
    row(OpenConfirm, fails, drop_it, Idle),
    row(
        OpenConfirm,
        keepalive,
        |c| {
            vec![Action::SessionUp {
                conn: c,
                session: negotiated(),
            }]
        },
        Established,
    ),
    row(
        OpenConfirm,
        open,
        |c| vec![notify(c, 5, 2), disconnect(c)],
        Idle,
    ),
    row(
        OpenConfirm,
        update,
        |c| vec![notify(c, 5, 2), disconnect(c)],
        Idle,
    ),
    row(OpenConfirm, notification, drop_it, Idle),
    row(
        OpenConfirm,
        decode_error,
        |c| vec![notify(c, 1, 2), disconnect(c)],
        Idle,
    ),
    row(
        OpenConfirm,
        accepted,
        |_| vec![Action::SendOpen { conn: inb(7) }],
        OpenConfirm,
    ),
    // Established.
    row(Established, start, nothing, Established),
    row(Established, keepalive, nothing, Established),
    row(Established, update, nothing, Established),
    row(Established, refresh, nothing, Established),
    row(Established, update_sent, nothing, Established),
    row(
        Established,
        reset,
        |c| with_down(cease_reset(c), c, DownReason::AdminReset),
        Idle,
    ),
    row(
        Established,
        stop,
        |c| with_down(cease(c), c, DownReason::ManualStop),
        Idle,
    ),
    row(
        Established,
        fails,
        |c| vec![disconnect(c), down(c, DownReason::TcpConnectionFailed)],
        Idle,
    ),
    row(
        Established,
        notification,
        |c| {
            let reason = DownReason::NotificationReceived {
                code: 6,
                subcode: 2,
            };
            vec![disconnect(c), down(c, reason)]
        },
        Idle,
    ),
    row(
        Established,
        open,
        |c| {
            let reason = DownReason::NotificationSent {
                code: 5,
                subcode: 3,
            };
            vec![notify(c, 5, 3), disconnect(c), down(c, reason)]
        },
        Idle,
    ),
    row(
        Established,
        decode_error,
        |c| {
            let reason = DownReason::NotificationSent {
                code: 1,
                subcode: 2,
            };
            vec![notify(c, 1, 2), disconnect(c), down(c, reason)]
        },
        Idle,
    ),
    row(
        Established,
        accepted,
        |_| vec![Action::SendOpen { conn: inb(7) }],
        Established,
    ),
];

#[test]
fn every_row_of_the_event_table_holds() {
    for (i, row) in TABLE.iter().enumerate() {
        let mut h = Harness::new(config());
        let conn = h.reach(row.from);
        let event = (row.event)(conn);
        let name = event.name();
        let actions = h.ev(event);
        assert_eq!(
            actions,
            (row.expect)(conn),
            "row {i}: {:?} + {name}",
            row.from
        );
        assert_eq!(h.s.state(), row.to, "row {i}: {:?} + {name}", row.from);
    }
}

/// Timer expiries: the next deadline fires in each state that runs a timer.
type Expect = fn(ConnectionId) -> Vec<Action>;

const TIMER_TABLE: &[(State, Expect, State)] = &[
    (
        Connect,
        |c| vec![disconnect(c), Action::Connect { conn: out(1) }],
        Connect,
    ),
    (OpenSent, |c| vec![notify(c, 4, 0), disconnect(c)], Idle),
    (
        OpenConfirm,
        |c| vec![Action::SendKeepalive { conn: c }],
        OpenConfirm,
    ),
    (
        Established,
        |c| vec![Action::SendKeepalive { conn: c }],
        Established,
    ),
];

#[test]
fn every_timer_expiry_of_the_table_holds() {
    for (from, expect, to) in TIMER_TABLE {
        let mut h = Harness::new(config());
        let conn = h.reach(*from);
        assert_eq!(h.fire_next_deadline(), expect(conn), "{from:?}");
        assert_eq!(h.s.state(), *to, "{from:?}");
    }
}

#[test]
fn admin_reset_comes_back_by_itself_even_without_automatic_restart() {
    let mut cfg = config();
    cfg.automatic_restart = false;
    let mut h = Harness::new(cfg);
    h.established();
    h.ev(reset(out(0)));
    assert_eq!(h.s.state(), Idle);
    assert_eq!(
        h.fire_next_deadline(),
        vec![Action::Connect { conn: out(1) }]
    );
}

#[test]
fn reconfiguration_waits_for_idle() {
    let mut h = Harness::new(config());
    h.established();
    let mut cfg = config();
    cfg.hold_time = HoldTime::new(30).unwrap();
    assert_eq!(h.s.reconfigure(cfg.clone()), Err(NotIdle(Established)));
    h.ev(reset(out(0)));
    assert_eq!(h.s.reconfigure(cfg), Ok(()));
    let conn = h.fire_next_deadline();
    let [Action::Connect { conn }] = conn[..] else {
        panic!("{conn:?}");
    };
    h.ev(succeeded(conn));
    h.ev(open(conn));
    h.ev(keepalive(conn));
    assert_eq!(h.s.established().unwrap().1.hold_time.seconds(), 30);
}

#[test]
fn an_update_sent_postpones_the_next_keepalive() {
    let mut h = Harness::new(config());
    let conn = h.established();
    h.advance(20_000);
    h.ev(update_sent(conn));
    assert!(h.advance(29_999).is_empty());
    assert_eq!(h.advance(1), vec![Action::SendKeepalive { conn }]);
}

#[test]
fn every_state_is_covered() {
    for state in [Idle, Connect, Active, OpenSent, OpenConfirm, Established] {
        assert!(TABLE.iter().filter(|r| r.from == state).count() >= 5);
    }
}
