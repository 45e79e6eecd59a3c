//! Fields FerroLB parses but cannot honour yet. Each one is refused by
//! name, with what to do instead: a session that silently lacked what its
//! BGPPeer asked for (a password on an unnumbered session, BFD echo)
//! would look healthy until the day it mattered. docs/configuration.md lists every
//! field as honoured or refused.

use super::diagnostic::{ObjectRef, Sink};
use crate::api::{BFDProfile, BGPPeer};

/// A feature FerroLB does not implement yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// Each variant's `#[error]` text is its documentation.
#[allow(missing_docs)]
pub enum Unsupported {
    #[error(
        "{field} is not supported together with interface (unnumbered peering) yet: {why}; remove {field}, or set peerAddress instead of interface"
    )]
    WithInterface {
        field: &'static str,
        why: &'static str,
    },
    #[error("BFD echo mode is not implemented (issue 14); remove echoMode or set it to false")]
    BfdEcho,
    #[error(
        "disableMP (one session per address family) and dualStackAddressFamily (both families over one session) contradict each other; set at most one"
    )]
    DisableMpWithDualStack,
    #[error(
        "FerroLB reads password Secrets from its own namespace only ({own:?}), not {wanted:?}; remove passwordSecret.namespace and create the Secret in {own:?}"
    )]
    SecretNamespace { own: String, wanted: String },
}

/// Refuses every BGPPeer field FerroLB cannot honour.
pub(super) fn check_peer(sink: &mut Sink, obj: &ObjectRef, cr: &BGPPeer) {
    let s = &cr.spec;
    if !s.interface.is_empty() && s.peer_address.is_empty() {
        check_unnumbered(sink, obj, cr);
    }
    if s.disable_mp && s.dual_stack_address_family {
        sink.error(obj, "spec.disableMP", Unsupported::DisableMpWithDualStack);
    }
    if let Some(secret) = &s.password_secret
        && !secret.namespace.is_empty()
        // A manifest without a namespace takes FerroLB's (`ferrolb validate`).
        && !obj.namespace.is_empty()
        && secret.namespace != obj.namespace
    {
        sink.error(
            obj,
            "spec.passwordSecret.namespace",
            Unsupported::SecretNamespace {
                own: obj.namespace.clone(),
                wanted: secret.namespace.clone(),
            },
        );
    }
}

/// What an unnumbered session (`interface`) cannot combine with yet. It
/// runs from the interface's link-local address to the router found on
/// the link, in the default VRF, carrying both families.
fn check_unnumbered(sink: &mut Sink, obj: &ObjectRef, cr: &BGPPeer) {
    let s = &cr.spec;
    let refused = [
        (
            !s.vrf_name.is_empty(),
            "spec.vrf",
            "vrf",
            "the router search and the link-local session are not bound to a VRF",
        ),
        (
            !s.password.is_empty()
                || s.password_secret
                    .as_ref()
                    .is_some_and(|r| !r.name.is_empty()),
            "spec.password",
            "password",
            "no TCP MD5 key is installed for a router found at run time",
        ),
        (
            !s.source_address.is_empty(),
            "spec.sourceAddress",
            "sourceAddress",
            "the session runs from the interface's link-local address",
        ),
        (
            s.disable_mp,
            "spec.disableMP",
            "disableMP",
            "an unnumbered session carries IPv4 routes over its IPv6 link-local session (RFC 8950), which disableMP would stop",
        ),
    ];
    for (set, path, field, why) in refused {
        if set {
            sink.error(obj, path, Unsupported::WithInterface { field, why });
        }
    }
}

/// Refuses every BFDProfile field FerroLB cannot honour.
pub(super) fn check_bfd_profile(sink: &mut Sink, obj: &ObjectRef, cr: &BFDProfile) {
    if cr.spec.echo_mode == Some(true) {
        sink.error(obj, "spec.echoMode", Unsupported::BfdEcho);
    }
}
