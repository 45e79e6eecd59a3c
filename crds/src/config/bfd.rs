//! `BFDProfile` -> [`BfdProfile`], with MetalLB's (FRR's) defaults.

use std::time::Duration;

use super::diagnostic::{ObjectRef, Problem, Sink};
use super::unsupported;
use crate::api::BFDProfile;

/// A validated BFD profile; every value is filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BfdProfile {
    /// `metadata.name`.
    pub name: String,
    /// Default 300 ms.
    pub receive_interval: Duration,
    /// Default 300 ms.
    pub transmit_interval: Duration,
    /// Default 3.
    pub detect_multiplier: u8,
    /// Default 50 ms.
    pub echo_interval: Duration,
    /// Default false.
    pub echo_mode: bool,
    /// Default false.
    pub passive_mode: bool,
    /// Default 254.
    pub minimum_ttl: u8,
}

pub(crate) fn compile(sink: &mut Sink, obj: &ObjectRef, cr: &BFDProfile) -> BfdProfile {
    let s = &cr.spec;
    unsupported::check_bfd_profile(sink, obj, cr);
    let mut ranged = |field: &str, value: Option<u32>, min: u32, max: u32, default: u32| -> u32 {
        match value {
            Some(v) if v < min || v > max => {
                sink.error(
                    obj,
                    format!("spec.{field}"),
                    Problem::OutOfRange {
                        value: i64::from(v),
                        min: i64::from(min),
                        max: i64::from(max),
                    },
                );
                default
            }
            Some(v) => v,
            None => default,
        }
    };
    let ms = |v: u32| Duration::from_millis(u64::from(v));
    let receive = ranged("receiveInterval", s.receive_interval, 10, 60_000, 300);
    let transmit = ranged("transmitInterval", s.transmit_interval, 10, 60_000, 300);
    let echo = ranged("echoInterval", s.echo_interval, 10, 60_000, 50);
    let multiplier = ranged("detectMultiplier", s.detect_multiplier, 2, 255, 3);
    let ttl = ranged("minimumTtl", s.minimum_ttl, 1, 254, 254);
    BfdProfile {
        name: obj.name.clone(),
        receive_interval: ms(receive),
        transmit_interval: ms(transmit),
        // In range by the checks above.
        detect_multiplier: u8::try_from(multiplier).unwrap_or(3),
        echo_interval: ms(echo),
        echo_mode: s.echo_mode.unwrap_or(false),
        passive_mode: s.passive_mode.unwrap_or(false),
        minimum_ttl: u8::try_from(ttl).unwrap_or(254),
    }
}
