//! Route attributes as the speaker states them, and the path attributes they
//! become on a particular session (RFC 4271 §5: eBGP prepends our AS and
//! leaves LOCAL_PREF out; iBGP always carries LOCAL_PREF).

use std::net::Ipv4Addr;

use crate::wire::{AsPath, Asn, Community, LargeCommunity, Origin, PathAttribute};

/// What the speaker says about a route. Sets are kept sorted and without
/// duplicates, so equal attributes compare equal and travel in one UPDATE.
///
/// A shared handle: the routes of a table mostly share one attribute set,
/// and a clone per route costs a reference count, not a copy (100k routes
/// hold 8 bytes of attributes each).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RouteAttributes(std::sync::Arc<Attributes>);

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct Attributes {
    communities: Vec<Community>,
    large_communities: Vec<LargeCommunity>,
    local_pref: Option<u32>,
    med: Option<u32>,
}

/// LOCAL_PREF sent to iBGP peers when the route does not set one (the
/// conventional default of FRR, BIRD and GoBGP).
const DEFAULT_LOCAL_PREF: u32 = 100;

impl RouteAttributes {
    /// Attributes with these communities and LOCAL_PREF.
    pub fn new(
        communities: impl IntoIterator<Item = Community>,
        large_communities: impl IntoIterator<Item = LargeCommunity>,
        local_pref: Option<u32>,
    ) -> RouteAttributes {
        let mut communities: Vec<Community> = communities.into_iter().collect();
        communities.sort_by_key(|c| c.0);
        communities.dedup();
        let mut large_communities: Vec<LargeCommunity> = large_communities.into_iter().collect();
        large_communities.sort_by_key(|l| (l.global, l.local1, l.local2));
        large_communities.dedup();
        RouteAttributes(std::sync::Arc::new(Attributes {
            communities,
            large_communities,
            local_pref,
            med: None,
        }))
    }

    /// Sets MULTI_EXIT_DISC.
    pub fn with_med(mut self, med: u32) -> RouteAttributes {
        std::sync::Arc::make_mut(&mut self.0).med = Some(med);
        self
    }

    /// The standard communities, sorted.
    pub fn communities(&self) -> &[Community] {
        &self.0.communities
    }

    /// The large communities, sorted.
    pub fn large_communities(&self) -> &[LargeCommunity] {
        &self.0.large_communities
    }

    /// LOCAL_PREF, for iBGP peers.
    pub fn local_pref(&self) -> Option<u32> {
        self.0.local_pref
    }

    /// The path attributes of a route sent on a session, in type-code order.
    /// `next_hop` is set for IPv4 routes sent in the classic NLRI field; IPv6
    /// routes carry theirs in MP_REACH_NLRI, which the packer adds.
    pub(super) fn path_attributes(
        &self,
        local_as: u32,
        internal: bool,
        next_hop: Option<Ipv4Addr>,
    ) -> Vec<PathAttribute> {
        let mut attrs = vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(if internal {
                AsPath::default()
            } else {
                AsPath::sequence([Asn(local_as)])
            }),
        ];
        if let Some(next_hop) = next_hop {
            attrs.push(PathAttribute::NextHop(next_hop));
        }
        if let Some(med) = self.0.med {
            attrs.push(PathAttribute::Med(med));
        }
        if internal {
            attrs.push(PathAttribute::LocalPref(
                self.0.local_pref.unwrap_or(DEFAULT_LOCAL_PREF),
            ));
        }
        if !self.0.communities.is_empty() {
            attrs.push(PathAttribute::Communities(self.0.communities.clone()));
        }
        if !self.0.large_communities.is_empty() {
            attrs.push(PathAttribute::LargeCommunities(
                self.0.large_communities.clone(),
            ));
        }
        attrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ebgp_prepends_our_as_and_drops_local_pref() {
        let attrs = RouteAttributes::new([Community(2), Community(1), Community(2)], [], Some(150));
        let ebgp = attrs.path_attributes(64512, false, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(
            ebgp,
            [
                PathAttribute::Origin(Origin::Igp),
                PathAttribute::AsPath(AsPath::sequence([Asn(64512)])),
                PathAttribute::NextHop(Ipv4Addr::new(10, 0, 0, 1)),
                PathAttribute::Communities(vec![Community(1), Community(2)]),
            ]
        );
    }

    #[test]
    fn ibgp_carries_an_empty_as_path_and_local_pref() {
        let ibgp = RouteAttributes::default().path_attributes(64512, true, None);
        assert_eq!(
            ibgp,
            [
                PathAttribute::Origin(Origin::Igp),
                PathAttribute::AsPath(AsPath::default()),
                PathAttribute::LocalPref(DEFAULT_LOCAL_PREF),
            ]
        );
    }
}
