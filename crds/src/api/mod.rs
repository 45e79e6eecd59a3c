//! MetalLB's `metallb.io` API, kind by kind, with MetalLB's JSON names,
//! defaults and OpenAPI limits. These are the wire types: they hold what the
//! user wrote (addresses and durations stay strings) so that a typo becomes a
//! precise compiler error instead of a deserialization failure. The config
//! compiler in [`crate::config`] turns them into strongly typed values.
//!
//! All kinds live in MetalLB's group `metallb.io`, including FerroLB's own
//! [`BGPSessionState`] and [`NodeAnnouncementState`]: one group keeps RBAC, `kubectl get metallb` style
//! categories and uninstall simple, and the kind name does not collide with
//! any MetalLB kind.

pub mod bfdprofile;
pub mod bgpadvertisement;
pub mod bgppeer;
pub mod bgpsessionstate;
pub mod community;
pub mod configurationstate;
pub mod ipaddresspool;
pub mod l2advertisement;
pub mod nodeannouncementstate;
pub mod servicebgpstatus;
pub mod servicel2status;

pub use bfdprofile::{BFDProfile, BFDProfileSpec};
pub use bgpadvertisement::{BGPAdvertisement, BGPAdvertisementSpec};
pub use bgppeer::v1beta2::{BGPPeer, BGPPeerSpec, DynamicASNMode, SecretReference};
pub use bgpsessionstate::{
    BGPSessionState, BGPSessionStateSpec, BGPSessionStateStatus, SessionState,
};
pub use community::{Community, CommunityAlias, CommunitySpec};
pub use configurationstate::{ConfigurationResult, ConfigurationState, ConfigurationStateStatus};
pub use ipaddresspool::{IPAddressPool, IPAddressPoolSpec, IPAddressPoolStatus, ServiceAllocation};
pub use l2advertisement::{L2Advertisement, L2AdvertisementSpec, PreferredNodeSelector};
pub use nodeannouncementstate::{
    NodeAnnouncementState, NodeAnnouncementStateSpec, NodeAnnouncementStateStatus, NotAnnounced,
};
pub use servicebgpstatus::{ServiceBGPStatus, ServiceBGPStatusStatus};
pub use servicel2status::{InterfaceInfo, ServiceL2Status, ServiceL2StatusStatus};

/// MetalLB's API group; FerroLB serves the same one.
pub const GROUP: &str = "metallb.io";

pub(crate) fn default_true() -> bool {
    true
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
