//! Outputs of the FSM: what the driver must do, in order.

use std::time::Duration;

use super::config::{BgpId, Family};
use super::event::ConnectionId;
use super::hold_time::HoldTime;
use super::notification::Notification;
use super::peer_open::GracefulRestart;

/// An instruction to the driver. Actions come in the order they must be
/// carried out (a NOTIFICATION before the Disconnect of its connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to the peer and report the outcome under this id.
    Connect {
        /// The id for the new connection.
        conn: ConnectionId,
    },
    /// Close the connection (after flushing what was queued on it).
    Disconnect {
        /// The connection to close.
        conn: ConnectionId,
    },
    /// Send our OPEN, built from the same [`SessionConfig`](super::SessionConfig).
    SendOpen {
        /// Where.
        conn: ConnectionId,
    },
    /// Send a KEEPALIVE.
    SendKeepalive {
        /// Where.
        conn: ConnectionId,
    },
    /// Send a NOTIFICATION; a Disconnect of the same connection follows.
    SendNotification {
        /// Where.
        conn: ConnectionId,
        /// What.
        notification: Notification,
    },
    /// The session reached Established on this connection.
    SessionUp {
        /// The connection that carries the session from now on.
        conn: ConnectionId,
        /// What both sides agreed.
        session: NegotiatedSession,
    },
    /// The Established session on this connection ended.
    SessionDown {
        /// The connection that carried it.
        conn: ConnectionId,
        /// Why.
        reason: DownReason,
    },
}

/// Why an Established session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// [`Event::ManualStop`](super::Event::ManualStop).
    ManualStop,
    /// [`Event::GracefulStop`](super::Event::GracefulStop) on a session
    /// with graceful restart: closed without NOTIFICATION, the peer keeps
    /// our routes as stale.
    GracefulStop,
    /// [`Event::AdminReset`](super::Event::AdminReset).
    AdminReset,
    /// The peer stayed silent for the negotiated hold time.
    HoldTimerExpired,
    /// The TCP connection failed or was closed.
    TcpConnectionFailed,
    /// The peer sent a NOTIFICATION.
    NotificationReceived {
        /// Its code.
        code: u8,
        /// Its subcode.
        subcode: u8,
    },
    /// We sent a NOTIFICATION (a decode or FSM error).
    NotificationSent {
        /// Its code.
        code: u8,
        /// Its subcode.
        subcode: u8,
    },
    /// The peer, with graceful restart negotiated, opened a new session
    /// (RFC 4724 §4.2): the old connection was closed without NOTIFICATION.
    PeerRestarted,
}

impl DownReason {
    /// The peer refused the session, or the session broke on a protocol
    /// error: trying again at once would meet the same answer. A network
    /// fault (silence, a broken connection, BFD) or a local decision is not
    /// one: the session should come back as soon as the path does.
    pub fn is_refusal(&self) -> bool {
        match self {
            Self::NotificationReceived { .. } => true,
            Self::NotificationSent { code, .. } => *code != crate::fsm::notification::code::CEASE,
            _ => false,
        }
    }
}

/// What the two speakers agreed in their OPENs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedSession {
    /// The smaller of both hold times; disabled means no hold timer and no keepalives.
    pub hold_time: HoldTime,
    /// Our keepalive interval, `None` when the hold time is disabled.
    pub keepalive: Option<Duration>,
    /// The peer's AS, resolved through the 4-octet AS capability.
    pub peer_as: u32,
    /// The peer's BGP Identifier.
    pub peer_id: BgpId,
    /// Whether the peer is in our AS.
    pub internal: bool,
    /// Families both sides advertised, in our preference order.
    pub families: Vec<Family>,
    /// The peer advertised 4-octet AS support (we always do).
    pub four_octet_as: bool,
    /// Both sides advertised route refresh.
    pub route_refresh: bool,
    /// Both sides advertised extended messages: the maximum message size is 65535.
    pub extended_message: bool,
    /// The peer's graceful restart capability, when both sides advertised it.
    pub graceful_restart: Option<GracefulRestart>,
    /// Both sides advertised IPv4 unicast with an IPv6 next hop (RFC
    /// 8950): our IPv4 routes may carry an IPv6 next hop in MP_REACH_NLRI.
    pub extended_next_hop: bool,
}
