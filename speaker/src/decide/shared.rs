//! One copy of each distinct value a book holds many times over.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

/// Hands out a shared copy of each distinct value (`T` is a cheap handle:
/// an `Arc`, or a type wrapping one), so that thousands of verdicts or
/// routes naming the same peers or attributes hold one allocation.
#[derive(Debug, Clone)]
pub struct Shared<T> {
    values: HashSet<T>,
    /// How many values the last prune kept.
    kept: usize,
}

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Shared {
            values: HashSet::new(),
            kept: 0,
        }
    }
}

impl<T: Clone + Eq + Hash> Shared<T> {
    /// The shared copy of `value`: the first one given, if equal.
    pub fn share(&mut self, value: T) -> T {
        if let Some(shared) = self.values.get(&value) {
            return shared.clone();
        }
        self.values.insert(value.clone());
        value
    }
}

impl<U: ?Sized + Eq + Hash> Shared<Arc<U>> {
    /// Forgets the values nobody else holds any more.
    pub fn prune(&mut self) {
        self.values.retain(|value| Arc::strong_count(value) > 1);
        self.kept = self.values.len();
    }

    /// The shared copy of the value equal to `value`, made by `own` only
    /// when there is none yet. For a book that never says when it drops
    /// what it was given: the values nobody holds are forgotten whenever
    /// the set has doubled since they were last, which bounds it to twice
    /// the values in use at a cost amortised over the insertions.
    pub fn share_ref<Q>(&mut self, value: &Q, own: impl FnOnce(&Q) -> Arc<U>) -> Arc<U>
    where
        Q: ?Sized + Eq + Hash,
        Arc<U>: Borrow<Q>,
    {
        if let Some(shared) = self.values.get(value) {
            return Arc::clone(shared);
        }
        if self.values.len() >= 2 * self.kept.max(32) {
            self.prune();
        }
        let owned = own(value);
        self.values.insert(Arc::clone(&owned));
        owned
    }

    /// How many distinct values are kept (held or not yet forgotten).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value is kept.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_are_one_copy_until_nobody_holds_it() {
        let mut shared: Shared<Arc<String>> = Shared::default();
        let first = shared.share(Arc::new("r1".to_string()));
        let second = shared.share(Arc::new("r1".to_string()));
        assert!(Arc::ptr_eq(&first, &second));
        let other = shared.share(Arc::new("r2".to_string()));
        assert!(!Arc::ptr_eq(&first, &other));
        drop((first, second));
        shared.prune();
        let again = shared.share(Arc::new("r1".to_string()));
        assert_eq!(Arc::strong_count(&again), 2, "a fresh copy after the prune");
        assert_eq!(Arc::strong_count(&other), 2, "r2 is still held, so kept");
    }

    #[test]
    fn values_shared_by_reference_are_forgotten_once_the_set_doubles() {
        let mut shared: Shared<Arc<str>> = Shared::default();
        let held = shared.share_ref("kept", |v| Arc::from(v));
        assert!(Arc::ptr_eq(
            &held,
            &shared.share_ref("kept", |v| Arc::from(v))
        ));
        for i in 0..1000 {
            // Dropped at once: nobody holds these names.
            shared.share_ref(format!("gone-{i}").as_str(), |v| Arc::from(v));
        }
        assert!(shared.len() <= 64, "{} kept", shared.len());
        assert!(
            Arc::ptr_eq(&held, &shared.share_ref("kept", |v| Arc::from(v))),
            "a held value survives every prune"
        );
    }
}
