//! What a session reports about itself, for status, metrics and logs.

use std::time::SystemTime;

use crate::fsm::State;

/// A snapshot of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// The FSM state.
    pub state: State,
    /// When the current Established session began.
    pub established_since: Option<SystemTime>,
    /// How many times the session reached Established.
    pub established_count: u64,
    /// Messages sent and received on all connections.
    pub messages_sent: u64,
    /// Messages received.
    pub messages_received: u64,
    /// UPDATE messages sent.
    pub updates_sent: u64,
    /// Prefixes announced to the peer right now.
    pub prefixes_announced: usize,
    /// Prefixes the peer announced to us, IPv4 and IPv6 (counted, not kept).
    pub prefixes_received: [u64; 2],
    /// Prefixes the peer withdrew, IPv4 and IPv6.
    pub withdrawals_received: [u64; 2],
    /// The last thing that went wrong, in words.
    pub last_error: Option<String>,
}

impl Default for PeerStatus {
    fn default() -> Self {
        PeerStatus {
            state: State::Idle,
            established_since: None,
            established_count: 0,
            messages_sent: 0,
            messages_received: 0,
            updates_sent: 0,
            prefixes_announced: 0,
            prefixes_received: [0; 2],
            withdrawals_received: [0; 2],
            last_error: None,
        }
    }
}
