//! Prometheus metrics, with MetalLB's names so existing dashboards and
//! alerts keep working, and FerroLB's own (`ferrolb_*`) for what MetalLB
//! does not count: usage per address family, assignments and failures.

use std::collections::BTreeSet;
use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::ipam::PoolStats;

type PoolLabel = Vec<(String, String)>;

/// The allocator's gauges, per pool and per pool and family, and the
/// assignment counters.
#[derive(Debug, Default)]
pub struct Metrics {
    in_use: Family<PoolLabel, Gauge>,
    total: Family<PoolLabel, Gauge>,
    family_in_use: Family<PoolLabel, Gauge>,
    family_total: Family<PoolLabel, Gauge>,
    assignments: Counter,
    failures: Counter,
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
        // MetalLB sums the families; a dual-stack pool's IPv4 half can be
        // exhausted while the sum looks fine, hence per family too.
        registry.register(
            "ferrolb_pool_addresses_in_use",
            "IP addresses held by at least one Service, per pool and family (ipv4, ipv6)",
            m.family_in_use.clone(),
        );
        registry.register(
            "ferrolb_pool_addresses_usable",
            "IP addresses the pool may hand out, per pool and family (ipv4, ipv6); saturates at 2^63-1",
            m.family_total.clone(),
        );
        registry.register(
            "ferrolb_controller_address_assignments",
            "Addresses given to Services (one per IPAllocated event)",
            m.assignments.clone(),
        );
        registry.register(
            "ferrolb_controller_address_assignment_failures",
            "Services refused an address (one per AllocationFailed event: a new reason, not every retry)",
            m.failures.clone(),
        );
        m
    }

    /// Counts one assignment (an `IPAllocated` event).
    pub fn assigned(&self) {
        self.assignments.inc();
    }

    /// Counts one refusal (an `AllocationFailed` event).
    pub fn assignment_failed(&self) {
        self.failures.inc();
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
            for family in FAMILIES {
                let label = family_label(gone, family);
                self.family_in_use.remove(&label);
                self.family_total.remove(&label);
            }
        }
        for s in stats {
            let label = label(&s.pool);
            let sum = |f: fn(&crate::ipam::FamilyStats) -> u128| {
                let v = f(&s.v4).saturating_add(f(&s.v6));
                i64::try_from(v).unwrap_or(i64::MAX)
            };
            self.in_use.get_or_create(&label).set(sum(|f| f.assigned));
            self.total.get_or_create(&label).set(sum(|f| f.capacity));
            for (family, f) in FAMILIES.into_iter().zip([&s.v4, &s.v6]) {
                let label = family_label(&s.pool, family);
                // A family the pool has no range of is not reported.
                if f.capacity == 0 {
                    self.family_in_use.remove(&label);
                    self.family_total.remove(&label);
                    continue;
                }
                let clamp = |n: u128| i64::try_from(n).unwrap_or(i64::MAX);
                self.family_in_use
                    .get_or_create(&label)
                    .set(clamp(f.assigned));
                self.family_total
                    .get_or_create(&label)
                    .set(clamp(f.capacity));
            }
        }
        *known = now;
    }
}

const FAMILIES: [&str; 2] = ["ipv4", "ipv6"];

fn label(pool: &str) -> PoolLabel {
    vec![("pool".to_string(), pool.to_string())]
}

fn family_label(pool: &str, family: &str) -> PoolLabel {
    vec![
        ("pool".to_string(), pool.to_string()),
        ("family".to_string(), family.to_string()),
    ]
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

    #[test]
    fn usage_per_family_and_assignment_counters() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        let dual = PoolStats {
            pool: "d".into(),
            v4: FamilyStats {
                capacity: 4,
                assigned: 4,
                available: 0,
            },
            v6: FamilyStats {
                capacity: 1 << 64,
                assigned: 1,
                available: (1 << 64) - 1,
            },
        };
        let v4_only = PoolStats {
            v6: FamilyStats::default(),
            ..dual.clone()
        };
        m.update(std::slice::from_ref(&dual));
        m.assigned();
        m.assigned();
        m.assignment_failed();
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for want in [
            "ferrolb_pool_addresses_in_use{pool=\"d\",family=\"ipv4\"} 4",
            "ferrolb_pool_addresses_usable{pool=\"d\",family=\"ipv4\"} 4",
            "ferrolb_pool_addresses_in_use{pool=\"d\",family=\"ipv6\"} 1",
            "ferrolb_pool_addresses_usable{pool=\"d\",family=\"ipv6\"} 9223372036854775807",
            "ferrolb_controller_address_assignments_total 2",
            "ferrolb_controller_address_assignment_failures_total 1",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
        // The IPv6 range removed: its family stops being reported.
        m.update(&[v4_only]);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(!text.contains("family=\"ipv6\""), "{text}");
        m.update(&[]);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(!text.contains("pool=\"d\""), "{text}");
    }
}
