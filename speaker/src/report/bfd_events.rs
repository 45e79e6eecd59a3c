//! Which BFD transitions deserve an Event on the BGPPeer: each fall from Up
//! (with the diagnostic) and each return to Up, per peer, rate-limited so
//! that a flapping path (a 50 ms session can flap ten times a second)
//! cannot flood the API server. Transitions are read from the session's
//! counters, not its state, so a fall and a recovery between two looks are
//! both seen.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ferrolb_bfd::shell::SessionStatus;
use ferrolb_bfd::wire::SessionState;

/// Events a peer may get at once.
pub const BURST: u32 = 4;
/// One more Event allowed per this long, after the burst.
pub const REFILL: Duration = Duration::from_secs(30);

/// An Event worth publishing on a BGPPeer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BfdEvent {
    /// The BGPPeer's name.
    pub peer: String,
    pub up: bool,
    pub note: String,
}

impl BfdEvent {
    /// The Event reason.
    pub fn reason(&self) -> &'static str {
        if self.up {
            "bfdSessionUp"
        } else {
            "bfdSessionDown"
        }
    }

    pub fn is_warning(&self) -> bool {
        !self.up
    }
}

/// One peer's counters at the last look, and its Event budget.
#[derive(Debug)]
struct Seen {
    up_events: u64,
    down_events: u64,
    /// Events that may be published now, up to [`BURST`].
    tokens: u32,
    refilled_at: Instant,
    /// Transitions not published for want of tokens since the last Event.
    missed: u64,
}

/// The BFD sessions as of the last look.
#[derive(Debug, Default)]
pub struct BfdEvents {
    seen: BTreeMap<String, Seen>,
}

impl BfdEvents {
    /// The Events the sessions' changes since the last call deserve, at
    /// `now`. `sessions`: (BGPPeer name, peer address, BFD status); peers
    /// absent here are forgotten. A session seen for the first time is
    /// compared with a new one (no transition yet). Transitions held back
    /// by the limit are told in the next Event, which comes on the first
    /// call after a token is back (the shell calls at least once per BGP
    /// keepalive).
    pub fn update<'a>(
        &mut self,
        node: &str,
        now: Instant,
        sessions: impl IntoIterator<Item = (&'a str, IpAddr, &'a SessionStatus)>,
    ) -> Vec<BfdEvent> {
        let mut events = Vec::new();
        let mut seen = BTreeMap::new();
        for (peer, address, status) in sessions {
            let mut s = self.seen.remove(peer).unwrap_or(Seen {
                up_events: 0,
                down_events: 0,
                tokens: BURST,
                refilled_at: now,
                missed: 0,
            });
            let refills =
                now.saturating_duration_since(s.refilled_at).as_nanos() / REFILL.as_nanos();
            if refills > 0 {
                s.tokens = BURST.min(
                    s.tokens
                        .saturating_add(refills.min(u128::from(BURST)) as u32),
                );
                s.refilled_at = now;
            }
            // Counters that went back belong to a new session (the peer's
            // was replaced between two looks): counted from zero.
            let replaced = status.up_events < s.up_events || status.down_events < s.down_events;
            let (up_before, down_before) = if replaced {
                (0, 0)
            } else {
                (s.up_events, s.down_events)
            };
            let new = (status.up_events - up_before) + (status.down_events - down_before);
            s.up_events = status.up_events;
            s.down_events = status.down_events;
            let changed = new > 0 || s.missed > 0;
            if changed {
                if s.tokens > 0 {
                    s.tokens -= 1;
                    // The transitions before the one this Event tells.
                    let untold = (s.missed + new).saturating_sub(1);
                    s.missed = 0;
                    events.push(event(node, peer, address, status, untold));
                } else {
                    s.missed += new;
                }
            }
            seen.insert(peer.to_string(), s);
        }
        self.seen = seen;
        events
    }
}

fn event(node: &str, peer: &str, address: IpAddr, status: &SessionStatus, untold: u64) -> BfdEvent {
    let up = status.state == SessionState::Up;
    let mut note = if up {
        format!("BFD session with {address} on node \"{node}\" is up")
    } else {
        format!(
            "BFD session with {address} on node \"{node}\" is {} ({}); the BGP session is closed",
            status.state,
            status.diag.description()
        )
    };
    if untold > 0 {
        note.push_str(&format!(
            "; {untold} earlier transition(s) not reported, to limit Events"
        ));
    }
    BfdEvent {
        peer: peer.to_string(),
        up,
        note,
    }
}

#[cfg(test)]
mod tests {
    use ferrolb_bfd::wire::Diagnostic;

    use super::*;

    fn status(state: SessionState, up_events: u64, down_events: u64) -> SessionStatus {
        SessionStatus {
            state,
            remote_state: state,
            diag: if state == SessionState::Up {
                Diagnostic::NoDiagnostic
            } else {
                Diagnostic::ControlDetectionTimeExpired
            },
            local_discriminator: 1,
            remote_discriminator: 2,
            up_events,
            down_events,
            since: None,
        }
    }

    fn look(e: &mut BfdEvents, now: Instant, s: &SessionStatus) -> Vec<(bool, String)> {
        let addr: IpAddr = "172.31.255.1".parse().unwrap();
        e.update("n1", now, [("r1", addr, s)])
            .into_iter()
            .map(|e| (e.up, e.note))
            .collect()
    }

    #[test]
    fn up_and_down_are_told_with_the_peer_node_and_diagnostic() {
        let mut e = BfdEvents::default();
        let t = Instant::now();
        assert!(look(&mut e, t, &status(SessionState::Down, 0, 0)).is_empty());
        let up = look(&mut e, t, &status(SessionState::Up, 1, 0));
        assert_eq!(
            up,
            [(
                true,
                "BFD session with 172.31.255.1 on node \"n1\" is up".to_string()
            )]
        );
        assert!(
            look(&mut e, t, &status(SessionState::Up, 1, 0)).is_empty(),
            "no change"
        );
        let down = look(&mut e, t, &status(SessionState::Down, 1, 1));
        assert_eq!(
            down,
            [(
                false,
                "BFD session with 172.31.255.1 on node \"n1\" is down (control detection time expired); the BGP session is closed".to_string()
            )]
        );
        // A fall and a recovery between two looks: one Event, the state
        // now, telling the transition before it.
        let flap = look(&mut e, t, &status(SessionState::Up, 2, 2));
        assert_eq!(flap.len(), 1);
        assert!(
            flap[0].0
                && flap[0]
                    .1
                    .ends_with("1 earlier transition(s) not reported, to limit Events"),
            "{flap:?}"
        );
    }

    #[test]
    fn a_flapping_session_gets_a_burst_then_one_event_per_refill() {
        let mut e = BfdEvents::default();
        let t = Instant::now();
        let mut told = 0;
        for i in 1..=20u64 {
            let s = if i % 2 == 1 {
                status(SessionState::Up, i.div_ceil(2), i / 2)
            } else {
                status(SessionState::Down, i / 2, i / 2)
            };
            told += look(&mut e, t + Duration::from_millis(i * 100), &s).len();
        }
        assert_eq!(told, BURST as usize, "20 transitions in 2 s");
        // Quiet afterwards: the held-back state is told once a token is
        // back, with the count of what was not.
        let last = status(SessionState::Down, 10, 10);
        assert!(look(&mut e, t + Duration::from_secs(10), &last).is_empty());
        let late = look(&mut e, t + REFILL + Duration::from_secs(1), &last);
        assert_eq!(late.len(), 1, "{late:?}");
        assert!(!late[0].0);
        assert!(
            late[0]
                .1
                .contains("; 15 earlier transition(s) not reported"),
            "{late:?}"
        );
        assert!(look(&mut e, t + REFILL * 2, &last).is_empty(), "told once");
    }

    #[test]
    fn peers_have_their_own_budgets_and_gone_peers_are_forgotten() {
        let mut e = BfdEvents::default();
        let t = Instant::now();
        let a: IpAddr = "172.31.255.1".parse().unwrap();
        let b: IpAddr = "172.31.255.2".parse().unwrap();
        let (up, down) = (
            status(SessionState::Up, 1, 0),
            status(SessionState::Down, 1, 1),
        );
        let both = e.update("n1", t, [("r1", a, &up), ("r2", b, &up)]);
        assert_eq!(
            both.iter().map(|e| e.peer.as_str()).collect::<Vec<_>>(),
            ["r1", "r2"]
        );
        assert_eq!(e.update("n1", t, [("r2", b, &down)]).len(), 1);
        // r1 comes back as a new session (its counters start again).
        let again = e.update("n1", t, [("r1", a, &status(SessionState::Up, 1, 0))]);
        assert_eq!(again.len(), 1, "{again:?}");
        assert_eq!(again[0].reason(), "bfdSessionUp");
    }
}
