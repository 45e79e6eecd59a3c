//! The heartbeat ring: members in name order, each heart-beating the next
//! `k` and watching the previous `k`.
//!
//! Members declared dead leave the ring, so the watchers of a dead member's
//! neighbours close the gap. A node still *sends* to the dead members
//! between itself and its `k` live successors: views of who is dead agree
//! only eventually, and a member wrongly thought dead then still hears
//! from its predecessor (and a healed partition is noticed within one
//! heartbeat, see the module documentation of `membership`).

use std::collections::BTreeSet;

/// Whom `me` heart-beats: every member after it (wrapping) up to and
/// including its `k`-th live one.
pub fn successors<'a>(
    me: &str,
    members: &'a BTreeSet<String>,
    is_dead: impl Fn(&str) -> bool,
    k: usize,
) -> Vec<&'a str> {
    let after =
        members.range::<str, _>((std::ops::Bound::Excluded(me), std::ops::Bound::Unbounded));
    let before =
        members.range::<str, _>((std::ops::Bound::Unbounded, std::ops::Bound::Excluded(me)));
    let mut out = Vec::new();
    let mut live = 0;
    for m in after.chain(before).map(String::as_str) {
        if live == k {
            break;
        }
        if !is_dead(m) {
            live += 1;
        }
        out.push(m);
    }
    out
}

/// Whom `me` watches: its `k` nearest live predecessors (wrapping).
pub fn predecessors<'a>(
    me: &str,
    members: &'a BTreeSet<String>,
    is_dead: impl Fn(&str) -> bool,
    k: usize,
) -> Vec<&'a str> {
    let before = members
        .range::<str, _>((std::ops::Bound::Unbounded, std::ops::Bound::Excluded(me)))
        .rev();
    let after = members
        .range::<str, _>((std::ops::Bound::Excluded(me), std::ops::Bound::Unbounded))
        .rev();
    before
        .chain(after)
        .map(String::as_str)
        .filter(|m| !is_dead(m))
        .take(k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn neighbours_wrap_around() {
        let m = set(&["a", "b", "c", "d"]);
        assert_eq!(successors("c", &m, |_| false, 2), ["d", "a"]);
        assert_eq!(predecessors("a", &m, |_| false, 2), ["d", "c"]);
        assert_eq!(
            successors("a", &set(&["a"]), |_| false, 2),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn dead_members_are_skipped_but_still_heard() {
        let m = set(&["a", "b", "c", "d"]);
        assert_eq!(successors("a", &m, |n| n == "b", 2), ["b", "c", "d"]);
        assert_eq!(predecessors("d", &m, |n| n == "c", 2), ["b", "a"]);
    }

    proptest! {
        /// With one view, `x` heart-beats `y` whenever `y` watches `x`:
        /// no watcher waits for heartbeats that never come.
        #[test]
        fn every_watched_member_sends(names in proptest::collection::btree_set("[a-h]", 1..8),
                                      dead in proptest::collection::btree_set("[a-h]", 0..4),
                                      k in 1usize..4) {
            let is_dead = |n: &str| dead.contains(n);
            for y in names.iter().filter(|n| !dead.contains(*n)) {
                for x in predecessors(y, &names, is_dead, k) {
                    prop_assert!(successors(x, &names, is_dead, k).contains(&y.as_str()));
                }
            }
        }
    }
}
