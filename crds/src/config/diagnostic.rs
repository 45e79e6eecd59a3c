//! Compiler diagnostics: which object, which field, what is wrong.

use std::fmt;

use crate::address::AddressError;
use crate::community::CommunityError;
use crate::duration::DurationError;
use crate::selector::SelectorError;

use super::unsupported::Unsupported;

/// The `metallb.io` kinds the compiler reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `IPAddressPool`.
    IPAddressPool,
    /// `L2Advertisement`.
    L2Advertisement,
    /// `BGPAdvertisement`.
    BGPAdvertisement,
    /// `BGPPeer` (either version).
    BGPPeer,
    /// `BFDProfile`.
    BFDProfile,
    /// `Community`.
    Community,
    /// A `core/v1` Secret named by `BGPPeer.spec.passwordSecret`.
    Secret,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// `Kind namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// The kind.
    pub kind: Kind,
    /// `metadata.namespace`; empty when the manifest has none.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

impl ObjectRef {
    /// Refers to the object `namespace/name` of `kind`.
    pub fn new(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// One finding, displayed like a compiler message:
/// `IPAddressPool default/pool-a: spec.addresses[1]: "10.0.0.300/32" is not a CIDR or range`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The object at fault.
    pub object: ObjectRef,
    /// JSON path inside the object, e.g. `spec.addresses[1]`.
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

impl Diagnostic {
    /// A finding about `field` of `object`.
    pub fn new(object: &ObjectRef, field: impl Into<String>, problem: impl Into<Problem>) -> Self {
        Self {
            object: object.clone(),
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.object, self.field, self.problem)
    }
}

impl std::error::Error for Diagnostic {}

/// What is wrong with a field. Each variant is one rule of
/// docs/configuration.md.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// Each variant's `#[error]` text is its documentation.
#[allow(missing_docs)]
pub enum Problem {
    #[error("{0}")]
    Address(#[from] AddressError),
    #[error(
        "no L2Advertisement or BGPAdvertisement announces this pool: its addresses are assigned but unreachable"
    )]
    NotAnnounced,
    #[error("a pool needs at least one address")]
    NoAddresses,
    #[error("{range} overlaps {other_range} of {other}")]
    Overlap {
        range: String,
        other: ObjectRef,
        other_range: String,
    },
    #[error("{range} contains {address}, an address of node {node}")]
    ContainsNodeAddress {
        range: String,
        node: String,
        address: std::net::IpAddr,
    },
    #[error("name is already used by {first}")]
    DuplicateName { first: ObjectRef },
    #[error("{value:?} is listed twice")]
    DuplicateEntry { value: String },
    #[error("{0:?} is not a valid label key")]
    InvalidLabelKey(String),
    #[error("{0:?} is not a valid label value")]
    InvalidLabelValue(String),
    #[error("the same selector is listed twice")]
    DuplicateSelector,
    #[error("{0}")]
    Selector(#[from] SelectorError),
    #[error("{kind} {name:?} does not exist")]
    UnknownReference { kind: Kind, name: String },
    #[error("{value} is out of range {min}..={max}")]
    OutOfRange { value: i64, min: i64, max: i64 },
    #[error(
        "aggregation length /{length} is shorter than /{prefix}, the largest block of {range} in {pool}"
    )]
    AggregationTooShort {
        length: u8,
        prefix: u8,
        range: String,
        pool: ObjectRef,
    },
    #[error(
        "localPref {local_pref} conflicts with localPref {other_pref} of {other} for {pool} (same aggregation for the pool's families, peers and nodes)"
    )]
    LocalPrefConflict {
        local_pref: u32,
        other_pref: u32,
        other: ObjectRef,
        pool: ObjectRef,
    },
    #[error(
        "serviceSelectors need the default aggregation length (/{default}), not /{length}: an aggregated route stands for many Services"
    )]
    ServiceSelectorsWithAggregation { length: u8, default: u8 },
    #[error("{value:?}: {source}")]
    Community {
        value: String,
        source: CommunityError,
    },
    #[error("{value:?} is neither a community value nor a Community alias")]
    UnknownCommunity { value: String },
    #[error("alias {alias:?} is already defined by {first}")]
    DuplicateAlias { alias: String, first: ObjectRef },
    #[error("password and passwordSecret are mutually exclusive")]
    PasswordAndSecret,
    #[error("Secret {name:?} {reason}")]
    Secret { name: String, reason: SecretProblem },
    #[error("{value:?}: {source}")]
    Duration {
        value: String,
        source: DurationError,
    },
    #[error("hold time {0:?} must be 0 or at least 3s")]
    HoldTimeTooShort(String),
    #[error("hold time {0:?} exceeds 65535s")]
    HoldTimeTooLong(String),
    #[error("keepalive time {keepalive:?} exceeds hold time {hold:?}")]
    KeepaliveAboveHold { keepalive: String, hold: String },
    #[error("connect time {0:?} must be a whole number of seconds in 1s..=65535s")]
    ConnectTime(String),
    #[error("ebgpMultiHop is set on an iBGP peer")]
    MultiHopOnIbgp,
    #[error("exactly one of peerASN and dynamicASN must be set")]
    AsnChoice,
    #[error("exactly one of peerAddress and interface must be set")]
    AddressChoice,
    #[error("must not be 0")]
    Zero,
    #[error("must be set")]
    Missing,
    #[error("{0:?} is not an IP address")]
    InvalidIp(String),
    #[error("{0:?} is not an IPv4 address (a BGP identifier is 32 bits)")]
    InvalidRouterId(String),
    #[error(
        "{0:?} cannot name a VRF device: Linux device names are 1 to 15 bytes, without '/', ':' or whitespace, and not \".\" or \"..\""
    )]
    InvalidVrfName(String),
    #[error(
        "{0:?} cannot name an interface: Linux device names are 1 to 15 bytes, without '/', ':' or whitespace, and not \".\" or \"..\""
    )]
    InvalidInterfaceName(String),
    #[error(
        "peer {address} is already defined by {other} (same address, port and VRF on the same nodes)"
    )]
    DuplicatePeer { address: String, other: ObjectRef },
    #[error(
        "BFD echo mode (BFDProfile {profile:?}) does not work for IPv6, but {pool} is advertised to this peer"
    )]
    EchoOnIpv6 { profile: String, pool: ObjectRef },
    #[error("{0}")]
    Unsupported(#[from] Unsupported),
}

/// Why a password Secret cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
// Each variant's `#[error]` text is its documentation.
#[allow(missing_docs)]
pub enum SecretProblem {
    #[error("does not exist in FerroLB's namespace")]
    Missing,
    #[error("must be of type kubernetes.io/basic-auth")]
    WrongType,
    #[error("has no key \"password\"")]
    NoPassword,
    #[error("holds a password that is not UTF-8")]
    NotUtf8,
}

/// Collects diagnostics while compiling.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Sink {
    pub fn error(
        &mut self,
        object: &ObjectRef,
        field: impl Into<String>,
        problem: impl Into<Problem>,
    ) {
        self.errors.push(Diagnostic::new(object, field, problem));
    }

    pub fn warn(
        &mut self,
        object: &ObjectRef,
        field: impl Into<String>,
        problem: impl Into<Problem>,
    ) {
        self.warnings.push(Diagnostic::new(object, field, problem));
    }

    /// Reports the second and later occurrences of each value.
    pub fn duplicates<'a>(
        &mut self,
        object: &ObjectRef,
        field: &str,
        values: impl IntoIterator<Item = &'a String>,
    ) {
        let mut seen = std::collections::BTreeSet::new();
        for (i, v) in values.into_iter().enumerate() {
            if !seen.insert(v) {
                self.error(
                    object,
                    format!("{field}[{i}]"),
                    Problem::DuplicateEntry { value: v.clone() },
                );
            }
        }
    }
}
