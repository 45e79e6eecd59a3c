//! Closing a connection, and what the session does when it was the last one.

use super::{Session, StartMode};
use crate::fsm::action::{Action, DownReason};
use crate::fsm::connection::Stage;
use crate::fsm::event::ConnectionId;
use crate::fsm::notification::Notification;
use crate::fsm::state::State;
use crate::fsm::time::Millis;

impl Session {
    /// Closes one connection: the NOTIFICATION first (only once our OPEN went
    /// out: before that the peer is not listening for BGP), then the
    /// Disconnect, then SessionDown if it carried the session.
    pub(super) fn close(
        &mut self,
        now: Millis,
        id: ConnectionId,
        notification: Option<Notification>,
        reason: DownReason,
        out: &mut Vec<Action>,
    ) {
        let Some(pos) = self.conns.iter().position(|c| c.id == id) else {
            return;
        };
        let conn = self.conns.remove(pos);
        if let Some(notification) = notification
            && conn.sent_open()
        {
            out.push(Action::SendNotification {
                conn: id,
                notification,
            });
        }
        out.push(Action::Disconnect { conn: id });
        if matches!(conn.stage, Stage::Established(_)) {
            let uptime = self.up_since.take().map(|up| now.since(up));
            match uptime {
                Some(uptime) if reason.is_refusal() => self.backoff.session_ended(uptime),
                _ => self.backoff.reset(),
            }
            self.stats.flaps += 1;
            out.push(Action::SessionDown {
                conn: id,
                reason: reason.clone(),
            });
        }
        if self.conns.is_empty() && self.running {
            // RFC 4271 §8.2.2: a TCP failure in Connect (our attempt
            // refused) or OpenSent returns to Active, which listens for the
            // peer's own connection until ConnectRetry; every other
            // teardown goes to Idle, which refuses connections. A router
            // that dials us while it refuses our connections (it listens
            // elsewhere, or a firewall lets it connect out only) reaches
            // the session only this way.
            let to_active = matches!(conn.stage, Stage::Connecting | Stage::OpenSent)
                && reason == DownReason::TcpConnectionFailed;
            self.last_connection_closed(now, to_active);
        }
    }

    /// Closes a connection because of an error we tell the peer about.
    pub(super) fn close_with_error(
        &mut self,
        now: Millis,
        id: ConnectionId,
        notification: Notification,
        out: &mut Vec<Action>,
    ) {
        let reason = DownReason::NotificationSent {
            code: notification.code,
            subcode: notification.subcode,
        };
        self.close(now, id, Some(notification), reason, out);
    }

    /// A message that is not allowed in the connection's state (RFC 6608 subcodes).
    pub(super) fn fsm_error(
        &mut self,
        now: Millis,
        id: ConnectionId,
        state: State,
        out: &mut Vec<Action>,
    ) {
        self.close_with_error(now, id, Notification::fsm_error(state), out);
    }

    fn last_connection_closed(&mut self, now: Millis, to_active: bool) {
        // Every attempt that ends here failed; the counter paces the next one.
        self.backoff.record_failure();
        if to_active {
            if self.mode == StartMode::Active {
                self.connect_retry_deadline = Some(now.after(self.backoff.next_delay()));
            }
            return;
        }
        self.running = false;
        self.connect_retry_deadline = None;
        if self.enabled && self.config.automatic_restart {
            self.restart_deadline = Some(now.after(self.backoff.next_delay()));
        }
    }
}
