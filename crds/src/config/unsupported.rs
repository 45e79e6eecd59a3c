//! Fields FerroLB parses but cannot honour yet. Each one is refused by
//! name, with what to do instead: a session that silently lacked what its
//! BGPPeer asked for (unnumbered peering) would look healthy
//! until the day it mattered. docs/configuration.md lists every
//! field as honoured or refused.

use super::diagnostic::{ObjectRef, Sink};
use crate::api::{BFDProfile, BGPPeer};

/// A feature FerroLB does not implement yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// Each variant's `#[error]` text is its documentation.
#[allow(missing_docs)]
pub enum Unsupported {
    #[error(
        "BFD inside a VRF is not supported yet (issue 14): its packets would not be bound to VRF {vrf:?}; remove bfdProfile, or vrf"
    )]
    BfdInVrf { vrf: String },
    #[error(
        "unnumbered peering is not supported yet (issue 14); remove interface and set peerAddress to the router's address on that link"
    )]
    Unnumbered,
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
    if !s.vrf_name.is_empty() && !s.bfd_profile.is_empty() {
        sink.error(
            obj,
            "spec.bfdProfile",
            Unsupported::BfdInVrf {
                vrf: s.vrf_name.clone(),
            },
        );
    }
    if !s.interface.is_empty() && s.peer_address.is_empty() {
        sink.error(obj, "spec.interface", Unsupported::Unnumbered);
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

/// Refuses every BFDProfile field FerroLB cannot honour.
pub(super) fn check_bfd_profile(sink: &mut Sink, obj: &ObjectRef, cr: &BFDProfile) {
    if cr.spec.echo_mode == Some(true) {
        sink.error(obj, "spec.echoMode", Unsupported::BfdEcho);
    }
}
