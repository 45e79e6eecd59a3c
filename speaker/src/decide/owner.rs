//! Which node answers for an address in layer-2 mode: every speaker ranks
//! the candidates the same way, from nothing but their names and the
//! address, so they agree on one owner without talking to each other.
//!
//! # The rule: rendezvous hashing with MetalLB's hash
//!
//! Each candidate node gets a weight, `SHA-256(node + "#" + key)`, where
//! `key` is the address in its textual form (`198.51.100.10`,
//! `2001:db8::10`); the node with the **lowest** weight (bytes compared
//! big-endian) owns the address. This is exactly MetalLB's rule (it sorts
//! the candidates by that digest and takes the first), kept to the byte:
//! after a migration from MetalLB every address stays on the node that
//! answered for it, so clients' ARP/NDP caches stay right.
//!
//! Picking the minimum of independent per-(node, key) weights is
//! rendezvous (highest-random-weight) hashing, and MetalLB's sort is that
//! too, only in O(n log n) with two digests per comparison where a single
//! pass with one digest per node does. Its movement is the least possible:
//!
//! - a node **leaving** moves only the addresses it owned (every other
//!   address keeps its minimum);
//! - a node **joining** moves only the addresses where it weighs least,
//!   and all of them to itself: on average 1/(n+1) of them.
//!
//! Schemes that cut the key space by position (modulo n, or a ring without
//! enough virtual nodes) move far more: modulo n moves n/(n+1) of the
//! addresses on a join. Weights are independent and uniform, so ownership
//! spreads evenly: each of n nodes owns each address with probability 1/n.
//!
//! SHA-256 costs a few hundred nanoseconds per weight, one per candidate
//! and address group: ten thousand addresses over twenty nodes take tens of
//! milliseconds, and only when the inputs change.
//!
//! # One key for a dual-stack service
//!
//! MetalLB keys every address of a service on the service's *first*
//! address (`toAnnounce[0]`), so both families of a dual-stack service
//! land on one node. FerroLB does the same, with one addition for shared
//! addresses (`metallb.io/allow-shared-ip`): an address's key is the first
//! address of the first Service (in namespace/name order) that holds it.
//! The key is then a function of the address alone, so every Service
//! sharing it agrees on its owner; MetalLB, keying per Service, can give a
//! shared address two owners when one of the Services lists another
//! family first.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

/// A candidate's weight for `key`; the lowest weight wins.
pub fn weight(node: &str, key: IpAddr) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(node.as_bytes());
    hasher.update(b"#");
    hasher.update(key.to_string().as_bytes());
    hasher.finalize().into()
}

/// The owner of `key` among `candidates`, or `None` when there are none.
/// Equal weights would need a SHA-256 collision; the smaller name wins
/// them anyway, so the result never depends on the candidates' order.
pub fn owner<'a>(key: IpAddr, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|node| (weight(node, key), node))
        .min()
        .map(|(_, node)| node)
}

/// The owner of `key` with MetalLB's `preferredNodeSelectors`: the
/// highest `score` wins, and [`owner`]'s rule among equal scores (MetalLB
/// sorts by score, then by the digest). All scores 0 is [`owner`].
pub fn owner_preferring<'a>(
    key: IpAddr,
    candidates: impl IntoIterator<Item = &'a str>,
    score: impl Fn(&str) -> u64,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|node| (rank(key, node, &score), node))
        .min()
        .map(|(_, node)| node)
}

/// Where `node` ranks for `key`: the highest score first, then the lowest
/// weight ([`owner_preferring`]'s order; the name breaks ties).
fn rank(
    key: IpAddr,
    node: &str,
    score: impl Fn(&str) -> u64,
) -> (std::cmp::Reverse<u64>, [u8; 32]) {
    (std::cmp::Reverse(score(node)), weight(node, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> IpAddr {
        s.parse().expect("address literal")
    }

    #[test]
    fn weights_are_metallbs_digest() {
        // printf 'n1#198.51.100.10' | sha256sum
        let w = weight("n1", addr("198.51.100.10"));
        let hex: String = w.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "d23da545b51bdc39de5c015724408abea0e317467a97b6d5a64d6bda470c69f5"
        );
    }

    #[test]
    fn the_owner_does_not_depend_on_the_candidates_order() {
        let key = addr("2001:db8::10");
        let forward = owner(key, ["a", "b", "c", "d"]);
        let backward = owner(key, ["d", "c", "b", "a"]);
        assert_eq!(forward, backward);
        assert_eq!(owner(key, []), None);
    }
}
