//! The Services of the last pass, by key, and which of them a new pass
//! changes.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use super::super::compact::Growth;
use super::super::input::{ServiceKey, ServiceState};

/// The Services the decision reads, by key.
#[derive(Debug, Clone, Default)]
pub struct ServiceBook {
    services: BTreeMap<ServiceKey, ServiceState>,
    growth: Growth,
}

impl ServiceBook {
    /// Takes `services` as the Services now (a key given twice keeps the
    /// last: the shells give each once), and says which keys came, went or
    /// changed. One comparison per Service: far cheaper than deciding it.
    pub fn replace(&mut self, services: Vec<ServiceState>) -> BTreeSet<ServiceKey> {
        // Built in one go, which fills the map's nodes (the last of a key
        // given twice wins, as an insert).
        let now: BTreeMap<ServiceKey, ServiceState> =
            services.into_iter().map(|s| (s.key.clone(), s)).collect();
        let mut changed = BTreeSet::new();
        for (key, service) in &now {
            if self.services.get(key) != Some(service) {
                changed.insert(key.clone());
            }
        }
        changed.extend(
            self.services
                .keys()
                .filter(|k| !now.contains_key(*k))
                .cloned(),
        );
        self.services = now;
        self.growth = Growth::default();
        changed
    }

    /// Takes `service` as it is now; `true` when it came or changed.
    pub fn upsert(&mut self, service: ServiceState) -> bool {
        if self.services.get(&service.key) == Some(&service) {
            return false;
        }
        if self.services.insert(service.key.clone(), service).is_none() {
            self.growth.inserted(&mut self.services);
        }
        true
    }

    /// Forgets the Service `key`; `true` when it was there.
    pub fn remove(&mut self, key: &ServiceKey) -> bool {
        self.services.remove(key).is_some()
    }

    pub fn get(&self, key: &ServiceKey) -> Option<&ServiceState> {
        self.services.get(key)
    }

    /// Every Service, in key order.
    pub fn values(&self) -> impl Iterator<Item = &ServiceState> {
        self.services.values()
    }

    pub fn keys(&self) -> impl Iterator<Item = &ServiceKey> {
        self.services.keys()
    }

    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }
}
