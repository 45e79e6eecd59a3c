//! Messages after the OPEN (RFC 4271 events 21-28).

use super::Session;
use crate::fsm::action::{Action, DownReason};
use crate::fsm::event::ConnectionId;
use crate::fsm::notification::Notification;
use crate::fsm::state::State;
use crate::fsm::time::Millis;

impl Session {
    pub(super) fn keepalive_received(
        &mut self,
        now: Millis,
        id: ConnectionId,
        out: &mut Vec<Action>,
    ) {
        let Some(conn) = self.find_mut(id) else {
            out.push(Action::Disconnect { conn: id });
            return;
        };
        match conn.state() {
            State::OpenConfirm => {
                if let Some(session) = conn.establish(now) {
                    // The backoff is forgotten only once the session has
                    // lasted (`Backoff::session_ended`), not on coming up.
                    self.up_since = Some(now);
                    self.stats.established += 1;
                    out.push(Action::SessionUp { conn: id, session });
                }
            }
            State::Established => conn.restart_hold(now),
            state => self.fsm_error(now, id, state, out),
        }
    }

    /// UPDATE and ROUTE-REFRESH: legal only once Established, where they
    /// prove the peer alive just like a KEEPALIVE.
    pub(super) fn update_received(&mut self, now: Millis, id: ConnectionId, out: &mut Vec<Action>) {
        let Some(conn) = self.find_mut(id) else {
            out.push(Action::Disconnect { conn: id });
            return;
        };
        match conn.state() {
            State::Established => conn.restart_hold(now),
            state => self.fsm_error(now, id, state, out),
        }
    }

    /// Our UPDATE told the peer we are alive: the next KEEPALIVE can wait.
    pub(super) fn update_sent(&mut self, now: Millis, id: ConnectionId) {
        if let Some(conn) = self.find_mut(id)
            && conn.state() == State::Established
        {
            conn.rearm_keepalive(now);
        }
    }

    /// The peer closes the connection: answering would be pointless.
    pub(super) fn notification_received(
        &mut self,
        now: Millis,
        id: ConnectionId,
        code: u8,
        subcode: u8,
        out: &mut Vec<Action>,
    ) {
        let reason = DownReason::NotificationReceived { code, subcode };
        self.close(now, id, None, reason, out);
    }

    /// The codec chose the NOTIFICATION; the FSM sends it and closes.
    pub(super) fn decode_error(
        &mut self,
        now: Millis,
        id: ConnectionId,
        notification: Notification,
        out: &mut Vec<Action>,
    ) {
        if self.conns.iter().any(|c| c.id == id) {
            self.close_with_error(now, id, notification, out);
        } else {
            out.push(Action::Disconnect { conn: id });
        }
    }
}
