//! A session's configured timers and how they become the values in effect.

use std::time::Duration;

/// The transmit interval advertised while the session is not Up (§6.8.3:
/// "not less than one second").
pub const SLOW_TX_US: u32 = 1_000_000;

/// The timers a profile asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// bfd.DesiredMinTxInterval once Up, µs.
    pub desired_min_tx_us: u32,
    /// bfd.RequiredMinRxInterval, µs (zero: send us nothing periodically).
    pub required_min_rx_us: u32,
    /// bfd.DetectMult (at least 1).
    pub detect_mult: u8,
}

impl Timers {
    /// From durations, saturating at what the wire can carry; a zero
    /// multiplier becomes 1 (a packet with Detect Mult 0 is invalid).
    pub fn new(transmit: Duration, receive: Duration, detect_mult: u8) -> Timers {
        let us = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        Timers {
            desired_min_tx_us: us(transmit).max(1),
            required_min_rx_us: us(receive),
            detect_mult: detect_mult.max(1),
        }
    }
}

impl Default for Timers {
    /// MetalLB's (FRR's) defaults: 300 ms × 3.
    fn default() -> Timers {
        Timers {
            desired_min_tx_us: 300_000,
            required_min_rx_us: 300_000,
            detect_mult: 3,
        }
    }
}

/// Everything a session is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// The timers.
    pub timers: Timers,
    /// The Passive role (§6.1): send nothing until the peer has spoken.
    pub passive: bool,
}
