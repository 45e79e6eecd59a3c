//! A set of `u128` kept as maximal runs of consecutive members, so that "the
//! lowest number not in the set from here on" is one `BTreeMap` lookup, however
//! many members precede it. This is what keeps allocation O(log n) when the
//! first 100 000 addresses of a pool are taken.

use std::collections::BTreeMap;

/// Coalesced set of numbers: `runs` maps each run's first member to its last,
/// and no two runs touch (they would have been merged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IntervalSet {
    runs: BTreeMap<u128, u128>,
    len: u128,
}

impl IntervalSet {
    /// The run holding `n`, if any.
    fn run_of(&self, n: u128) -> Option<(u128, u128)> {
        let (&start, &end) = self.runs.range(..=n).next_back()?;
        (n <= end).then_some((start, end))
    }

    /// Whether `n` is a member.
    #[cfg(test)]
    pub(crate) fn contains(&self, n: u128) -> bool {
        self.run_of(n).is_some()
    }

    /// Number of members.
    pub(crate) fn len(&self) -> u128 {
        self.len
    }

    /// Adds `n`; returns whether it was new.
    pub(crate) fn insert(&mut self, n: u128) -> bool {
        if self.run_of(n).is_some() {
            return false;
        }
        let mut start = n;
        let mut end = n;
        // Merge with the run ending just below...
        if let Some(below) = n.checked_sub(1)
            && let Some((s, _)) = self.run_of(below)
        {
            start = s;
        }
        // ...and with the run starting just above.
        if let Some(above) = n.checked_add(1)
            && let Some(e) = self.runs.remove(&above)
        {
            end = e;
        }
        self.runs.insert(start, end);
        self.len += 1;
        true
    }

    /// Removes `n`; returns whether it was a member.
    pub(crate) fn remove(&mut self, n: u128) -> bool {
        let Some((start, end)) = self.run_of(n) else {
            return false;
        };
        self.runs.remove(&start);
        if start < n {
            self.runs.insert(start, n - 1);
        }
        if n < end {
            self.runs.insert(n + 1, end);
        }
        self.len -= 1;
        true
    }

    /// The lowest non-member `>= from`, or `None` if every number from `from`
    /// up to `u128::MAX` is a member.
    pub(crate) fn first_absent_from(&self, from: u128) -> Option<u128> {
        match self.run_of(from) {
            // Runs are maximal, so the number right after one is absent.
            Some((_, end)) => end.checked_add(1),
            None => Some(from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn merges_and_splits() {
        let mut s = IntervalSet::default();
        assert!(s.insert(1) && s.insert(3) && s.insert(2));
        assert_eq!(s.runs.len(), 1);
        assert_eq!(s.first_absent_from(1), Some(4));
        assert_eq!(s.first_absent_from(0), Some(0));
        assert!(s.remove(2));
        assert_eq!(s.runs.len(), 2);
        assert_eq!(s.first_absent_from(1), Some(2));
        assert!(!s.remove(2));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn the_top_of_the_number_space() {
        let mut s = IntervalSet::default();
        s.insert(u128::MAX);
        s.insert(u128::MAX - 1);
        assert_eq!(s.first_absent_from(u128::MAX - 1), None);
        assert!(s.remove(u128::MAX));
        assert_eq!(s.first_absent_from(u128::MAX - 1), Some(u128::MAX));
    }

    proptest! {
        #[test]
        fn behaves_like_a_plain_set(ops in prop::collection::vec((any::<bool>(), 0u128..64), 0..200)) {
            let mut s = IntervalSet::default();
            let mut model = BTreeSet::new();
            for (add, n) in ops {
                if add {
                    prop_assert_eq!(s.insert(n), model.insert(n));
                } else {
                    prop_assert_eq!(s.remove(n), model.remove(&n));
                }
                prop_assert_eq!(s.len(), model.len() as u128);
                for probe in 0..66u128 {
                    prop_assert_eq!(s.contains(probe), model.contains(&probe));
                    let expect = (probe..).find(|k| !model.contains(k));
                    prop_assert_eq!(s.first_absent_from(probe), expect);
                }
            }
        }
    }
}
