//! The six session states of RFC 4271 §8.2.2.

/// A BGP session state. Ordered by progress, so the state of a session with
/// two connections (during collision) is the more advanced one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Refuses connections; waits for a start event.
    Idle,
    /// Waits for an outbound TCP connection to complete.
    Connect,
    /// Listens for the peer's connection (and, unless passive, retries outbound on ConnectRetry).
    Active,
    /// Our OPEN is sent; waiting for the peer's.
    OpenSent,
    /// OPENs exchanged; waiting for the peer's KEEPALIVE.
    OpenConfirm,
    /// The session is up.
    Established,
}

impl State {
    /// The RFC 4271 name.
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
