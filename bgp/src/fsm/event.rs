//! Inputs to the FSM: administrative commands, TCP outcomes and decoded messages.

use super::notification::Notification;
use super::peer_open::PeerOpen;

/// Who opened a TCP connection: it decides collisions (RFC 4271 §6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// We connected to the peer.
    Outbound,
    /// The peer connected to us.
    Inbound,
}

/// Names one TCP connection to the peer. A session has at most two at a time
/// (the collision case). Outbound ids are minted by the FSM in
/// [`Action::Connect`](super::Action::Connect); inbound ids are chosen by the
/// driver when it accepts a connection, and must not be reused while the
/// session could still know them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionId {
    origin: Origin,
    seq: u64,
}

impl ConnectionId {
    /// An id for a connection the peer opened, numbered by the driver.
    pub fn inbound(seq: u64) -> Self {
        Self {
            origin: Origin::Inbound,
            seq,
        }
    }

    /// An id for a connection we open; normally only the FSM makes these.
    pub fn outbound(seq: u64) -> Self {
        Self {
            origin: Origin::Outbound,
            seq,
        }
    }

    /// Who opened the connection.
    pub fn origin(self) -> Origin {
        self.origin
    }

    /// The sequence number within its origin.
    pub fn seq(self) -> u64 {
        self.seq
    }
}

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.origin {
            Origin::Outbound => write!(f, "out#{}", self.seq),
            Origin::Inbound => write!(f, "in#{}", self.seq),
        }
    }
}

/// Something that happened to the session, as the driver reports it.
///
/// Timer expiries are not events: the FSM owns its timers and fires them in
/// [`Session::poll_timers`](super::Session::poll_timers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Start, connecting to the peer and accepting its connections (RFC event 1).
    ManualStart,
    /// Start passively: only accept the peer's connections (RFC event 4).
    ManualStartPassive,
    /// Stop; every open connection gets Cease / Administrative Shutdown with
    /// this RFC 9003 shutdown communication (RFC event 2).
    ManualStop {
        /// Operator's reason; may be empty.
        reason: String,
    },
    /// Stop for a planned restart of this speaker (RFC 4724 §4.1): a
    /// connection whose session negotiated graceful restart is closed
    /// without NOTIFICATION, so the peer keeps our routes as stale until we
    /// are back; every other connection gets Cease / Administrative
    /// Shutdown with this RFC 9003 shutdown communication, as for
    /// [`Event::ManualStop`]. No automatic restart follows.
    GracefulStop {
        /// Operator's reason; may be empty.
        reason: String,
    },
    /// Bounce the session: every open connection gets Cease / Administrative
    /// Reset with this RFC 9003 shutdown communication, then the session
    /// starts again after the backoff delay. For configuration changes that
    /// concern a running session. Ignored in Idle.
    AdminReset {
        /// Operator's reason; may be empty.
        reason: String,
    },
    /// The BFD session that watches the path to the peer went down (RFC
    /// 5882 §4.3): every open connection gets Cease / BFD Down (RFC 9384)
    /// and the session starts again after the backoff delay. Ignored in Idle.
    BfdDown,
    /// Start again in the last mode (RFC event 3). The FSM generates this
    /// itself after the backoff when automatic restart is on.
    AutomaticStart,
    /// The driver accepted a connection from the peer (RFC event 17).
    TcpConnectionConfirmed {
        /// The driver's id for the new connection.
        conn: ConnectionId,
    },
    /// Our outbound connection completed (RFC event 16).
    TcpConnectionSucceeded {
        /// The id from [`Action::Connect`](super::Action::Connect).
        conn: ConnectionId,
    },
    /// A connection failed or was closed by the peer (RFC event 18).
    TcpConnectionFails {
        /// The failed connection.
        conn: ConnectionId,
    },
    /// A well-formed OPEN arrived (RFC event 19); the FSM still validates it.
    OpenReceived {
        /// Where it arrived.
        conn: ConnectionId,
        /// Its decoded content.
        open: PeerOpen,
    },
    /// A KEEPALIVE arrived (RFC event 26).
    KeepaliveReceived {
        /// Where it arrived.
        conn: ConnectionId,
    },
    /// A valid UPDATE arrived (RFC event 27); its routes are the driver's business.
    UpdateReceived {
        /// Where it arrived.
        conn: ConnectionId,
    },
    /// A ROUTE-REFRESH arrived (RFC 2918); only legal once Established.
    RouteRefreshReceived {
        /// Where it arrived.
        conn: ConnectionId,
    },
    /// The driver sent an UPDATE: it stands in for a KEEPALIVE, so the
    /// keepalive timer restarts (RFC 4271 §4.4). Optional.
    UpdateSent {
        /// Where it went.
        conn: ConnectionId,
    },
    /// A NOTIFICATION arrived (RFC events 24, 25): the peer closes the connection.
    NotificationReceived {
        /// Where it arrived.
        conn: ConnectionId,
        /// Its error code.
        code: u8,
        /// Its error subcode.
        subcode: u8,
    },
    /// The codec rejected a message (RFC events 21, 22, 28): the FSM sends
    /// the NOTIFICATION the codec chose and closes the connection.
    MessageDecodeError {
        /// Where the bad message arrived.
        conn: ConnectionId,
        /// What to tell the peer.
        notification: Notification,
    },
}

impl Event {
    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Event::ManualStart => "ManualStart",
            Event::ManualStartPassive => "ManualStartPassive",
            Event::ManualStop { .. } => "ManualStop",
            Event::GracefulStop { .. } => "GracefulStop",
            Event::AdminReset { .. } => "AdminReset",
            Event::BfdDown => "BfdDown",
            Event::AutomaticStart => "AutomaticStart",
            Event::TcpConnectionConfirmed { .. } => "TcpConnectionConfirmed",
            Event::TcpConnectionSucceeded { .. } => "TcpConnectionSucceeded",
            Event::TcpConnectionFails { .. } => "TcpConnectionFails",
            Event::OpenReceived { .. } => "OpenReceived",
            Event::KeepaliveReceived { .. } => "KeepaliveReceived",
            Event::UpdateReceived { .. } => "UpdateReceived",
            Event::RouteRefreshReceived { .. } => "RouteRefreshReceived",
            Event::UpdateSent { .. } => "UpdateSent",
            Event::NotificationReceived { .. } => "NotificationReceived",
            Event::MessageDecodeError { .. } => "MessageDecodeError",
        }
    }
}
