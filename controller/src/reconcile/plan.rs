//! What one reconciliation pass decides: the status and annotation each
//! Service should carry, and the Events to tell its owner.

use std::fmt;
use std::net::IpAddr;

use crate::ipam::ServiceKey;

/// What FerroLB writes on a Service: `status.loadBalancer.ingress` and the
/// `metallb.io/ip-allocated-from-pool` annotation. Empty means cleared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    /// The ingress addresses, in the allocator's order.
    pub addresses: Vec<IpAddr>,
    /// The pool the addresses came from; `None` for an orphaned address or
    /// none at all.
    pub pool: Option<String>,
}

impl Desired {
    /// Nothing assigned.
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty() && self.pool.is_none()
    }
}

impl fmt::Display for Desired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addrs: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
        write!(f, "{}", addrs.join(", "))?;
        if let Some(pool) = &self.pool {
            write!(f, " from pool {pool}")?;
        }
        Ok(())
    }
}

/// Event reasons, as MetalLB names them where MetalLB has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Addresses given (MetalLB: `IPAllocated`).
    IpAllocated,
    /// Allocation refused (MetalLB: `AllocationFailed`).
    AllocationFailed,
    /// Status cleared (MetalLB: `ClearAssignment`).
    ClearAssignment,
    /// A deprecated or conflicting annotation/field is in use.
    DeprecatedAnnotation,
    /// The Service keeps an address the configuration no longer backs.
    AddressOrphaned,
}

impl Reason {
    /// The Event's `reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::IpAllocated => "IPAllocated",
            Reason::AllocationFailed => "AllocationFailed",
            Reason::ClearAssignment => "ClearAssignment",
            Reason::DeprecatedAnnotation => "DeprecatedAnnotation",
            Reason::AddressOrphaned => "AddressOrphaned",
        }
    }

    /// Warning (true) or Normal.
    pub fn is_warning(self) -> bool {
        !matches!(self, Reason::IpAllocated | Reason::ClearAssignment)
    }
}

/// One Event about a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The Service.
    pub key: ServiceKey,
    /// Why.
    pub reason: Reason,
    /// The human-readable message.
    pub message: String,
}

/// The outcome of one pass.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Services whose recorded status/annotation differ from the decision,
    /// with what they should be.
    pub writes: Vec<(ServiceKey, Desired)>,
    /// Events to publish, in decision order.
    pub notes: Vec<Note>,
}
