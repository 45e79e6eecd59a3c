//! `BGPPeer` -> [`Peer`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::Secret;
use super::diagnostic::{Kind, ObjectRef, Problem, SecretProblem, Sink};
use super::selectors;
use super::unsupported;
use crate::api::{BGPPeer, DynamicASNMode};
use crate::duration::parse_go_duration;
use crate::selector::LabelSelector;

/// A validated BGP peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// The session's local AS (never 0): `localASN` when set, else
    /// `myASN`. With `localASN` the speaker presents that AS alone, in the
    /// OPEN and the AS_PATH, as FRR's `local-as no-prepend replace-as`
    /// does for MetalLB, so `myASN` never reaches this peer.
    pub my_asn: u32,
    /// The AS the peer must have.
    pub peer_asn: PeerAsn,
    /// Where to connect.
    pub target: PeerTarget,
    /// TCP port (default 179).
    pub port: u16,
    /// Local address to connect from.
    pub source_address: Option<IpAddr>,
    /// Hold and keepalive, defaults and derivations applied.
    pub timers: BgpTimers,
    /// Time between connection attempts (whole seconds, 1..=65535).
    pub connect_time: Option<Duration>,
    /// BGP identifier; `None` means the node's choice.
    pub router_id: Option<Ipv4Addr>,
    /// Nodes that peer (any one matching); empty means every node.
    pub node_selectors: Vec<LabelSelector>,
    /// TCP MD5 password, inline or from the Secret.
    pub password: Option<Password>,
    /// Name of a `BFDProfile` that exists.
    pub bfd_profile: Option<String>,
    /// `enableGracefulRestart`.
    pub graceful_restart: bool,
    /// `ebgpMultiHop`.
    pub ebgp_multi_hop: bool,
    /// Host VRF; `None` is the default VRF.
    pub vrf: Option<String>,
    /// `disableMP`.
    pub disable_mp: bool,
    /// `dualStackAddressFamily`.
    pub dual_stack_address_family: bool,
}

impl Peer {
    /// The `BGPPeer` this was compiled from, for diagnostics.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::new(Kind::BGPPeer, self.namespace.clone(), self.name.clone())
    }

    /// Whether a node with these labels peers with this router.
    pub fn selects_node(&self, node_labels: &crate::selector::Labels) -> bool {
        crate::selector::matches_any(&self.node_selectors, node_labels)
    }

    /// Whether the session is iBGP.
    pub fn is_ibgp(&self) -> bool {
        self.peer_asn.is_internal(self.my_asn)
    }
}

/// Whether Linux accepts `name` as a network device name (IFNAMSIZ 16 with
/// the NUL; `dev_valid_name` in the kernel).
pub fn is_device_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace())
}

/// The remote AS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerAsn {
    /// `peerASN`.
    Fixed(u32),
    /// `dynamicASN`: whatever the peer announces, if internal/external.
    Dynamic(DynamicASNMode),
}

impl PeerAsn {
    /// Whether a session with this remote AS is iBGP for `my_asn`.
    pub fn is_internal(&self, my_asn: u32) -> bool {
        match self {
            Self::Fixed(asn) => *asn == my_asn,
            Self::Dynamic(mode) => *mode == DynamicASNMode::Internal,
        }
    }
}

/// Numbered or unnumbered peering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerTarget {
    /// `peerAddress`.
    Address(IpAddr),
    /// Unnumbered: the peer's link-local address on this interface.
    Interface(String),
}

impl fmt::Display for PeerTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(a) => write!(f, "{a}"),
            Self::Interface(i) => write!(f, "interface {i}"),
        }
    }
}

/// A TCP MD5 password; `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Hold and keepalive times. Invariant (checked by [`BgpTimers::new`]): the
/// hold time is 0 or in 3s..=65535s, and keepalive <= hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BgpTimers {
    hold_time: Duration,
    keepalive_time: Duration,
}

impl Default for BgpTimers {
    /// MetalLB's defaults: hold 90s, keepalive 30s.
    fn default() -> Self {
        Self {
            hold_time: Duration::from_secs(90),
            keepalive_time: Duration::from_secs(30),
        }
    }
}

impl BgpTimers {
    /// Checks the RFC 4271 rules MetalLB enforces. The 3s minimum applies to
    /// the hold time truncated to whole seconds, as in MetalLB.
    pub fn new(hold_time: Duration, keepalive_time: Duration) -> Result<Self, Problem> {
        let secs = hold_time.as_secs();
        if secs != 0 && secs < 3 {
            return Err(Problem::HoldTimeTooShort(format!("{hold_time:?}")));
        }
        if secs > 65535 {
            return Err(Problem::HoldTimeTooLong(format!("{hold_time:?}")));
        }
        if keepalive_time > hold_time {
            return Err(Problem::KeepaliveAboveHold {
                keepalive: format!("{keepalive_time:?}"),
                hold: format!("{hold_time:?}"),
            });
        }
        Ok(Self {
            hold_time,
            keepalive_time,
        })
    }

    /// Hold time to offer; 0 disables keepalives.
    pub fn hold_time(&self) -> Duration {
        self.hold_time
    }

    /// Keepalive interval.
    pub fn keepalive_time(&self) -> Duration {
        self.keepalive_time
    }
}

pub(crate) fn compile(
    sink: &mut Sink,
    obj: &ObjectRef,
    cr: &BGPPeer,
    secrets: &BTreeMap<String, Secret>,
) -> Peer {
    let s = &cr.spec;
    if s.my_asn == 0 {
        sink.error(obj, "spec.myASN", Problem::Zero);
    }
    let peer_asn = match (s.peer_asn, s.dynamic_asn) {
        (0, Some(mode)) => PeerAsn::Dynamic(mode),
        (asn, None) if asn != 0 => PeerAsn::Fixed(asn),
        (asn, _) => {
            sink.error(obj, "spec.peerASN", Problem::AsnChoice);
            PeerAsn::Fixed(asn)
        }
    };
    let my_asn = if s.local_asn != 0 {
        s.local_asn
    } else {
        s.my_asn
    };
    if s.ebgp_multi_hop && peer_asn.is_internal(my_asn) {
        sink.error(obj, "spec.ebgpMultiHop", Problem::MultiHopOnIbgp);
    }
    let target = match (s.peer_address.is_empty(), s.interface.is_empty()) {
        (false, true) => match s.peer_address.parse() {
            Ok(ip) => PeerTarget::Address(ip),
            Err(_) => {
                sink.error(
                    obj,
                    "spec.peerAddress",
                    Problem::InvalidIp(s.peer_address.clone()),
                );
                PeerTarget::Interface(String::new())
            }
        },
        (true, false) => {
            // The router is looked for on this device, and the session's
            // link-local addresses are scoped to it.
            if !is_device_name(&s.interface) {
                sink.error(
                    obj,
                    "spec.interface",
                    Problem::InvalidInterfaceName(s.interface.clone()),
                );
            }
            PeerTarget::Interface(s.interface.clone())
        }
        _ => {
            sink.error(obj, "spec.peerAddress", Problem::AddressChoice);
            PeerTarget::Interface(s.interface.clone())
        }
    };
    // MetalLB's CRD bounds (sic: 16384), so validation predicts the server.
    if !(1..=16384).contains(&s.peer_port) {
        sink.error(
            obj,
            "spec.peerPort",
            Problem::OutOfRange {
                value: i64::from(s.peer_port),
                min: 1,
                max: 16384,
            },
        );
    }
    let source_address = optional_ip(sink, obj, "spec.sourceAddress", &s.source_address);
    // The session's sockets are bound to this device by name
    // (SO_BINDTODEVICE): a name the kernel cannot hold is a typo caught now,
    // not a session that never connects.
    if !s.vrf_name.is_empty() && !is_device_name(&s.vrf_name) {
        sink.error(obj, "spec.vrf", Problem::InvalidVrfName(s.vrf_name.clone()));
    }
    let router_id = match s.router_id.as_str() {
        "" => None,
        text => match text.parse::<Ipv4Addr>() {
            Ok(id) => Some(id),
            Err(_) => {
                sink.error(
                    obj,
                    "spec.routerID",
                    Problem::InvalidRouterId(text.to_string()),
                );
                None
            }
        },
    };
    let timers = timers(
        sink,
        obj,
        s.hold_time.as_deref(),
        s.keepalive_time.as_deref(),
    );
    let connect_time = s.connect_time.as_deref().and_then(|text| {
        let d = duration(sink, obj, "spec.connectTime", text)?;
        let whole = d.subsec_nanos() == 0 && (1..=65535).contains(&d.as_secs());
        if !whole {
            sink.error(
                obj,
                "spec.connectTime",
                Problem::ConnectTime(text.to_string()),
            );
        }
        Some(d)
    });
    let password = password(sink, obj, cr, secrets);
    let bfd_profile = (!s.bfd_profile.is_empty()).then(|| s.bfd_profile.clone());
    unsupported::check_peer(sink, obj, cr);
    Peer {
        name: obj.name.clone(),
        namespace: obj.namespace.clone(),
        my_asn,
        peer_asn,
        target,
        port: s.peer_port,
        source_address,
        timers,
        connect_time,
        router_id,
        node_selectors: selectors::check(sink, obj, "spec.nodeSelectors", &s.node_selectors),
        password,
        bfd_profile,
        graceful_restart: s.enable_graceful_restart,
        ebgp_multi_hop: s.ebgp_multi_hop,
        vrf: (!s.vrf_name.is_empty()).then(|| s.vrf_name.clone()),
        disable_mp: s.disable_mp,
        dual_stack_address_family: s.dual_stack_address_family,
    }
}

fn optional_ip(sink: &mut Sink, obj: &ObjectRef, field: &str, text: &str) -> Option<IpAddr> {
    if text.is_empty() {
        return None;
    }
    text.parse()
        .map_err(|_| sink.error(obj, field, Problem::InvalidIp(text.to_string())))
        .ok()
}

fn duration(sink: &mut Sink, obj: &ObjectRef, field: &str, text: &str) -> Option<Duration> {
    parse_go_duration(text)
        .map_err(|source| {
            sink.error(
                obj,
                field,
                Problem::Duration {
                    value: text.to_string(),
                    source,
                },
            )
        })
        .ok()
}

/// MetalLB's rules: with only one of the two set, keepalive = hold / 3 or
/// hold = 3 x keepalive; with neither, 90s / 30s.
fn timers(
    sink: &mut Sink,
    obj: &ObjectRef,
    hold: Option<&str>,
    keepalive: Option<&str>,
) -> BgpTimers {
    let hold_d = hold.map(|t| duration(sink, obj, "spec.holdTime", t));
    let keepalive_d = keepalive.map(|t| duration(sink, obj, "spec.keepaliveTime", t));
    let (h, k) = match (hold_d, keepalive_d) {
        (None, None) => return BgpTimers::default(),
        (Some(Some(h)), None) => (h, h / 3),
        (None, Some(Some(k))) => (k.saturating_mul(3), k),
        (Some(Some(h)), Some(Some(k))) => (h, k),
        // A parse error was reported already.
        _ => return BgpTimers::default(),
    };
    let field = if hold.is_some() {
        "spec.holdTime"
    } else {
        "spec.keepaliveTime"
    };
    BgpTimers::new(h, k).unwrap_or_else(|problem| {
        // Quote what the user wrote; derived values print as Rust durations.
        let (field, problem) = match problem {
            Problem::KeepaliveAboveHold {
                keepalive: derived_k,
                hold: derived_h,
            } => (
                "spec.keepaliveTime",
                Problem::KeepaliveAboveHold {
                    keepalive: keepalive.map_or(derived_k, str::to_string),
                    hold: hold.map_or(derived_h, str::to_string),
                },
            ),
            Problem::HoldTimeTooShort(derived) => (
                field,
                Problem::HoldTimeTooShort(hold.map_or(derived, str::to_string)),
            ),
            Problem::HoldTimeTooLong(derived) => (
                field,
                Problem::HoldTimeTooLong(hold.map_or(derived, str::to_string)),
            ),
            other => (field, other),
        };
        sink.error(obj, field, problem);
        BgpTimers::default()
    })
}

fn password(
    sink: &mut Sink,
    obj: &ObjectRef,
    cr: &BGPPeer,
    secrets: &BTreeMap<String, Secret>,
) -> Option<Password> {
    let s = &cr.spec;
    let secret_name = s
        .password_secret
        .as_ref()
        .map(|r| r.name.as_str())
        .filter(|n| !n.is_empty());
    match (s.password.is_empty(), secret_name) {
        (true, None) => None,
        (false, None) => Some(Password(s.password.clone())),
        (false, Some(_)) => {
            sink.error(obj, "spec.passwordSecret", Problem::PasswordAndSecret);
            None
        }
        (true, Some(name)) => {
            let fail = |sink: &mut Sink, reason| {
                sink.error(
                    obj,
                    "spec.passwordSecret.name",
                    Problem::Secret {
                        name: name.to_string(),
                        reason,
                    },
                );
                None
            };
            let Some(secret) = secrets.get(name) else {
                return fail(sink, SecretProblem::Missing);
            };
            if secret.type_ != "kubernetes.io/basic-auth" {
                return fail(sink, SecretProblem::WrongType);
            }
            let Some(bytes) = secret.data.get("password") else {
                return fail(sink, SecretProblem::NoPassword);
            };
            match String::from_utf8(bytes.clone()) {
                Ok(p) => Some(Password(p)),
                Err(_) => fail(sink, SecretProblem::NotUtf8),
            }
        }
    }
}
