//! Shared helpers for the FSM tests, included with `#[path]` by each test file.
#![allow(dead_code)]

use ferrolb_bgp::fsm::*;

pub const LOCAL_AS: u32 = 64512;
pub const PEER_AS: u32 = 64513;
/// 10.0.0.5: in the middle, so tests can pick a peer above or below.
pub const LOCAL_ID: BgpId = BgpId(0x0A00_0005);
pub const PEER_ID: BgpId = BgpId(0x0A00_0009);

pub fn config() -> SessionConfig {
    SessionConfig::new(LOCAL_AS, LOCAL_ID, PeerAs::Exact(PEER_AS))
}

pub fn peer_open() -> PeerOpen {
    PeerOpen {
        version: 4,
        my_as: 64513,
        hold_time: 90,
        bgp_id: PEER_ID,
        capabilities: PeerCapabilities {
            four_octet_as: Some(PEER_AS),
            multiprotocol: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
            route_refresh: true,
            extended_message: false,
            graceful_restart: None,
            extended_next_hop_ipv4: false,
        },
    }
}

/// What `peer_open()` negotiates with `config()`.
pub fn negotiated() -> NegotiatedSession {
    NegotiatedSession {
        hold_time: HoldTime::DEFAULT,
        keepalive: Some(std::time::Duration::from_secs(30)),
        peer_as: PEER_AS,
        peer_id: PEER_ID,
        internal: false,
        families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
        four_octet_as: true,
        route_refresh: true,
        extended_message: false,
        graceful_restart: None,
        extended_next_hop: false,
    }
}

pub fn out(n: u64) -> ConnectionId {
    ConnectionId::outbound(n)
}

pub fn inb(n: u64) -> ConnectionId {
    ConnectionId::inbound(n)
}

pub fn notify(conn: ConnectionId, code: u8, subcode: u8) -> Action {
    notify_data(conn, code, subcode, Vec::new())
}

pub fn notify_data(conn: ConnectionId, code: u8, subcode: u8, data: Vec<u8>) -> Action {
    Action::SendNotification {
        conn,
        notification: Notification {
            code,
            subcode,
            data,
        },
    }
}

pub fn disconnect(conn: ConnectionId) -> Action {
    Action::Disconnect { conn }
}

/// A session plus a hand-moved clock.
pub struct Harness {
    pub s: Session,
    pub now: Millis,
}

impl Harness {
    pub fn new(config: SessionConfig) -> Self {
        Self {
            s: Session::new(config, 42),
            now: Millis(1_000),
        }
    }

    pub fn ev(&mut self, event: Event) -> Vec<Action> {
        self.s.handle(self.now, event)
    }

    /// Moves the clock by `ms` and fires what is due.
    pub fn advance(&mut self, ms: u64) -> Vec<Action> {
        self.now = Millis(self.now.0 + ms);
        self.s.poll_timers(self.now)
    }

    /// Lets `ms` pass with a punctual driver: every deadline on the way is
    /// polled at its exact time.
    pub fn run_for(&mut self, ms: u64) -> Vec<Action> {
        let end = Millis(self.now.0 + ms);
        let mut actions = Vec::new();
        while let Some(at) = self.s.next_deadline().filter(|at| *at <= end) {
            self.now = at;
            actions.extend(self.s.poll_timers(at));
        }
        self.now = end;
        actions
    }

    /// Moves the clock to the next deadline and fires it.
    pub fn fire_next_deadline(&mut self) -> Vec<Action> {
        let at = self.s.next_deadline().expect("a timer runs");
        assert!(at >= self.now);
        self.now = at;
        self.s.poll_timers(at)
    }

    pub fn connect(&mut self) -> ConnectionId {
        let actions = self.ev(Event::ManualStart);
        match actions.as_slice() {
            [Action::Connect { conn }] => *conn,
            other => panic!("expected Connect, got {other:?}"),
        }
    }

    pub fn open_sent(&mut self) -> ConnectionId {
        let conn = self.connect();
        assert_eq!(
            self.ev(Event::TcpConnectionSucceeded { conn }),
            vec![Action::SendOpen { conn }]
        );
        conn
    }

    pub fn open_confirm(&mut self) -> ConnectionId {
        let conn = self.open_sent();
        let open = peer_open();
        assert_eq!(
            self.ev(Event::OpenReceived { conn, open }),
            vec![Action::SendKeepalive { conn }]
        );
        conn
    }

    pub fn established(&mut self) -> ConnectionId {
        let conn = self.open_confirm();
        assert_eq!(
            self.ev(Event::KeepaliveReceived { conn }),
            vec![Action::SessionUp {
                conn,
                session: negotiated()
            }]
        );
        conn
    }

    /// Reaches `state` the usual way; returns the connection in use
    /// (an unused inbound id for Idle and Active).
    pub fn reach(&mut self, state: State) -> ConnectionId {
        let conn = match state {
            State::Idle => inb(1),
            State::Connect => self.connect(),
            State::Active => {
                assert!(self.ev(Event::ManualStartPassive).is_empty());
                inb(1)
            }
            State::OpenSent => self.open_sent(),
            State::OpenConfirm => self.open_confirm(),
            State::Established => self.established(),
        };
        assert_eq!(self.s.state(), state);
        conn
    }
}
