//! Properties over arbitrary event sequences: no panic, no shortcut to
//! Established, no silent teardown.
#![allow(clippy::unwrap_used)]

#[path = "fsm_common.rs"]
mod common;

use std::collections::HashSet;

use common::*;
use ferrolb_bgp::fsm::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Event(Event),
    /// Lets time pass, then polls the timers.
    Advance(u64),
}

fn conn() -> impl Strategy<Value = ConnectionId> {
    prop_oneof![
        (0u64..4).prop_map(ConnectionId::outbound),
        (0u64..3).prop_map(ConnectionId::inbound),
    ]
}

/// Mostly valid OPENs, with the usual ways of being wrong mixed in.
fn open() -> impl Strategy<Value = PeerOpen> {
    let version = prop_oneof![6 => Just(4u8), 1 => Just(3u8)];
    let hold = prop_oneof![Just(90u16), Just(0), Just(2), Just(3)];
    let id = prop_oneof![4 => Just(PEER_ID), 1 => Just(BgpId(0)), 1 => Just(BgpId(1))];
    let asn = prop_oneof![6 => Just(PEER_AS), 1 => Just(65000u32)];
    (version, hold, id, asn, any::<bool>()).prop_map(|(version, hold, id, asn, gr)| {
        let mut open = peer_open();
        open.version = version;
        open.hold_time = hold;
        open.bgp_id = id;
        open.capabilities.four_octet_as = Some(asn);
        open.my_as = AS_TRANS;
        open.capabilities.graceful_restart = gr.then(GracefulRestart::default);
        open
    })
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        1 => Just(Event::ManualStart),
        1 => Just(Event::ManualStartPassive),
        1 => Just(Event::AutomaticStart),
        1 => "[a-zé ]{0,8}".prop_map(|reason| Event::ManualStop { reason }),
        1 => "[a-z]{0,8}".prop_map(|reason| Event::GracefulStop { reason }),
        1 => "[a-z]{0,8}".prop_map(|reason| Event::AdminReset { reason }),
        1 => conn().prop_map(|conn| Event::UpdateSent { conn }),
        3 => conn().prop_map(|conn| Event::TcpConnectionConfirmed { conn }),
        3 => conn().prop_map(|conn| Event::TcpConnectionSucceeded { conn }),
        2 => conn().prop_map(|conn| Event::TcpConnectionFails { conn }),
        4 => (conn(), open()).prop_map(|(conn, open)| Event::OpenReceived { conn, open }),
        4 => conn().prop_map(|conn| Event::KeepaliveReceived { conn }),
        1 => conn().prop_map(|conn| Event::UpdateReceived { conn }),
        1 => conn().prop_map(|conn| Event::RouteRefreshReceived { conn }),
        1 => (conn(), 1u8..7, 0u8..9)
            .prop_map(|(conn, code, subcode)| Event::NotificationReceived { conn, code, subcode }),
        1 => conn().prop_map(|conn| Event::MessageDecodeError {
            conn,
            notification: Notification::new(1, 1),
        }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => event().prop_map(Step::Event),
        1 => (0u64..300_000).prop_map(Step::Advance),
    ]
}

/// What each live connection has seen, forgotten when it is disconnected.
#[derive(Default)]
struct History {
    sent_open: HashSet<ConnectionId>,
    sent_keepalive: HashSet<ConnectionId>,
    got_open: HashSet<ConnectionId>,
    got_keepalive: HashSet<ConnectionId>,
    up: bool,
}

impl History {
    fn fed(&mut self, event: &Event) {
        match event {
            Event::OpenReceived { conn, .. } => {
                self.got_open.insert(*conn);
            }
            Event::KeepaliveReceived { conn } => {
                self.got_keepalive.insert(*conn);
            }
            _ => {}
        }
    }

    fn did(&mut self, actions: &[Action]) {
        for (i, action) in actions.iter().enumerate() {
            match action {
                Action::SendOpen { conn } => {
                    self.sent_open.insert(*conn);
                }
                Action::SendKeepalive { conn } => {
                    self.sent_keepalive.insert(*conn);
                }
                Action::SendNotification { conn, .. } => assert_eq!(
                    actions.get(i + 1),
                    Some(&Action::Disconnect { conn: *conn }),
                    "a NOTIFICATION is followed by its Disconnect: {actions:?}"
                ),
                Action::Disconnect { conn } => {
                    for set in [
                        &mut self.sent_open,
                        &mut self.sent_keepalive,
                        &mut self.got_open,
                        &mut self.got_keepalive,
                    ] {
                        set.remove(conn);
                    }
                }
                Action::SessionUp { .. } => {
                    assert!(!self.up, "SessionUp twice: {actions:?}");
                    self.up = true;
                }
                Action::SessionDown { .. } => {
                    assert!(self.up, "SessionDown without SessionUp: {actions:?}");
                    self.up = false;
                }
                Action::Connect { .. } => {}
            }
        }
    }

    fn check(&self, session: &Session) {
        assert_eq!(self.up, session.established().is_some());
        if let Some((conn, _)) = session.established() {
            assert!(
                self.sent_open.contains(&conn),
                "Established without our OPEN"
            );
            assert!(
                self.got_open.contains(&conn),
                "Established without the peer's OPEN"
            );
            assert!(
                self.sent_keepalive.contains(&conn),
                "Established without our KEEPALIVE"
            );
            assert!(
                self.got_keepalive.contains(&conn),
                "Established without the peer's KEEPALIVE"
            );
        }
        assert!(session.connections().len() <= 2);
    }
}

fn needs_notification(from: State, to: State, event: Option<&Event>) -> bool {
    let exempt = matches!(
        event,
        Some(Event::TcpConnectionFails { .. } | Event::NotificationReceived { .. })
    );
    from >= State::OpenSent && to == State::Idle && !exempt
}

/// Feeds `steps` and checks every invariant after each one.
fn run(session: &mut Session, mut now: Millis, history: &mut History, steps: Vec<Step>) {
    for step in steps {
        let from = session.state();
        let (actions, event) = match step {
            Step::Event(event) => {
                history.fed(&event);
                (session.handle(now, event.clone()), Some(event))
            }
            Step::Advance(ms) => {
                now = Millis(now.0 + ms);
                let actions = session.poll_timers(now);
                assert!(session.next_deadline().is_none_or(|at| at > now));
                (actions, None)
            }
        };
        history.did(&actions);
        history.check(session);
        let to = session.state();
        if needs_notification(from, to, event.as_ref()) {
            assert!(
                actions
                    .iter()
                    .any(|a| matches!(a, Action::SendNotification { .. })),
                "{from} -> {to} on {event:?} without NOTIFICATION: {actions:?}"
            );
        }
    }
}

/// The scripted way up, so that the random part starts deep in the machine.
fn way_up() -> Vec<Step> {
    let conn = ConnectionId::outbound(0);
    [
        Event::ManualStart,
        Event::TcpConnectionSucceeded { conn },
        Event::OpenReceived {
            conn,
            open: peer_open(),
        },
        Event::KeepaliveReceived { conn },
    ]
    .into_iter()
    .map(Step::Event)
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_sequences_keep_the_invariants(steps in prop::collection::vec(step(), 1..80)) {
        let mut session = Session::new(config(), 9);
        run(&mut session, Millis(0), &mut History::default(), steps);
    }

    #[test]
    fn arbitrary_sequences_from_established_keep_the_invariants(
        steps in prop::collection::vec(step(), 1..80),
    ) {
        let mut session = Session::new(config(), 9);
        let mut history = History::default();
        run(&mut session, Millis(0), &mut history, way_up());
        prop_assert_eq!(session.state(), State::Established);
        run(&mut session, Millis(0), &mut history, steps);
    }
}
