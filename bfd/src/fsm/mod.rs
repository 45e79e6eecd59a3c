//! The BFD session state machine (RFC 5880 §6.2, §6.8), asynchronous mode.
//!
//! A [`Session`] is a pure value. The shell hands it each valid received
//! packet ([`Session::receive`]) and wakes it at [`Session::next_deadline`]
//! ([`Session::poll_timers`]), always with the current time as [`Micros`];
//! it answers with [`Action`]s: packets to send and state changes. It never
//! reads a clock or a socket; the jitter of §6.8.7 comes from a seed the
//! shell gives it, so runs replay exactly in tests.

mod action;
mod jitter;
mod session;
mod time;
mod timers;

pub use action::Action;
pub use jitter::Jitter;
pub use session::Session;
pub use time::Micros;
pub use timers::{SLOW_TX_US, SessionConfig, Timers};
