//! The decision kept up to date: after a change, only the Services whose
//! inputs changed are decided again (with, in Layer-2 mode, the Services
//! sharing an address with one of them), and everything is decided again
//! only when an input every Service reads changes (the configuration,
//! this node, the live members, the interfaces, the fence).
//!
//! The books hold the plan [`super::bgp_plan`] and [`super::l2_plan`]
//! would compute from the same inputs, equal to it field for field
//! (`tests/decide_incremental_props.rs` holds them to it after arbitrary
//! sequences of changes); they only avoid deciding again what cannot have
//! changed. They stay pure: no clock, no I/O, the same inputs in the same
//! order give the same plan.

mod bgp;
mod l2;
mod services;

pub use bgp::{BgpBook, Prefixes};
pub use l2::L2Book;
pub use services::ServiceBook;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::ops::Range;

use super::input::ServiceKey;
use super::verdict::Explanation;

/// The verdicts one update decided again: those of the Services it
/// decided, as they were and as they are (a Service appears whole in
/// both, or in one when it came or went). What a verdict log or an Event
/// compares, without walking the Services nothing changed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta<V> {
    pub before: Vec<Explanation<V>>,
    pub after: Vec<Explanation<V>>,
}

impl<V> Default for Delta<V> {
    fn default() -> Self {
        Delta {
            before: Vec::new(),
            after: Vec::new(),
        }
    }
}

impl<V> Delta<V> {
    /// Nothing was decided again.
    pub fn is_empty(&self) -> bool {
        self.before.is_empty() && self.after.is_empty()
    }
}

/// Which Services to decide again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// Every one: an input they all read changed.
    All,
    /// These, by key; a key no longer in the [`ServiceBook`] is a Service
    /// gone.
    Some(BTreeSet<ServiceKey>),
}

impl Changed {
    /// Adds what `other` says changed.
    pub fn merge(&mut self, other: Changed) {
        match (&mut *self, other) {
            (Changed::All, _) => {}
            (_, Changed::All) => *self = Changed::All,
            (Changed::Some(keys), Changed::Some(more)) => keys.extend(more),
        }
    }

    pub fn none() -> Changed {
        Changed::Some(BTreeSet::new())
    }
}

/// Where the explanations of `service` lie in `explanations` (in Service
/// order): an empty range at its place when it has none.
fn range_of<V>(explanations: &[Explanation<V>], service: &ServiceKey) -> Range<usize> {
    let start = explanations.partition_point(|e| e.service < *service);
    let len = explanations[start..].partition_point(|e| e.service == *service);
    start..start + len
}

/// The explanations of `service` in `explanations` (in Service order, as
/// a plan keeps them).
pub fn explanations_of<'a, V>(
    explanations: &'a [Explanation<V>],
    service: &ServiceKey,
) -> &'a [Explanation<V>] {
    &explanations[range_of(explanations, service)]
}

/// Replaces the explanations of `service` by `verdicts` (its addresses in
/// order), keeping what they replace and a copy of what they are in
/// `delta`.
fn replace_explanations<V: Clone>(
    explanations: &mut Vec<Explanation<V>>,
    service: &ServiceKey,
    verdicts: Vec<(IpAddr, V)>,
    delta: &mut Delta<V>,
) {
    let range = range_of(explanations, service);
    let new: Vec<Explanation<V>> = verdicts
        .into_iter()
        .map(|(address, verdict)| Explanation {
            service: service.clone(),
            address,
            verdict,
        })
        .collect();
    delta.after.extend(new.iter().cloned());
    delta.before.extend(explanations.splice(range, new));
}

/// The addresses `service` had when its explanations were last made.
fn addresses_of<V>(explanations: &[Explanation<V>], service: &ServiceKey) -> Vec<IpAddr> {
    explanations_of(explanations, service)
        .iter()
        .map(|e| e.address)
        .collect()
}
