//! Which router an unnumbered BGPPeer (`interface`) peers with: the
//! link-local addresses heard on the interface, and the choice among them.
//! Pure: the finder ([`super::link_peer_finder`]) feeds it what it hears,
//! with the time, and reads the choice.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

/// The router an unnumbered session connects to, and what our routes'
/// next hop needs from the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkPeer {
    /// The interface's index: the scope of the link-local addresses.
    pub ifindex: u32,
    /// The router's link-local address.
    pub address: Ipv6Addr,
    /// A global IPv6 address of ours on the interface, sent as the global
    /// next hop (with the link-local one) when there is one.
    pub global: Option<Ipv6Addr>,
}

/// How an address was heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Heard {
    /// It answered an echo request to all nodes: a host, maybe a router.
    Host,
    /// It sent a router advertisement (FRR does on an unnumbered
    /// interface, and answers our solicitations).
    Router,
}

/// The link-local addresses heard on one interface, and the one chosen.
#[derive(Debug, Clone)]
pub struct Candidates {
    seen: BTreeMap<Ipv6Addr, (Heard, Instant)>,
    current: Option<Ipv6Addr>,
    forget_after: Duration,
}

impl Candidates {
    /// An address not heard for `forget_after` yields to one that is.
    pub fn new(forget_after: Duration) -> Candidates {
        Candidates {
            seen: BTreeMap::new(),
            current: None,
            forget_after,
        }
    }

    /// `from` was heard at `now`. Only link-local unicast addresses count:
    /// a router's advertisements and answers come from its link-local
    /// address (RFC 4861 §4.2), and the session is to that address.
    pub fn heard(&mut self, from: Ipv6Addr, how: Heard, now: Instant) {
        if !from.is_unicast_link_local() {
            return;
        }
        let entry = self.seen.entry(from).or_insert((how, now));
        entry.0 = entry.0.max(how);
        entry.1 = now;
    }

    /// The address to peer with at `now`: the current one while it is
    /// heard (a session is never moved to another router that merely
    /// answers too); else a router before a host, the lowest address
    /// first so that the choice does not depend on arrival order; else,
    /// when nothing fresh is heard, the last choice (its session keeps
    /// trying).
    pub fn choose(&mut self, now: Instant) -> Option<Ipv6Addr> {
        let forget_after = self.forget_after;
        self.seen
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < forget_after);
        if self.current.is_some_and(|c| self.seen.contains_key(&c)) {
            return self.current;
        }
        let best = self
            .seen
            .iter()
            .max_by(|(a, (ha, _)), (b, (hb, _))| ha.cmp(hb).then(b.cmp(a)))
            .map(|(a, _)| *a);
        if best.is_some() {
            self.current = best;
        }
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ll(last: u16) -> Ipv6Addr {
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, last)
    }

    const FORGET: Duration = Duration::from_secs(60);

    #[test]
    fn nothing_heard_is_no_peer() {
        let mut c = Candidates::new(FORGET);
        assert_eq!(c.choose(Instant::now()), None);
    }

    #[test]
    fn a_router_goes_before_a_host_and_the_lowest_before_the_others() {
        let t = Instant::now();
        let mut c = Candidates::new(FORGET);
        c.heard(ll(1), Heard::Host, t);
        c.heard(ll(9), Heard::Router, t);
        c.heard(ll(5), Heard::Router, t);
        assert_eq!(c.choose(t), Some(ll(5)));
    }

    #[test]
    fn global_and_multicast_sources_are_ignored() {
        let t = Instant::now();
        let mut c = Candidates::new(FORGET);
        c.heard("fd00::1".parse().unwrap(), Heard::Router, t);
        c.heard("ff02::1".parse().unwrap(), Heard::Router, t);
        assert_eq!(c.choose(t), None);
    }

    #[test]
    fn the_chosen_router_stays_while_it_is_heard() {
        let t = Instant::now();
        let mut c = Candidates::new(FORGET);
        c.heard(ll(9), Heard::Router, t);
        assert_eq!(c.choose(t), Some(ll(9)));
        let later = t + Duration::from_secs(30);
        c.heard(ll(1), Heard::Router, later);
        c.heard(ll(9), Heard::Host, later);
        assert_eq!(c.choose(later), Some(ll(9)), "no move to a lower address");
    }

    #[test]
    fn a_silent_router_yields_to_one_that_answers_and_is_kept_when_none_does() {
        let t = Instant::now();
        let mut c = Candidates::new(FORGET);
        c.heard(ll(9), Heard::Router, t);
        assert_eq!(c.choose(t), Some(ll(9)));
        let later = t + FORGET;
        assert_eq!(c.choose(later), Some(ll(9)), "nobody else: keep trying it");
        c.heard(ll(3), Heard::Host, later);
        assert_eq!(c.choose(later), Some(ll(3)));
    }
}
