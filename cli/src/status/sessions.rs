//! `ferrolb status sessions`: every node × peer BGP session.

use super::snapshot::Snapshot;
use super::view::{API_VERSION, SessionRow, SessionsView};

pub fn sessions_view(snap: &Snapshot) -> SessionsView {
    let mut sessions: Vec<SessionRow> = snap
        .sessions
        .iter()
        .map(|s| SessionRow {
            node: s.node.clone(),
            peer: s.peer.clone(),
            peer_address: s.peer_address.clone(),
            state: s.state.clone(),
            uptime_seconds: s
                .established_since
                .filter(|_| s.is_established())
                // A clock behind the speaker's reads as zero, not negative.
                .map(|since| snap.now.duration_since(since).as_secs().max(0) as u64),
            prefixes_sent: s.prefixes_sent,
            prefixes_received: s.prefixes_received,
            last_error: (!s.last_error.is_empty()).then(|| s.last_error.clone()),
            bfd: (!s.bfd.is_empty()).then(|| s.bfd.clone()),
        })
        .collect();
    sessions.sort_by(|a, b| (&a.node, &a.peer).cmp(&(&b.node, &b.peer)));
    SessionsView {
        api_version: API_VERSION,
        kind: "Sessions",
        sessions,
    }
}

/// `3d4h`, `2h5m`, `4m10s`, `12s`: the two largest units, as kubectl
/// prints ages.
pub fn human_duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}
