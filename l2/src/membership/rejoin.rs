//! Rejoining after a cut: when this node hears a member it does not reach,
//! it asks for that member's link-layer address itself (an ARP request,
//! an NDP neighbour solicitation) instead of waiting for the kernel's own
//! retry.
//!
//! Why: a link that goes down flushes the node's neighbour entries. When
//! it comes back, the first datagram to a member makes the kernel send an
//! ARP request (NS), which can be lost while the device is still coming
//! up; the kernel asks again only after `retrans_time` (1 s by default),
//! and meanwhile queues every datagram for that member. The others kept
//! their entry for this node (a short cut is far inside their reachable
//! time), so their datagrams arrive at once: hearing a member this node
//! still suspects is the sign that its own way out is what waits. An
//! answer to our request resolves the kernel's incomplete entry (Linux
//! takes an ARP reply or a solicited NA for any entry it is resolving),
//! and the queued datagrams leave at once.
//!
//! Tuning `retrans_time` would do the same for the whole node, but it is
//! the operator's setting, not the speaker's; a request of our own needs
//! only the AF_PACKET socket Layer-2 mode already has (`CAP_NET_RAW`),
//! where deleting the kernel's entries would need `CAP_NET_ADMIN`.
//!
//! [`Rejoin`] decides when (pure); [`solicitation`] builds the frame;
//! the shell ([`super::udp`]) finds the interface and sends it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::core::View;
use crate::wire::{Frame, MacAddr, arp_request, neighbor_solicit};

/// The wait before the second request for a member; it doubles after
/// each one. Short: the first may be lost exactly as the kernel's was,
/// and a rejoining node's datagrams queue until one is answered.
pub const FIRST_GAP: Duration = Duration::from_millis(20);

/// No request once the wait would pass this: the kernel's own retry
/// (`retrans_time`, 1 s by default) asks as often by then, and a member
/// that stays unreachable that long is the detector's business, not the
/// neighbour table's. Bounds the requests per member and episode to 7.
pub const LAST_GAP: Duration = Duration::from_secs(1);

/// Per member address: the requests sent since it was last reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Episode {
    sent: u32,
    /// When the next request may go.
    next: Instant,
}

/// When to ask for a member's link-layer address.
#[derive(Debug, Default)]
pub struct Rejoin {
    episodes: BTreeMap<IpAddr, Episode>,
}

impl Rejoin {
    /// An authentic datagram from `from` was received at `now`, and `view`
    /// is this node's view after it. Returns the member address to ask
    /// for now, if any: `from` is the address of one of `members` (not
    /// this node's) that `view` does not count reachable, and its current
    /// episode's next request is due. An IPv4 member heard on a
    /// dual-stack socket (`::ffff:a.b.c.d`) is its IPv4 address.
    ///
    /// A member heard while reachable ends its episode: the next cut
    /// starts again with an immediate request.
    pub fn heard<'a>(
        &mut self,
        now: Instant,
        from: IpAddr,
        this: &str,
        members: impl IntoIterator<Item = (&'a str, IpAddr)>,
        view: &View,
    ) -> Option<IpAddr> {
        let from = from.to_canonical();
        let name = members
            .into_iter()
            .find(|(name, ip)| *ip == from && *name != this)
            .map(|(name, _)| name)?;
        if view.reachable.contains(name) {
            self.episodes.remove(&from);
            return None;
        }
        let episode = self
            .episodes
            .entry(from)
            .or_insert(Episode { sent: 0, next: now });
        if now < episode.next || gap(episode.sent).is_none() {
            return None;
        }
        // After the last request, a gap past the bound: never due again
        // in this episode.
        episode.next = gap(episode.sent + 1).map_or(now, |g| now + g);
        episode.sent += 1;
        Some(from)
    }

    /// Forgets the episodes of addresses no longer in `members` (the
    /// address book changed).
    pub fn retain(&mut self, members: impl IntoIterator<Item = IpAddr>) {
        let keep: BTreeSet<IpAddr> = members.into_iter().collect();
        self.episodes.retain(|ip, _| keep.contains(ip));
    }
}

/// The wait before request number `sent` (0-based) of an episode: none
/// before the first, then [`FIRST_GAP`] doubling; `None` once past
/// [`LAST_GAP`] (no more requests).
fn gap(sent: u32) -> Option<Duration> {
    let Some(doublings) = sent.checked_sub(1) else {
        return Some(Duration::ZERO);
    };
    let gap = FIRST_GAP.checked_mul(2u32.checked_pow(doublings)?)?;
    (gap <= LAST_GAP).then_some(gap)
}

/// Whether `peer` is on the link of the interface address `local` with
/// `netmask`: only then does a request on that link reach it (a member
/// behind a router is resolved through the router, whose entry a cut of
/// this node's link flushed too, but which this node does not hear from).
pub fn on_link(local: IpAddr, netmask: IpAddr, peer: IpAddr) -> bool {
    match (local, netmask, peer) {
        (IpAddr::V4(l), IpAddr::V4(m), IpAddr::V4(p)) => {
            let m = u32::from(m);
            u32::from(l) & m == u32::from(p) & m && l != p
        }
        (IpAddr::V6(l), IpAddr::V6(m), IpAddr::V6(p)) => {
            let m = u128::from(m);
            u128::from(l) & m == u128::from(p) & m && l != p
        }
        _ => false,
    }
}

/// The request for `peer`'s link-layer address from this node's `source`
/// address on an interface whose MAC is `mac`: an ARP request (broadcast,
/// our address as the sender, so the answer comes back unicast to us) or
/// an NS to the peer's solicited-node group with our link-layer address.
/// `None` when `source` and `peer` are not of one family.
pub fn solicitation(mac: MacAddr, source: IpAddr, peer: IpAddr) -> Option<Frame> {
    match (source, peer) {
        (IpAddr::V4(s), IpAddr::V4(p)) => Some(arp_request(mac, s, p)),
        (IpAddr::V6(s), IpAddr::V6(p)) => Some(neighbor_solicit(mac, s, p)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::wire::{
        ArpOp, MacAddr, NdpMessage, Payload, icmpv6_checksum_ok, parse_frame, solicited_node,
        solicited_node_mac,
    };

    const N1: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const N2: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const N3: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 3));
    const STRANGER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
    const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);

    fn members() -> Vec<(&'static str, IpAddr)> {
        vec![("n1", N1), ("n2", N2), ("n3", N3)]
    }

    fn view(reachable: &[&str]) -> View {
        View {
            reachable: reachable.iter().map(|s| s.to_string()).collect(),
            alive: BTreeSet::new(),
            hardware: BTreeMap::new(),
            fenced: BTreeSet::new(),
        }
    }

    /// The instants at which `from` is asked for when heard every
    /// millisecond for `span` while unreached, as offsets from the start.
    fn asked(rejoin: &mut Rejoin, t0: Instant, from: IpAddr, span: Duration) -> Vec<Duration> {
        let alone = view(&["n1"]);
        (0..=span.as_millis() as u64)
            .map(|ms| t0 + Duration::from_millis(ms))
            .filter(|&t| rejoin.heard(t, from, "n1", members(), &alone).is_some())
            .map(|t| t - t0)
            .collect()
    }

    #[test]
    fn an_unreached_member_heard_is_asked_for_at_once_then_less_and_less_often() {
        let mut rejoin = Rejoin::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(
            asked(&mut rejoin, t0, N2, Duration::from_secs(5)),
            [ms(0), ms(20), ms(60), ms(140), ms(300), ms(620), ms(1260)]
        );
    }

    #[test]
    fn a_reachable_member_is_never_asked_for_and_ends_the_episode() {
        let mut rejoin = Rejoin::default();
        let t0 = Instant::now();
        let all = view(&["n1", "n2", "n3"]);
        assert_eq!(rejoin.heard(t0, N2, "n1", members(), &all), None);
        // An episode: asked at once, then not again within FIRST_GAP.
        let alone = view(&["n1"]);
        assert_eq!(rejoin.heard(t0, N2, "n1", members(), &alone), Some(N2));
        let soon = t0 + Duration::from_millis(1);
        assert_eq!(rejoin.heard(soon, N2, "n1", members(), &alone), None);
        // Reached: the next cut asks at once again.
        assert_eq!(rejoin.heard(soon, N2, "n1", members(), &all), None);
        assert_eq!(rejoin.heard(soon, N2, "n1", members(), &alone), Some(N2));
    }

    #[test]
    fn members_have_episodes_of_their_own() {
        let mut rejoin = Rejoin::default();
        let t0 = Instant::now();
        let alone = view(&["n1"]);
        assert_eq!(rejoin.heard(t0, N2, "n1", members(), &alone), Some(N2));
        assert_eq!(rejoin.heard(t0, N3, "n1", members(), &alone), Some(N3));
        assert_eq!(rejoin.heard(t0, N2, "n1", members(), &alone), None);
    }

    #[test]
    fn only_other_members_addresses_are_asked_for() {
        let mut rejoin = Rejoin::default();
        let t0 = Instant::now();
        let alone = view(&[]);
        assert_eq!(rejoin.heard(t0, STRANGER, "n1", members(), &alone), None);
        // This node's own address (a datagram looped back) is not a peer.
        assert_eq!(rejoin.heard(t0, N1, "n1", members(), &alone), None);
    }

    #[test]
    fn an_ipv4_member_heard_on_a_dual_stack_socket_is_its_ipv4_address() {
        let mut rejoin = Rejoin::default();
        let IpAddr::V4(n2) = N2 else { unreachable!() };
        let mapped = IpAddr::V6(n2.to_ipv6_mapped());
        let alone = view(&["n1"]);
        let asked = rejoin.heard(Instant::now(), mapped, "n1", members(), &alone);
        assert_eq!(asked, Some(N2));
    }

    #[test]
    fn an_episode_is_forgotten_with_its_member() {
        let mut rejoin = Rejoin::default();
        let t0 = Instant::now();
        let alone = view(&["n1"]);
        assert_eq!(rejoin.heard(t0, N2, "n1", members(), &alone), Some(N2));
        rejoin.retain([N1, N3]);
        assert_eq!(rejoin.heard(t0, N2, "n1", members(), &alone), Some(N2));
    }

    #[test]
    fn on_link_takes_the_prefix_and_the_family() {
        let mask24 = IpAddr::V4(Ipv4Addr::new(255, 255, 255, 0));
        assert!(on_link(N1, mask24, N2));
        assert!(!on_link(N1, mask24, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 2))));
        assert!(!on_link(N1, mask24, N1), "not our own address");
        assert!(!on_link(N1, mask24, N3));
        let mask64 = IpAddr::V6(Ipv6Addr::new(0xffff, 0xffff, 0xffff, 0xffff, 0, 0, 0, 0));
        let local = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
        assert!(on_link(local, mask64, N3));
        let other = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 3));
        assert!(!on_link(local, mask64, other));
    }

    #[test]
    fn the_arp_request_asks_for_the_peer_from_our_address() {
        let frame = solicitation(MAC, N1, N2).expect("one family");
        let parsed = parse_frame(&frame.to_bytes()).expect("parses");
        assert_eq!(parsed.ethernet.destination, MacAddr::BROADCAST);
        assert_eq!(parsed.ethernet.source, MAC);
        let Payload::Arp(arp) = parsed.payload else {
            panic!("not ARP: {parsed:?}");
        };
        assert_eq!(arp.op, ArpOp::Request);
        assert_eq!((arp.sender_mac, IpAddr::V4(arp.sender_ip)), (MAC, N1));
        assert_eq!(IpAddr::V4(arp.target_ip), N2);
        assert!(!arp.is_probe() && !arp.is_gratuitous());
    }

    #[test]
    fn the_neighbour_solicitation_asks_for_the_peer_from_our_address() {
        let IpAddr::V6(peer) = N3 else { unreachable!() };
        let source = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
        let frame = solicitation(MAC, IpAddr::V6(source), N3).expect("one family");
        let bytes = frame.to_bytes();
        let parsed = parse_frame(&bytes).expect("parses");
        assert_eq!(parsed.ethernet.destination, solicited_node_mac(peer));
        let Payload::Ndp(ip, NdpMessage::Solicit(ns)) = &parsed.payload else {
            panic!("not an NS: {parsed:?}");
        };
        assert_eq!((ip.source, ip.destination), (source, solicited_node(peer)));
        assert_eq!((ns.target, ns.source_mac), (peer, Some(MAC)));
        let icmp = bytes.get(14 + 40..).expect("an ICMPv6 message");
        assert!(icmpv6_checksum_ok(ip.source, ip.destination, icmp));
    }

    #[test]
    fn mixed_families_build_nothing() {
        assert_eq!(solicitation(MAC, N1, N3), None);
    }
}
