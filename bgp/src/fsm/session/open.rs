//! The peer's OPEN (RFC 4271 event 19) and connection collisions (§6.8).

use super::Session;
use crate::fsm::action::{Action, DownReason, NegotiatedSession};
use crate::fsm::collision::{self, Speaker, Survivor};
use crate::fsm::connection::Stage;
use crate::fsm::event::ConnectionId;
use crate::fsm::notification::Notification;
use crate::fsm::open_check::check_open;
use crate::fsm::peer_open::PeerOpen;
use crate::fsm::state::State;
use crate::fsm::time::Millis;

impl Session {
    pub(super) fn open_received(
        &mut self,
        now: Millis,
        id: ConnectionId,
        open: &PeerOpen,
        out: &mut Vec<Action>,
    ) {
        let Some(conn) = self.conns.iter().find(|c| c.id == id) else {
            out.push(Action::Disconnect { conn: id });
            return;
        };
        // A second OPEN on the same connection, or one before ours went out.
        if conn.stage != Stage::OpenSent {
            let state = conn.state();
            self.fsm_error(now, id, state, out);
            return;
        }
        match check_open(&self.config, open) {
            Ok(session) => self.open_accepted(now, id, session, out),
            Err(error) => {
                tracing::debug!(conn = %id, %error, "peer OPEN refused");
                self.close_with_error(now, id, error.notification(), out);
            }
        }
    }

    /// A valid OPEN: go to OpenConfirm unless another connection to the same
    /// peer has got that far, in which case one of the two must go.
    fn open_accepted(
        &mut self,
        now: Millis,
        id: ConnectionId,
        session: NegotiatedSession,
        out: &mut Vec<Action>,
    ) {
        let rival = self.conns.iter().find(|c| c.id != id).and_then(|c| {
            let graceful = c.negotiated()?.graceful_restart.is_some();
            Some((c.id, c.state(), graceful))
        });
        let collision = Notification::connection_collision();
        match rival {
            None => self.confirm(now, id, session, out),
            // RFC 4724 §4.2: with graceful restart, a new OPEN means the peer
            // restarted; the old connection is dead even if TCP has not noticed.
            Some((old, State::Established, true)) => {
                tracing::debug!(old = %old, new = %id, "peer restarted (graceful restart)");
                self.close(now, old, None, DownReason::PeerRestarted, out);
                self.confirm(now, id, session, out);
            }
            // RFC 4271 §6.8: an Established session wins over a newcomer.
            Some((_, State::Established, false)) => self.close_with_error(now, id, collision, out),
            Some((old, _, _)) => {
                let local = Speaker {
                    id: self.config.local_id,
                    asn: self.config.local_as,
                };
                let remote = Speaker {
                    id: session.peer_id,
                    asn: session.peer_as,
                };
                let survivor = collision::resolve(local, remote, old.origin(), id.origin());
                tracing::debug!(existing = %old, new = %id, ?survivor, "connection collision");
                match survivor {
                    Survivor::Existing => self.close_with_error(now, id, collision, out),
                    Survivor::New => {
                        self.close_with_error(now, old, collision, out);
                        self.confirm(now, id, session, out);
                    }
                }
            }
        }
    }

    fn confirm(
        &mut self,
        now: Millis,
        id: ConnectionId,
        session: NegotiatedSession,
        out: &mut Vec<Action>,
    ) {
        if let Some(conn) = self.find_mut(id) {
            conn.open_confirm(now, session);
            out.push(Action::SendKeepalive { conn: id });
        }
    }
}
