//! Prometheus metrics, with MetalLB's names so existing dashboards and
//! alerts keep working.

use std::collections::BTreeSet;
use std::sync::Mutex;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::ipam::PoolStats;

type PoolLabel = Vec<(String, String)>;

/// The allocator's gauges, per pool.
#[derive(Debug, Default)]
pub struct Metrics {
    in_use: Family<PoolLabel, Gauge>,
    total: Family<PoolLabel, Gauge>,
    pools: Mutex<BTreeSet<String>>,
}

impl Metrics {
    /// Gauges registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Metrics::default();
        registry.register(
            "metallb_allocator_addresses_in_use_total",
            "Number of IP addresses in use, per pool",
            m.in_use.clone(),
        );
        registry.register(
            "metallb_allocator_addresses_total",
            "Number of usable IP addresses, per pool",
            m.total.clone(),
        );
        m
    }

    /// Sets the gauges from the allocator's statistics; pools that are gone
    /// stop being reported. Huge IPv6 pools saturate at `i64::MAX`.
    pub fn update(&self, stats: &[PoolStats]) {
        let mut known = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        let now: BTreeSet<String> = stats.iter().map(|s| s.pool.clone()).collect();
        for gone in known.difference(&now) {
            let label = label(gone);
            self.in_use.remove(&label);
            self.total.remove(&label);
        }
        for s in stats {
            let label = label(&s.pool);
            let sum = |f: fn(&crate::ipam::FamilyStats) -> u128| {
                let v = f(&s.v4).saturating_add(f(&s.v6));
                i64::try_from(v).unwrap_or(i64::MAX)
            };
            self.in_use.get_or_create(&label).set(sum(|f| f.assigned));
            self.total.get_or_create(&label).set(sum(|f| f.capacity));
        }
        *known = now;
    }
}

fn label(pool: &str) -> PoolLabel {
    vec![("pool".to_string(), pool.to_string())]
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;
    use crate::ipam::FamilyStats;

    #[test]
    fn gauges_use_metallb_names_and_forget_deleted_pools() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        let stats = |pool: &str, assigned| PoolStats {
            pool: pool.into(),
            v4: FamilyStats {
                capacity: 256,
                assigned,
                available: 256 - assigned,
            },
            v6: FamilyStats::default(),
        };
        m.update(&[stats("a", 3), stats("b", 0)]);
        m.update(&[stats("a", 4)]);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("metallb_allocator_addresses_in_use_total{pool=\"a\"} 4"),
            "{text}"
        );
        assert!(text.contains("metallb_allocator_addresses_total{pool=\"a\"} 256"));
        assert!(!text.contains("pool=\"b\""), "{text}");
    }
}
