//! The FSM's timers: ConnectRetry, automatic restart, and per connection Hold and Keepalive.

use super::{Session, StartMode};
use crate::fsm::action::{Action, DownReason};
use crate::fsm::event::ConnectionId;
use crate::fsm::notification::Notification;
use crate::fsm::time::Millis;

/// Each firing clears its timer or moves it past `now`, so a poll ends by
/// itself; the bound only guards against a bug turning into a hang.
const MAX_FIRINGS_PER_POLL: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    ConnectRetry,
    Restart,
    Hold(ConnectionId),
    Keepalive(ConnectionId),
}

impl Timer {
    fn event_name(self) -> &'static str {
        match self {
            Timer::ConnectRetry => "ConnectRetryTimerExpires",
            Timer::Restart => "AutomaticStart",
            Timer::Hold(_) => "HoldTimerExpires",
            Timer::Keepalive(_) => "KeepaliveTimerExpires",
        }
    }
}

impl Session {
    /// When the driver must next call [`poll_timers`](Self::poll_timers);
    /// `None` while no timer runs. Changes after every call that returns actions.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.timers().map(|(at, _)| at).min()
    }

    /// Fires every timer due at `now`, earliest first, and returns the actions.
    pub fn poll_timers(&mut self, now: Millis) -> Vec<Action> {
        let mut out = Vec::new();
        for _ in 0..MAX_FIRINGS_PER_POLL {
            let Some((at, timer)) = self.timers().min_by_key(|(at, _)| *at) else {
                break;
            };
            if at > now {
                break;
            }
            out.extend(self.traced(timer.event_name(), |s, out| s.fire(now, timer, out)));
        }
        out
    }

    fn timers(&self) -> impl Iterator<Item = (Millis, Timer)> + '_ {
        let session = [
            (self.connect_retry_deadline, Timer::ConnectRetry),
            (self.restart_deadline, Timer::Restart),
        ];
        let conns = self.conns.iter().flat_map(|c| {
            [
                (c.hold_deadline, Timer::Hold(c.id)),
                (c.keepalive_deadline, Timer::Keepalive(c.id)),
            ]
        });
        session
            .into_iter()
            .chain(conns)
            .filter_map(|(at, timer)| Some((at?, timer)))
    }

    fn fire(&mut self, now: Millis, timer: Timer, out: &mut Vec<Action>) {
        match timer {
            Timer::ConnectRetry => self.connect_retry_expired(now, out),
            Timer::Restart => {
                self.restart_deadline = None;
                self.start(now, self.mode, out);
            }
            Timer::Hold(id) => {
                let notification = Notification::hold_timer_expired();
                self.close(
                    now,
                    id,
                    Some(notification),
                    DownReason::HoldTimerExpired,
                    out,
                );
            }
            Timer::Keepalive(id) => {
                if let Some(conn) = self.find_mut(id) {
                    conn.rearm_keepalive(now);
                    out.push(Action::SendKeepalive { conn: id });
                }
            }
        }
    }

    /// In Connect the attempt is hanging: give it up and try again, backing
    /// off (RFC 4271 keeps the interval fixed; growing it spares a peer that
    /// is down). In Active: try again.
    fn connect_retry_expired(&mut self, now: Millis, out: &mut Vec<Action>) {
        self.connect_retry_deadline = None;
        if !self.running || self.mode == StartMode::Passive {
            return;
        }
        if self.drop_pending_attempts(out) {
            self.backoff.record_failure();
        }
        if self.conns.is_empty() {
            self.initiate(now, out);
        }
    }
}
