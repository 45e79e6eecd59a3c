//! What a session reports to its owner.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::wire::{Diagnostic, SessionState};

/// A session's state, published on every change of state (the packet
/// counters move too often for a watch: they are in [`Counters`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStatus {
    /// bfd.SessionState.
    pub state: SessionState,
    /// bfd.RemoteSessionState.
    pub remote_state: SessionState,
    /// Why the state last changed.
    pub diag: Diagnostic,
    /// bfd.LocalDiscr.
    pub local_discriminator: u32,
    /// bfd.RemoteDiscr.
    pub remote_discriminator: u32,
    /// Transitions to Up.
    pub up_events: u64,
    /// Transitions from Up to anything else.
    pub down_events: u64,
    /// When the state last changed.
    pub since: Option<SystemTime>,
}

impl SessionStatus {
    pub(super) fn new(local_discriminator: u32) -> SessionStatus {
        SessionStatus {
            state: SessionState::Down,
            remote_state: SessionState::Down,
            diag: Diagnostic::NoDiagnostic,
            local_discriminator,
            remote_discriminator: 0,
            up_events: 0,
            down_events: 0,
            since: None,
        }
    }
}

/// A session's packet counters, read at any time.
#[derive(Debug, Default)]
pub struct Counters {
    packets_in: AtomicU64,
    packets_out: AtomicU64,
    ttl_dropped: AtomicU64,
}

impl Counters {
    /// Valid Control packets received for the session.
    pub fn packets_in(&self) -> u64 {
        self.packets_in.load(Ordering::Relaxed)
    }

    /// Control packets sent.
    pub fn packets_out(&self) -> u64 {
        self.packets_out.load(Ordering::Relaxed)
    }

    /// Packets for the session dropped for their TTL (forwarded by a router
    /// on a single-hop session, or below the multihop minimum).
    pub fn ttl_dropped(&self) -> u64 {
        self.ttl_dropped.load(Ordering::Relaxed)
    }

    pub(super) fn count_in(&self) {
        self.packets_in.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_out(&self) {
        self.packets_out.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_ttl_drop(&self) {
        self.ttl_dropped.fetch_add(1, Ordering::Relaxed);
    }
}
