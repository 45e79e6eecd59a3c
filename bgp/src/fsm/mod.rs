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
pub use session::{Session, SessionStats, StartMode};
pub use state::State;
pub use time::Millis;
