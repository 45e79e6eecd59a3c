//! A complete view of one kind, fed by watch events. A view is usable only
//! once its first list has completed ([`Cache::synced`]): the rebuild must
//! see every recorded address before anything new is assigned.

use std::collections::BTreeMap;

use kube::runtime::watcher::Event;

/// The objects of one kind, by key.
#[derive(Debug)]
pub struct Cache<K, Key: Ord> {
    key: fn(&K) -> Option<Key>,
    items: BTreeMap<Key, K>,
    /// Objects of a relist in progress; made the view at `InitDone`,
    /// built at once from the whole list: a map built in one go fills its
    /// nodes, where one grown by inserting a list (sorted, as the API
    /// server sends it) leaves each node about half empty, and a speaker
    /// caches every Service of the cluster.
    relist: Option<Vec<(Key, K)>>,
    synced: bool,
}

impl<K, Key: Ord> Cache<K, Key> {
    /// An empty, unsynced cache keyed by `key` (objects it maps to `None`
    /// are ignored).
    pub fn new(key: fn(&K) -> Option<Key>) -> Self {
        Cache {
            key,
            items: BTreeMap::new(),
            relist: None,
            synced: false,
        }
    }

    /// Applies one watch event.
    pub fn apply(&mut self, event: Event<K>) {
        match event {
            Event::Apply(o) => {
                if let Some(k) = (self.key)(&o) {
                    self.items.insert(k, o);
                }
            }
            Event::Delete(o) => {
                if let Some(k) = (self.key)(&o) {
                    self.items.remove(&k);
                }
            }
            Event::Init => self.relist = Some(Vec::new()),
            Event::InitApply(o) => {
                if let (Some(k), Some(relist)) = ((self.key)(&o), self.relist.as_mut()) {
                    relist.push((k, o));
                }
            }
            Event::InitDone => {
                if let Some(relist) = self.relist.take() {
                    // The last of a key listed twice wins, as an insert.
                    self.items = relist.into_iter().collect();
                }
                self.synced = true;
            }
        }
    }

    /// Whether a first complete list has arrived.
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// The objects, by key.
    pub fn items(&self) -> &BTreeMap<Key, K> {
        &self.items
    }

    /// The objects.
    pub fn values(&self) -> impl Iterator<Item = &K> {
        self.items.values()
    }
}

/// `namespace/name` of any object.
pub fn name_key<K: kube::Resource>(o: &K) -> Option<String> {
    let meta = o.meta();
    Some(format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref()?
    ))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    use super::*;

    fn cm(name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_relist_replaces_everything_at_init_done() {
        let mut c: Cache<ConfigMap, String> = Cache::new(name_key);
        c.apply(Event::Init);
        c.apply(Event::InitApply(cm("a")));
        assert!(!c.synced());
        assert!(c.items().is_empty());
        c.apply(Event::InitDone);
        assert!(c.synced());
        c.apply(Event::Apply(cm("b")));
        assert_eq!(c.items().len(), 2);
        c.apply(Event::Init);
        c.apply(Event::InitApply(cm("b")));
        assert_eq!(c.items().len(), 2, "old view stays until InitDone");
        c.apply(Event::InitDone);
        let keys: Vec<&String> = c.items().keys().collect();
        assert_eq!(keys, ["/b"]);
        let mut later = cm("b");
        later.data = Some([("v".to_string(), "2".to_string())].into());
        c.apply(Event::Init);
        c.apply(Event::InitApply(cm("b")));
        c.apply(Event::InitApply(later.clone()));
        c.apply(Event::InitDone);
        assert_eq!(c.items().get("/b"), Some(&later), "the last listed wins");
        c.apply(Event::Delete(cm("b")));
        assert!(c.items().is_empty());
    }
}
