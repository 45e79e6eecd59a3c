//! The BGP-4 session state machine (RFC 4271 §8), sans I/O.
//!
//! A [`Session`] is a pure value: the driver hands it [`Event`]s and the
//! current time ([`Millis`]), and gets back [`Action`]s to carry out. It owns
//! its timers (ConnectRetry with backoff, Hold, Keepalive, automatic restart)
//! and reports when it next needs attention through
//! [`Session::next_deadline`]. It never touches sockets, clocks or
//! randomness, and never depends on the wire codec: OPENs arrive decoded as
//! [`PeerOpen`], NOTIFICATIONs leave as [`Notification`] values.
//!
//! Attributes of RFC 4271 §8.1 in use: passive TCP establishment on demand
//! ([`Event::ManualStartPassive`]), DelayOpen off, collision detection on
//! (not in Established, except for graceful restart), automatic restart with
//! peer oscillation damping (the backoff).
//!
//! See `docs/bgp-fsm.md` for the full behaviour.
//!
//! # Example
//!
//! ```
//! use ferrolb_bgp::fsm::*;
//!
//! let config = SessionConfig::new(64512, BgpId(0x0a00_0001), PeerAs::Exact(64513));
//! let mut session = Session::new(config, 0x5eed);
//! let mut now = Millis(0);
//!
//! // Start: the FSM asks for a TCP connection under an id it chose.
//! let actions = session.handle(now, Event::ManualStart);
//! let [Action::Connect { conn }] = actions[..] else { unreachable!() };
//!
//! // The driver connected: send our OPEN.
//! let actions = session.handle(now, Event::TcpConnectionSucceeded { conn });
//! assert_eq!(actions, [Action::SendOpen { conn }]);
//!
//! // The peer's OPEN, decoded by the codec.
//! let open = PeerOpen {
//!     version: 4,
//!     my_as: 64513,
//!     hold_time: 90,
//!     bgp_id: BgpId(0x0a00_0002),
//!     capabilities: PeerCapabilities {
//!         four_octet_as: Some(64513),
//!         ..PeerCapabilities::default()
//!     },
//! };
//! let actions = session.handle(now, Event::OpenReceived { conn, open });
//! assert_eq!(actions, [Action::SendKeepalive { conn }]);
//!
//! // The peer's KEEPALIVE: the session is up.
//! let actions = session.handle(now, Event::KeepaliveReceived { conn });
//! assert!(matches!(&actions[..], [Action::SessionUp { .. }]));
//!
//! // Timers: the driver sleeps until the next deadline, then polls.
//! now = session.next_deadline().unwrap();
//! assert_eq!(session.poll_timers(now), [Action::SendKeepalive { conn }]);
//! assert_eq!(session.state(), State::Established);
//! ```

mod action;
mod backoff;
mod collision;
mod config;
mod connection;
mod event;
mod hold_time;
mod negotiate;
mod notification;
mod open_check;
mod peer_open;
mod session;
mod state;
mod time;

pub use action::{Action, DownReason, NegotiatedSession};
pub use collision::{Speaker, Survivor, resolve as resolve_collision};
pub use config::{BackoffConfig, BgpId, Family, PeerAs, SessionConfig};
pub use event::{ConnectionId, Event, Origin};
pub use hold_time::{HoldTime, InvalidHoldTime};
pub use notification::{Notification, cease_subcode, code, open_subcode};
pub use open_check::{BGP_VERSION, OpenError, check_open};
pub use peer_open::{AS_TRANS, GracefulRestart, GracefulRestartFamily, PeerCapabilities, PeerOpen};
pub use session::{NotIdle, Session, SessionStats, StartMode};
pub use state::State;
pub use time::Millis;
