//! What the state machine asks its shell to do.

use crate::wire::{ControlPacket, Diagnostic, SessionState};

/// One output of the state machine, carried out in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this Control packet to the peer now.
    Send(ControlPacket),
    /// The session's state changed (report it; Up -> Down tears down the
    /// client protocol's session).
    StateChanged {
        /// The state before.
        from: SessionState,
        /// The state now.
        to: SessionState,
        /// Why (bfd.LocalDiag after the change).
        diag: Diagnostic,
    },
}
