//! TCP outcomes (RFC 4271 events 16-18).

use super::Session;
use crate::fsm::action::{Action, DownReason};
use crate::fsm::connection::{Connection, Stage};
use crate::fsm::event::ConnectionId;
use crate::fsm::time::Millis;

impl Session {
    /// The peer connected to us.
    pub(super) fn tcp_accepted(&mut self, now: Millis, id: ConnectionId, out: &mut Vec<Action>) {
        // Idle refuses connections (RFC 4271 §8.2.2).
        if !self.running {
            out.push(Action::Disconnect { conn: id });
            return;
        }
        if self.conns.iter().any(|c| c.id == id) {
            return;
        }
        // The peer's connection is already up while ours is still in the
        // handshake: take it, which spares a collision.
        self.drop_pending_attempts(out);
        // A third connection has nothing left to collide with: refuse it.
        if self.conns.len() >= 2 {
            out.push(Action::Disconnect { conn: id });
            return;
        }
        let mut conn = Connection::connecting(id);
        conn.open_sent(now);
        self.conns.push(conn);
        self.connect_retry_deadline = None;
        out.push(Action::SendOpen { conn: id });
    }

    /// Our outbound connection completed.
    pub(super) fn tcp_connected(&mut self, now: Millis, id: ConnectionId, out: &mut Vec<Action>) {
        match self.find_mut(id) {
            Some(conn) if conn.stage == Stage::Connecting => {
                conn.open_sent(now);
                self.connect_retry_deadline = None;
                out.push(Action::SendOpen { conn: id });
            }
            Some(_) => {}
            // An attempt we already gave up on.
            None => out.push(Action::Disconnect { conn: id }),
        }
    }

    /// A connection failed: never a NOTIFICATION, there is no one to read it.
    pub(super) fn tcp_failed(&mut self, now: Millis, id: ConnectionId, out: &mut Vec<Action>) {
        self.close(now, id, None, DownReason::TcpConnectionFailed, out);
    }
}
