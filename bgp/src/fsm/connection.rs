//! One TCP connection to the peer and the per-connection half of the FSM.

use super::action::NegotiatedSession;
use super::event::ConnectionId;
use super::hold_time::HoldTime;
use super::state::State;
use super::time::Millis;

/// How far a connection has got. The negotiated session lives in the stages
/// that have one, so an Established connection without it cannot exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Outbound TCP handshake in progress.
    Connecting,
    /// Our OPEN sent, waiting for the peer's.
    OpenSent,
    /// OPENs exchanged, waiting for the peer's KEEPALIVE.
    OpenConfirm(Box<NegotiatedSession>),
    /// Up.
    Established(Box<NegotiatedSession>),
}

/// A connection and its own timers: during a collision each connection has
/// its own hold and keepalive timers, as each has its own FSM in RFC 4271.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    pub(crate) id: ConnectionId,
    pub(crate) stage: Stage,
    pub(crate) hold_deadline: Option<Millis>,
    pub(crate) keepalive_deadline: Option<Millis>,
}

impl Connection {
    pub(crate) fn connecting(id: ConnectionId) -> Self {
        Self {
            id,
            stage: Stage::Connecting,
            hold_deadline: None,
            keepalive_deadline: None,
        }
    }

    /// The RFC state this connection's FSM is in.
    pub(crate) fn state(&self) -> State {
        match self.stage {
            Stage::Connecting => State::Connect,
            Stage::OpenSent => State::OpenSent,
            Stage::OpenConfirm(_) => State::OpenConfirm,
            Stage::Established(_) => State::Established,
        }
    }

    /// Whether our OPEN went out, after which a teardown owes the peer a NOTIFICATION.
    pub(crate) fn sent_open(&self) -> bool {
        self.stage != Stage::Connecting
    }

    pub(crate) fn negotiated(&self) -> Option<&NegotiatedSession> {
        match &self.stage {
            Stage::OpenConfirm(s) | Stage::Established(s) => Some(s),
            Stage::Connecting | Stage::OpenSent => None,
        }
    }

    /// TCP is up and our OPEN is on its way: wait up to 4 minutes for the peer's.
    pub(crate) fn open_sent(&mut self, now: Millis) {
        self.stage = Stage::OpenSent;
        self.hold_deadline = HoldTime::OPEN_SENT.duration().map(|d| now.after(d));
        self.keepalive_deadline = None;
    }

    /// The peer's OPEN was accepted: switch to the negotiated timers.
    pub(crate) fn open_confirm(&mut self, now: Millis, session: NegotiatedSession) {
        self.keepalive_deadline = session.keepalive.map(|k| now.after(k));
        self.stage = Stage::OpenConfirm(Box::new(session));
        self.restart_hold(now);
    }

    /// The peer's KEEPALIVE confirmed its OPEN: returns the session now up,
    /// or `None` if the connection was not in OpenConfirm.
    pub(crate) fn establish(&mut self, now: Millis) -> Option<NegotiatedSession> {
        let Stage::OpenConfirm(session) = &self.stage else {
            return None;
        };
        let session = session.clone();
        self.stage = Stage::Established(session.clone());
        self.restart_hold(now);
        Some(*session)
    }

    /// The peer showed it is alive: push the hold deadline out.
    pub(crate) fn restart_hold(&mut self, now: Millis) {
        let hold = self.negotiated().and_then(|s| s.hold_time.duration());
        self.hold_deadline = hold.map(|d| now.after(d));
    }

    /// A keepalive went out: schedule the next one.
    pub(crate) fn rearm_keepalive(&mut self, now: Millis) {
        let interval = self.negotiated().and_then(|s| s.keepalive);
        self.keepalive_deadline = interval.map(|k| now.after(k));
    }
}
