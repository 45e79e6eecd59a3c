//! Starting and stopping (RFC 4271 events 1-4).

use super::{Session, StartMode};
use crate::fsm::action::{Action, DownReason};
use crate::fsm::connection::Connection;
use crate::fsm::event::ConnectionId;
use crate::fsm::notification::Notification;
use crate::fsm::time::Millis;

impl Session {
    pub(super) fn manual_start(&mut self, now: Millis, mode: StartMode, out: &mut Vec<Action>) {
        // RFC 4271 §8.2.2: start events are ignored outside Idle.
        if self.running {
            return;
        }
        self.enabled = true;
        self.start(now, mode, out);
    }

    /// Leaves Idle for Connect (active) or Active (passive).
    pub(super) fn start(&mut self, now: Millis, mode: StartMode, out: &mut Vec<Action>) {
        if self.running {
            return;
        }
        self.running = true;
        self.mode = mode;
        self.restart_deadline = None;
        // A passive session never connects, so it has no use for ConnectRetry.
        if mode == StartMode::Active {
            self.initiate(now, out);
        }
    }

    /// Opens a new outbound connection and arms ConnectRetry for it.
    pub(super) fn initiate(&mut self, now: Millis, out: &mut Vec<Action>) {
        let id = ConnectionId::outbound(self.next_outbound);
        self.next_outbound = self.next_outbound.wrapping_add(1);
        self.conns.push(Connection::connecting(id));
        out.push(Action::Connect { conn: id });
        self.connect_retry_deadline = Some(now.after(self.backoff.next_delay()));
    }

    /// Drops outbound attempts still in the TCP handshake; true if there were any.
    pub(super) fn drop_pending_attempts(&mut self, out: &mut Vec<Action>) -> bool {
        let before = self.conns.len();
        self.conns.retain(|c| {
            let pending = !c.sent_open();
            if pending {
                out.push(Action::Disconnect { conn: c.id });
            }
            !pending
        });
        self.conns.len() != before
    }

    pub(super) fn manual_stop(&mut self, now: Millis, reason: &str, out: &mut Vec<Action>) {
        // Cleared first, so that closing the last connection schedules no restart.
        self.enabled = false;
        let notification = Notification::administrative_shutdown(reason);
        self.close_all(now, notification, DownReason::ManualStop, out);
        self.restart_deadline = None;
    }

    /// ManualStop, except that a connection whose session negotiated
    /// graceful restart closes without NOTIFICATION: RFC 4724 keeps routes
    /// stale only across a TCP termination without one (we do not offer
    /// RFC 8538's N bit, under which a NOTIFICATION would do too).
    pub(super) fn graceful_stop(&mut self, now: Millis, reason: &str, out: &mut Vec<Action>) {
        self.enabled = false;
        let notification = Notification::administrative_shutdown(reason);
        let graceful: Vec<(ConnectionId, bool)> = self
            .conns
            .iter()
            .map(|c| {
                let gr = c.negotiated().is_some_and(|s| s.graceful_restart.is_some());
                (c.id, gr)
            })
            .collect();
        for (id, graceful) in graceful {
            let (notification, why) = if graceful {
                (None, DownReason::GracefulStop)
            } else {
                (Some(notification.clone()), DownReason::ManualStop)
            };
            self.close(now, id, notification, why, out);
        }
        self.stopped();
        self.restart_deadline = None;
    }

    pub(super) fn admin_reset(&mut self, now: Millis, reason: &str, out: &mut Vec<Action>) {
        let notification = Notification::administrative_reset(reason);
        self.reset(now, notification, DownReason::AdminReset, out);
    }

    pub(super) fn bfd_down(&mut self, now: Millis, out: &mut Vec<Action>) {
        let notification = Notification::bfd_down();
        let reason = DownReason::NotificationSent {
            code: notification.code,
            subcode: notification.subcode,
        };
        self.reset(now, notification, reason, out);
    }

    /// Closes every connection with `notification` and starts again after
    /// the backoff delay.
    fn reset(
        &mut self,
        now: Millis,
        notification: Notification,
        reason: DownReason,
        out: &mut Vec<Action>,
    ) {
        if !self.running {
            return;
        }
        let enabled = std::mem::replace(&mut self.enabled, false);
        self.close_all(now, notification, reason, out);
        self.enabled = enabled;
        // A reset is not a failure: come back after the base delay.
        self.restart_deadline = Some(now.after(self.backoff.next_delay()));
    }

    /// Closes every connection (a NOTIFICATION where our OPEN is out) and
    /// goes to Idle with a clean ConnectRetryCounter.
    fn close_all(
        &mut self,
        now: Millis,
        notification: Notification,
        reason: DownReason,
        out: &mut Vec<Action>,
    ) {
        for id in self.connections() {
            let notification = Some(notification.clone());
            self.close(now, id, notification, reason.clone(), out);
        }
        self.stopped();
    }

    /// Idle with a clean ConnectRetryCounter, after every connection closed.
    fn stopped(&mut self) {
        self.running = false;
        self.connect_retry_deadline = None;
        self.backoff.reset();
    }
}
