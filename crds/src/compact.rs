//! B-tree maps kept full after they grow in bulk (the books with an entry
//! per Service: the controller's, and every speaker's).
//!
//! A `BTreeMap` grown by inserting keys in order (a list from the API
//! server, a configuration's Services in key order) splits each full node
//! in two and never fills the left half again: its nodes stay about half
//! empty, twice the memory of the entries. Built at once from its sorted
//! entries, every node is full. A speaker holds several maps with an entry
//! per Service of the cluster, so they are rebuilt once they have grown by
//! half since the last rebuild: O(n) work every n/2 insertions, O(1) per
//! insertion amortised.

use std::collections::BTreeMap;

/// Maps this small are never rebuilt: the gain would be a few nodes.
const SMALL: usize = 1024;

/// Rebuilds `tree` (a `BTreeMap` or a `BTreeSet`) in one go, with full
/// nodes.
pub fn compact<T>(tree: &mut T)
where
    T: Default + IntoIterator + FromIterator<<T as IntoIterator>::Item>,
{
    *tree = std::mem::take(tree).into_iter().collect();
}

/// Counts a map's insertions since it was last rebuilt.
#[derive(Debug, Clone, Default)]
pub struct Growth {
    inserted: usize,
}

impl Growth {
    /// Notes an insertion of a new key into `map`, rebuilding it when the
    /// insertions since the last rebuild reach half its size.
    pub fn inserted<K: Ord, V>(&mut self, map: &mut BTreeMap<K, V>) {
        if self.due(1, map.len()) {
            compact(map);
        }
    }

    /// Notes `n` insertions into maps of `len` entries in all, and says
    /// whether to rebuild them now (counting from zero again).
    pub fn due(&mut self, n: usize, len: usize) -> bool {
        self.inserted += n;
        let due = len > SMALL && self.inserted > len / 2;
        if due {
            self.inserted = 0;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_keeps_its_entries_through_rebuilds() {
        let mut map = BTreeMap::new();
        let mut growth = Growth::default();
        for i in 0..10_000u32 {
            if map.insert(i, i * 2).is_none() {
                growth.inserted(&mut map);
            }
        }
        assert_eq!(map.len(), 10_000);
        assert!(map.iter().all(|(k, v)| *v == k * 2));
        assert!(growth.inserted <= map.len() / 2, "rebuilt on the way");
    }
}
