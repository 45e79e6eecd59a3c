//! `BGPSessionState`: the live state of one session, as people read it.

use ferrolb_bfd::shell::SessionStatus as BfdStatus;
use ferrolb_bgp::fsm::State;
use ferrolb_bgp::peer::PeerStatus;
use ferrolb_crds::api::{BGPSessionStateStatus, SessionState};
use k8s_openapi::jiff::Timestamp;

use super::statuses::bounded_name;

/// The status object's content. Message counters move with every
/// keepalive; callers compare [`BGPSessionStateStatus`] without them to
/// decide whether a write is worth it.
pub fn session_status(status: &PeerStatus, bfd: Option<&BfdStatus>) -> BGPSessionStateStatus {
    BGPSessionStateStatus {
        state: Some(match status.state {
            State::Idle => SessionState::Idle,
            State::Connect => SessionState::Connect,
            State::Active => SessionState::Active,
            State::OpenSent => SessionState::OpenSent,
            State::OpenConfirm => SessionState::OpenConfirm,
            State::Established => SessionState::Established,
        }),
        established_since: status
            .established_since
            .and_then(|t| Timestamp::try_from(t).ok())
            .map(|t| t.to_string()),
        messages_sent: status.messages_sent,
        messages_received: status.messages_received,
        prefixes_sent: status.prefixes_announced as u64,
        prefixes_received: status.prefixes_received.iter().sum(),
        last_error: status.last_error.clone().unwrap_or_default(),
        bfd_status: bfd.map(|b| b.state.name().to_string()).unwrap_or_default(),
    }
}

/// The object's name for `peer` on `node`, stable across restarts.
pub fn session_state_name(node: &str, peer: &str) -> String {
    bounded_name(node, peer)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    #[test]
    fn an_established_session_reads_as_people_expect() {
        let status = PeerStatus {
            state: State::Established,
            established_since: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            prefixes_announced: 3,
            prefixes_received: [2, 1],
            ..PeerStatus::default()
        };
        let s = session_status(&status, None);
        assert_eq!(s.state, Some(SessionState::Established));
        assert_eq!(s.established_since.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!((s.prefixes_sent, s.prefixes_received), (3, 3));
        assert!(s.last_error.is_empty() && s.bfd_status.is_empty());
    }
}
