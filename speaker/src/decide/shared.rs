//! One copy of each distinct value a book holds many times over.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

/// Hands out a shared copy of each distinct value (`T` is a cheap handle:
/// an `Arc`, or a type wrapping one), so that thousands of verdicts or
/// routes naming the same peers or attributes hold one allocation.
#[derive(Debug, Clone)]
pub struct Shared<T>(HashSet<T>);

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Shared(HashSet::new())
    }
}

impl<T: Clone + Eq + Hash> Shared<T> {
    /// The shared copy of `value`: the first one given, if equal.
    pub fn share(&mut self, value: T) -> T {
        if let Some(shared) = self.0.get(&value) {
            return shared.clone();
        }
        self.0.insert(value.clone());
        value
    }
}

impl<U> Shared<Arc<U>> {
    /// Forgets the values nobody else holds any more.
    pub fn prune(&mut self) {
        self.0.retain(|value| Arc::strong_count(value) > 1);
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
}
