//! BFD for BGP sessions: a BGPPeer that names a `BFDProfile` gets one BFD
//! session to the same address, and the BGP session is closed the moment
//! the BFD session goes down (RFC 5882 §4.3). The BFD session lives where
//! the BGP session does: bound to the peer's VRF device, or, for an
//! unnumbered peer, to its interface.

use std::net::IpAddr;

use ferrolb_bfd::fsm::{SessionConfig, Timers};
use ferrolb_bfd::shell::{Bfd, Device, SessionHandle, SessionKey, SessionSpec, SessionStatus};
use ferrolb_bgp::peer::BfdDownTrigger;
use ferrolb_crds::config::{BfdProfile, Peer, PeerTarget};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// The BFD session `profile` asks for towards `address`. Multihop (RFC
/// 5883) when the BGPPeer sets `ebgpMultiHop`, as FRR chooses for MetalLB.
/// An error when the device to bind to is no device name (the compiler
/// refuses those, so only a bug gets here).
pub(super) fn bfd_spec(
    peer: &Peer,
    address: IpAddr,
    profile: &BfdProfile,
) -> Result<SessionSpec, String> {
    let device = match (&peer.target, &peer.vrf) {
        (PeerTarget::Interface(name), _) | (PeerTarget::Address(_), Some(name)) => {
            Some(Device::new(name).ok_or_else(|| format!("{name:?} cannot name a device"))?)
        }
        (PeerTarget::Address(_), None) => None,
    };
    Ok(SessionSpec {
        key: SessionKey {
            peer: address,
            multihop: peer.ebgp_multi_hop,
            device,
        },
        local: peer.source_address,
        config: SessionConfig {
            timers: Timers::new(
                profile.transmit_interval,
                profile.receive_interval,
                profile.detect_multiplier,
            ),
            passive: profile.passive_mode,
        },
        minimum_ttl: profile.minimum_ttl,
    })
}

/// A BFD session tied to one BGP session.
pub(super) struct BfdLink {
    pub spec: SessionSpec,
    pub handle: SessionHandle,
    watcher: JoinHandle<()>,
}

impl BfdLink {
    /// Joins (or starts) the BFD session for `spec` and ties it to the BGP
    /// session that `trigger` closes.
    pub async fn start(
        bfd: &Bfd,
        spec: SessionSpec,
        trigger: BfdDownTrigger,
        peer: &str,
    ) -> Result<BfdLink, ferrolb_bfd::shell::ShellError> {
        let handle = bfd.add(spec).await?;
        let watcher = watch(&handle, trigger, peer);
        Ok(BfdLink {
            spec,
            handle,
            watcher,
        })
    }

    /// Ties the same BFD session to a new BGP session (the old one was
    /// restarted for a change of its own parameters).
    pub fn rewire(&mut self, trigger: BfdDownTrigger, peer: &str) {
        self.watcher.abort();
        self.watcher = watch(&self.handle, trigger, peer);
    }

    /// The BFD session's state now.
    pub fn status(&self) -> SessionStatus {
        self.handle.status.borrow().clone()
    }
}

impl Drop for BfdLink {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// Fires `trigger` on every fall from Up. Counted rather than compared, so
/// that a fall and a recovery between two looks are not missed.
fn watch(handle: &SessionHandle, trigger: BfdDownTrigger, peer: &str) -> JoinHandle<()> {
    let mut status = handle.status.clone();
    let span = tracing::info_span!("bfd_link", peer = %peer);
    tokio::spawn(
        async move {
            let mut downs = status.borrow_and_update().down_events;
            while status.changed().await.is_ok() {
                let now = status.borrow_and_update().down_events;
                if now > downs {
                    trigger.fire().await;
                }
                downs = now;
            }
        }
        .instrument(span),
    )
}
