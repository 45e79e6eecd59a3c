//! Adj-RIB-Out: per peer, the routes we want the peer to have and the ones it
//! has been sent. Changes leave as a diff between the two, grouped by path
//! attributes so that the encoder can pack each group into as few UPDATEs as
//! the session allows.
//!
//! Attribute sets are interned: a hundred thousand service routes that share
//! their communities hold one copy of them, and grouping compares small ids.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;

use ipnet::IpNet;

/// Index of an interned attribute set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct AttrId(u32);

/// Interned attribute sets with reference counts, so unused sets are freed.
#[derive(Debug)]
struct Interner<A> {
    slots: Vec<Option<(A, usize)>>,
    index: HashMap<A, AttrId>,
    free: Vec<AttrId>,
}

impl<A: Eq + Hash + Clone> Interner<A> {
    fn new() -> Self {
        Interner {
            slots: Vec::new(),
            index: HashMap::new(),
            free: Vec::new(),
        }
    }

    fn acquire(&mut self, attrs: A) -> AttrId {
        if let Some(&id) = self.index.get(&attrs) {
            if let Some((_, count)) = &mut self.slots[id.0 as usize] {
                *count += 1;
            }
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.slots.push(None);
                AttrId((self.slots.len() - 1) as u32)
            }
        };
        self.slots[id.0 as usize] = Some((attrs.clone(), 1));
        self.index.insert(attrs, id);
        id
    }

    fn release(&mut self, id: AttrId) {
        let slot = &mut self.slots[id.0 as usize];
        if let Some((attrs, count)) = slot {
            *count -= 1;
            if *count == 0 {
                self.index.remove(attrs);
                *slot = None;
                self.free.push(id);
            }
        }
    }

    fn get(&self, id: AttrId) -> Option<&A> {
        self.slots.get(id.0 as usize)?.as_ref().map(|(a, _)| a)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Entry {
    wanted: Option<AttrId>,
    sent: Option<AttrId>,
    /// The last [`AdjRibOut::replace_all`] that named this prefix.
    epoch: u32,
}

/// What must go out to bring the peer from what it was sent to what we want.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes<A> {
    /// Prefixes to withdraw, in order.
    pub withdrawn: Vec<IpNet>,
    /// Prefixes to announce, grouped by attribute set; each group's prefixes
    /// are in order, groups in order of their first prefix.
    pub announced: Vec<(A, Vec<IpNet>)>,
}

impl<A> Changes<A> {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.withdrawn.is_empty() && self.announced.is_empty()
    }

    /// How many prefixes change.
    pub fn len(&self) -> usize {
        self.withdrawn.len() + self.announced.iter().map(|(_, p)| p.len()).sum::<usize>()
    }
}

/// One peer's Adj-RIB-Out.
#[derive(Debug)]
pub struct AdjRibOut<A> {
    routes: BTreeMap<IpNet, Entry>,
    /// Prefixes whose wanted state may differ from what was sent.
    dirty: BTreeSet<IpNet>,
    /// Every prefix may differ (after a session drop): cheaper than
    /// putting the whole table into `dirty`.
    all_dirty: bool,
    attrs: Interner<A>,
    epoch: u32,
    /// Prefixes added to `routes` since it was last rebuilt.
    grown: usize,
}

impl<A: Eq + Hash + Clone> Default for AdjRibOut<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Eq + Hash + Clone> AdjRibOut<A> {
    /// An empty table.
    pub fn new() -> Self {
        AdjRibOut {
            routes: BTreeMap::new(),
            dirty: BTreeSet::new(),
            // Nothing was sent yet: everything is to send.
            all_dirty: true,
            attrs: Interner::new(),
            epoch: 0,
            grown: 0,
        }
    }

    /// Wants `prefix` announced with `attrs` (replacing what was wanted).
    pub fn announce(&mut self, prefix: IpNet, attrs: A) {
        let id = self.attrs.acquire(attrs);
        let new = !self.routes.contains_key(&prefix);
        let entry = self.routes.entry(prefix).or_default();
        if let Some(old) = entry.wanted.replace(id) {
            self.attrs.release(old);
        }
        self.mark(prefix);
        if new {
            self.grown += 1;
            self.compact_when_grown();
        }
    }

    /// Rebuilds the table once it has grown by half since it was last:
    /// a `BTreeMap` grown in prefix order (a table handed whole) keeps its
    /// nodes about half empty, one built at once from its entries fills
    /// them. O(n) every n/2 insertions.
    fn compact_when_grown(&mut self) {
        let len = self.routes.len();
        if len > 1024 && self.grown > len / 2 {
            self.routes = std::mem::take(&mut self.routes).into_iter().collect();
            self.grown = 0;
        }
    }

    /// Wants `prefix` gone.
    pub fn withdraw(&mut self, prefix: IpNet) {
        if let Some(entry) = self.routes.get_mut(&prefix)
            && let Some(old) = entry.wanted.take()
        {
            self.attrs.release(old);
            self.mark(prefix);
        }
    }

    /// Wants `prefix` announced with `attrs`, or gone (`None`), leaving
    /// every other prefix as it is: a table changed route by route rather
    /// than handed whole ([`AdjRibOut::replace_all`]). Nothing moves when
    /// that is what is wanted already.
    pub fn set(&mut self, prefix: IpNet, attrs: Option<A>) {
        match attrs {
            Some(attrs) if !self.wants(prefix, &attrs) => self.announce(prefix, attrs),
            Some(_) => {}
            None => self.withdraw(prefix),
        }
    }

    /// Whether `prefix` is wanted with `attrs` already.
    fn wants(&self, prefix: IpNet, attrs: &A) -> bool {
        self.routes
            .get(&prefix)
            .and_then(|e| e.wanted)
            .and_then(|id| self.attrs.get(id))
            .is_some_and(|a| a == attrs)
    }

    /// Makes `wanted` the whole wanted set: what is missing is withdrawn,
    /// what is new or changed is announced, the rest does not move.
    pub fn replace_all(&mut self, wanted: impl IntoIterator<Item = (IpNet, A)>) {
        // Mark and sweep: the input is consumed as it is read (a table of
        // 100k routes is never held twice), then what it did not name goes.
        // An epoch names this pass; a u32 wraps only after 4 billion passes.
        self.epoch = self.epoch.wrapping_add(1);
        let epoch = self.epoch;
        for (prefix, attrs) in wanted {
            if !self.wants(prefix, &attrs) {
                self.announce(prefix, attrs);
            }
            if let Some(entry) = self.routes.get_mut(&prefix) {
                entry.epoch = epoch;
            }
        }
        let gone: Vec<IpNet> = self
            .routes
            .iter()
            .filter(|(_, e)| e.wanted.is_some() && e.epoch != epoch)
            .map(|(p, _)| *p)
            .collect();
        for prefix in gone {
            self.withdraw(prefix);
        }
    }

    /// Takes the changes to send and records them as sent.
    pub fn take_changes(&mut self) -> Changes<A> {
        let mut withdrawn = Vec::new();
        let mut groups: BTreeMap<AttrId, Vec<IpNet>> = BTreeMap::new();
        let mut finished = Vec::new();
        let attrs = &mut self.attrs;
        let mut settle = |prefix: IpNet, entry: &mut Entry| {
            if entry.wanted == entry.sent {
                // Announced and withdrawn before anything went out.
                if entry.wanted.is_none() {
                    finished.push(prefix);
                }
                return;
            }
            match entry.wanted {
                Some(id) => {
                    attrs.acquire_existing(id);
                    groups.entry(id).or_default().push(prefix);
                }
                None => withdrawn.push(prefix),
            }
            if let Some(old) = std::mem::replace(&mut entry.sent, entry.wanted) {
                attrs.release(old);
            }
            if entry.wanted.is_none() {
                finished.push(prefix);
            }
        };
        if std::mem::take(&mut self.all_dirty) {
            self.dirty.clear();
            for (prefix, entry) in self.routes.iter_mut() {
                settle(*prefix, entry);
            }
        } else {
            for prefix in std::mem::take(&mut self.dirty) {
                if let Some(entry) = self.routes.get_mut(&prefix) {
                    settle(prefix, entry);
                }
            }
        }
        for prefix in finished {
            self.routes.remove(&prefix);
        }
        let mut announced: Vec<(A, Vec<IpNet>)> = groups
            .into_iter()
            .filter_map(|(id, prefixes)| Some((self.attrs.get(id)?.clone(), prefixes)))
            .collect();
        announced.sort_by(|a, b| a.1.first().cmp(&b.1.first()));
        Changes {
            withdrawn,
            announced,
        }
    }

    /// The session went down: the peer has nothing. Everything wanted is sent
    /// again on the next session (then End-of-RIB).
    pub fn session_down(&mut self) {
        let mut released = Vec::new();
        self.routes.retain(|_, entry| {
            released.extend(entry.sent.take());
            entry.wanted.is_some()
        });
        for id in released {
            self.attrs.release(id);
        }
        self.dirty.clear();
        self.all_dirty = true;
    }

    /// How many prefixes are wanted.
    pub fn wanted_len(&self) -> usize {
        self.routes.values().filter(|e| e.wanted.is_some()).count()
    }

    /// Whether there is anything to send.
    pub fn has_changes(&self) -> bool {
        (self.all_dirty && !self.routes.is_empty()) || !self.dirty.is_empty()
    }

    /// The wanted routes, in prefix order.
    pub fn wanted(&self) -> impl Iterator<Item = (IpNet, &A)> {
        self.routes
            .iter()
            .filter_map(|(p, e)| Some((*p, self.attrs.get(e.wanted?)?)))
    }

    fn mark(&mut self, prefix: IpNet) {
        if !self.all_dirty {
            self.dirty.insert(prefix);
        }
    }
}

impl<A: Eq + Hash + Clone> Interner<A> {
    /// One more holder of an id that is known to be live.
    fn acquire_existing(&mut self, id: AttrId) {
        if let Some(Some((_, count))) = self.slots.get_mut(id.0 as usize) {
            *count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn routes_with_equal_attributes_travel_together() {
        let mut rib = AdjRibOut::new();
        rib.announce(p("10.0.0.2/32"), "blue");
        rib.announce(p("10.0.0.1/32"), "blue");
        rib.announce(p("10.0.0.3/32"), "red");
        let changes = rib.take_changes();
        assert_eq!(
            changes.announced,
            [
                ("blue", vec![p("10.0.0.1/32"), p("10.0.0.2/32")]),
                ("red", vec![p("10.0.0.3/32")])
            ]
        );
        assert!(rib.take_changes().is_empty(), "nothing changes twice");
    }

    #[test]
    fn a_diff_withdraws_the_missing_and_leaves_the_unchanged_alone() {
        let mut rib = AdjRibOut::new();
        rib.replace_all([(p("10.0.0.1/32"), 1), (p("10.0.0.2/32"), 1)]);
        rib.take_changes();
        rib.replace_all([(p("10.0.0.2/32"), 1), (p("10.0.0.3/32"), 2)]);
        let changes = rib.take_changes();
        assert_eq!(changes.withdrawn, [p("10.0.0.1/32")]);
        assert_eq!(changes.announced, [(2, vec![p("10.0.0.3/32")])]);
    }

    #[test]
    fn routes_set_one_by_one_leave_the_rest_of_the_table_alone() {
        let mut rib = AdjRibOut::new();
        rib.replace_all([(p("10.0.0.1/32"), 1), (p("10.0.0.2/32"), 1)]);
        rib.take_changes();
        rib.set(p("10.0.0.1/32"), Some(1));
        assert!(!rib.has_changes(), "what is wanted already does not move");
        rib.set(p("10.0.0.1/32"), None);
        rib.set(p("10.0.0.3/32"), Some(2));
        let changes = rib.take_changes();
        assert_eq!(changes.withdrawn, [p("10.0.0.1/32")]);
        assert_eq!(changes.announced, [(2, vec![p("10.0.0.3/32")])]);
        let wanted: Vec<IpNet> = rib.wanted().map(|(p, _)| p).collect();
        assert_eq!(wanted, [p("10.0.0.2/32"), p("10.0.0.3/32")]);
    }

    #[test]
    fn withdrawing_what_was_never_sent_sends_nothing_and_keeps_nothing() {
        let mut rib = AdjRibOut::new();
        rib.announce(p("10.0.0.1/32"), 1);
        rib.withdraw(p("10.0.0.1/32"));
        assert!(rib.take_changes().is_empty());
        assert!(rib.routes.is_empty(), "no empty entry left behind");
        assert!(!rib.has_changes());
    }

    #[test]
    fn after_a_session_drop_the_whole_table_goes_out_again() {
        let mut rib = AdjRibOut::new();
        rib.announce(p("10.0.0.1/32"), 1);
        rib.announce(p("2001:db8::1/128"), 1);
        rib.take_changes();
        rib.session_down();
        assert_eq!(rib.take_changes().len(), 2);
    }

    #[test]
    fn unused_attribute_sets_are_freed() {
        let mut rib = AdjRibOut::new();
        for i in 0..100u8 {
            rib.announce(
                IpNet::from(std::net::IpAddr::from([10, 0, 0, i])),
                u32::from(i),
            );
            rib.take_changes();
            rib.withdraw(IpNet::from(std::net::IpAddr::from([10, 0, 0, i])));
            rib.take_changes();
        }
        assert!(rib.attrs.index.is_empty());
        assert!(rib.routes.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Announce(u8, u8),
        Withdraw(u8),
        Replace(Vec<(u8, u8)>),
        Flush,
        SessionDown,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..16, 0u8..3).prop_map(|(p, a)| Op::Announce(p, a)),
            (0u8..16).prop_map(Op::Withdraw),
            proptest::collection::vec((0u8..16, 0u8..3), 0..8).prop_map(Op::Replace),
            Just(Op::Flush),
            Just(Op::SessionDown),
        ]
    }

    fn prefix(i: u8) -> IpNet {
        IpNet::from(std::net::IpAddr::from([10, 0, 0, i]))
    }

    proptest! {
        /// A peer that applies every change it is sent ends up with exactly
        /// the wanted set, and is never sent a change that changes nothing.
        #[test]
        fn the_peer_converges_on_the_wanted_set_with_minimal_changes(ops in proptest::collection::vec(op(), 0..60)) {
            let mut rib = AdjRibOut::new();
            let mut wanted: BTreeMap<IpNet, u8> = BTreeMap::new();
            let mut peer: BTreeMap<IpNet, u8> = BTreeMap::new();
            let apply = |rib: &mut AdjRibOut<u8>, peer: &mut BTreeMap<IpNet, u8>| -> Result<(), TestCaseError> {
                let changes = rib.take_changes();
                for w in &changes.withdrawn {
                    prop_assert!(peer.remove(w).is_some(), "withdrew {} the peer did not have", w);
                }
                for (a, prefixes) in &changes.announced {
                    for p in prefixes {
                        prop_assert_ne!(peer.insert(*p, *a), Some(*a), "re-sent {} unchanged", p);
                    }
                }
                Ok(())
            };
            for op in ops {
                match op {
                    Op::Announce(p, a) => { rib.announce(prefix(p), a); wanted.insert(prefix(p), a); }
                    Op::Withdraw(p) => { rib.withdraw(prefix(p)); wanted.remove(&prefix(p)); }
                    Op::Replace(set) => {
                        wanted = set.iter().map(|(p, a)| (prefix(*p), *a)).collect();
                        rib.replace_all(wanted.clone());
                    }
                    Op::Flush => apply(&mut rib, &mut peer)?,
                    Op::SessionDown => { rib.session_down(); peer.clear(); }
                }
            }
            apply(&mut rib, &mut peer)?;
            prop_assert_eq!(&peer, &wanted);
            prop_assert_eq!(rib.wanted().map(|(p, a)| (p, *a)).collect::<BTreeMap<_, _>>(), wanted);
            prop_assert!(rib.take_changes().is_empty());
        }
    }
}
