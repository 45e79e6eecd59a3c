//! The link-layer addresses every speaker answers ARP/NDP from, spread
//! over the membership's authenticated datagrams, so that Layer-2 mode
//! tells another speaker's claim on an address (a membership matter: the
//! plan decides) from a foreign host's (`l2::conflict`).
//!
//! A speaker sends its MACs to a member it starts to know, in answer to an
//! alive that asks for one (a member that starts or restarts), to everyone
//! when they change, and to everyone every [`REFRESH`] in case a datagram
//! was lost. A member's MACs are kept while it is known, dead or not: a
//! member the others declared dead may still be on the LAN, and its claims
//! are still not a foreign host's.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::wire::{Body, MAX_HARDWARE};

/// A MAC address, as the wire carries it.
pub type Mac = [u8; 6];

/// How often a speaker repeats its MACs to everyone.
pub const REFRESH: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub(super) struct Hardware {
    /// This node's MACs; `None` until the shell says.
    own: Option<BTreeSet<Mac>>,
    next_refresh: Option<Instant>,
    peers: BTreeMap<String, BTreeSet<Mac>>,
    /// Counts the changes of `peers`: the view compares this number, not
    /// the map, after every datagram.
    changes: u64,
}

impl Hardware {
    /// Sets this node's MACs; whether they changed (then tell everyone).
    pub(super) fn set_own(&mut self, now: Instant, macs: BTreeSet<Mac>) -> bool {
        if self.own.as_ref() == Some(&macs) {
            return false;
        }
        self.own = Some(macs);
        self.next_refresh = Some(now + REFRESH);
        true
    }

    /// The datagram body telling this node's MACs, once they are known.
    pub(super) fn body(&self) -> Option<Body> {
        let own = self.own.as_ref()?;
        Some(Body::Hardware {
            macs: own.iter().copied().take(MAX_HARDWARE).collect(),
        })
    }

    /// Whether the periodic repeat is due at `now` (and, if so, the next
    /// one is scheduled).
    pub(super) fn refresh_due(&mut self, now: Instant) -> bool {
        if self.next_refresh.is_some_and(|t| now >= t) {
            self.next_refresh = Some(now + REFRESH);
            return true;
        }
        false
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.next_refresh
    }

    /// What `peer` says its MACs are.
    pub(super) fn learn(&mut self, peer: &str, macs: Vec<Mac>) {
        let macs: BTreeSet<Mac> = macs.into_iter().collect();
        // Repeated every `REFRESH` by every member: most say nothing new.
        if self.peers.get(peer) != Some(&macs) {
            self.peers.insert(peer.to_string(), macs);
            self.changes += 1;
        }
    }

    /// Forgets members no longer known.
    pub(super) fn retain(&mut self, known: &BTreeSet<String>) {
        let before = self.peers.len();
        self.peers.retain(|name, _| known.contains(name));
        if self.peers.len() != before {
            self.changes += 1;
        }
    }

    /// How many times `peers` changed: equal counts, equal maps.
    pub(super) fn changes(&self) -> u64 {
        self.changes
    }

    /// Every other member's MACs.
    pub(super) fn peers(&self) -> &BTreeMap<String, BTreeSet<Mac>> {
        &self.peers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn told_on_change_and_repeated_every_refresh() {
        let start = Instant::now();
        let mut h = Hardware::default();
        assert_eq!(h.body(), None, "nothing to tell before the shell says");
        assert!(h.set_own(start, [[2, 0, 0, 0, 0, 1]].into()));
        assert!(!h.set_own(start, [[2, 0, 0, 0, 0, 1]].into()));
        assert_eq!(
            h.body(),
            Some(Body::Hardware {
                macs: vec![[2, 0, 0, 0, 0, 1]]
            })
        );
        assert!(!h.refresh_due(start + REFRESH / 2));
        assert!(h.refresh_due(start + REFRESH));
        assert_eq!(h.next_deadline(), Some(start + REFRESH * 2));
        h.learn("b", vec![[2, 0, 0, 0, 0, 2]]);
        assert_eq!(h.changes(), 1);
        h.learn("b", vec![[2, 0, 0, 0, 0, 2]]);
        assert_eq!(h.changes(), 1, "the same MACs again change nothing");
        h.learn("b", vec![[2, 0, 0, 0, 0, 3]]);
        assert_eq!(h.changes(), 2);
        h.retain(&BTreeSet::from(["b".to_string()]));
        assert_eq!(h.changes(), 2, "nobody forgotten");
        h.retain(&BTreeSet::new());
        assert!(h.peers().is_empty());
        assert_eq!(h.changes(), 3);
    }
}
