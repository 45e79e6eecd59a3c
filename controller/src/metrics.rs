//! Prometheus metrics, with MetalLB's names so existing dashboards and
//! alerts keep working, and FerroLB's own (`ferrolb_*`) for what MetalLB
//! does not count: assignments and failures.

use std::collections::BTreeSet;
use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use ferrolb_k8s::client_metrics::ClientMetrics;

use crate::ipam::PoolStats;

type PoolLabel = Vec<(String, String)>;

/// A pool's address count under each of MetalLB's allocator gauges.
#[derive(Debug, Default)]
struct PoolGauges {
    all: Family<PoolLabel, Gauge>,
    v4: Family<PoolLabel, Gauge>,
    v6: Family<PoolLabel, Gauge>,
}

impl PoolGauges {
    /// Registers `metallb_allocator_{,ipv4_,ipv6_}addresses{suffix}`; `help`
    /// has `{}` where MetalLB's help text names the family.
    fn register(&self, registry: &mut Registry, suffix: &str, help: &str) {
        for (family, gauge, what) in [
            ("", &self.all, "IP"),
            ("ipv4_", &self.v4, "IPV4"),
            ("ipv6_", &self.v6, "IPV6"),
        ] {
            registry.register(
                format!("metallb_allocator_{family}addresses{suffix}"),
                help.replace("{}", what),
                gauge.clone(),
            );
        }
    }

    fn set(&self, label: &PoolLabel, v4: u128, v6: u128) {
        self.all
            .get_or_create(label)
            .set(saturate(v4.saturating_add(v6)));
        self.v4.get_or_create(label).set(saturate(v4));
        self.v6.get_or_create(label).set(saturate(v6));
    }

    fn remove(&self, label: &PoolLabel) {
        self.all.remove(label);
        self.v4.remove(label);
        self.v6.remove(label);
    }
}

/// The controller's metrics: the allocator's gauges per pool and per
/// family, MetalLB's `metallb_k8s_client_*`, and the assignment counters.
#[derive(Debug, Default)]
pub struct Metrics {
    in_use: PoolGauges,
    total: PoolGauges,
    assignments: Counter,
    failures: Counter,
    pools: Mutex<BTreeSet<String>>,
    /// Configuration loaded / stale, object events, failed reconciles.
    pub client: ClientMetrics,
}

impl Metrics {
    /// Metrics registered in `registry`, under MetalLB's names and help
    /// texts (`metallb_allocator_addresses_total`,
    /// `..._ipv4_addresses_total`, `..._ipv6_addresses_in_use_total`...).
    pub fn register(registry: &mut Registry) -> Self {
        Metrics {
            client: ClientMetrics::register(registry),
            ..Metrics::register_allocator(registry)
        }
    }

    /// The pool gauges and the assignment counters alone, beside a
    /// process that registers `metallb_k8s_client_*` itself (`ferrolb
    /// run`, where the speaker's do); `client` is then not exported.
    pub fn register_allocator(registry: &mut Registry) -> Self {
        let m = Metrics::default();
        m.total.register(
            registry,
            "_total",
            "Number of usable {} addresses, per pool",
        );
        m.in_use.register(
            registry,
            "_in_use_total",
            "Number of {} addresses in use, per pool",
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

    /// This replica stands by: it reports neither pools nor a
    /// configuration verdict (the leader does).
    pub fn standby(&self) {
        self.update(&[]);
        self.client.standby();
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
    /// stop being reported. Huge IPv6 pools saturate at `i64::MAX`, as
    /// MetalLB's do.
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
            self.in_use.set(&label, s.v4.assigned, s.v6.assigned);
            self.total.set(&label, s.v4.capacity, s.v6.capacity);
        }
        *known = now;
    }
}

fn saturate(v: u128) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
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

    #[test]
    fn per_family_gauges_as_metallb_labels_them() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        let dual = PoolStats {
            pool: "dual".into(),
            v4: FamilyStats {
                capacity: 254,
                assigned: 2,
                available: 252,
            },
            v6: FamilyStats {
                capacity: 1 << 70,
                assigned: 1,
                available: (1 << 70) - 1,
            },
        };
        m.update(&[dual]);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for line in [
            "# TYPE metallb_allocator_addresses_total gauge",
            "# HELP metallb_allocator_ipv4_addresses_total Number of usable IPV4 addresses, per pool.",
            "# HELP metallb_allocator_addresses_in_use_total Number of IP addresses in use, per pool.",
            "# HELP metallb_allocator_ipv6_addresses_in_use_total Number of IPV6 addresses in use, per pool.",
            "metallb_allocator_addresses_in_use_total{pool=\"dual\"} 3",
            "metallb_allocator_ipv4_addresses_in_use_total{pool=\"dual\"} 2",
            "metallb_allocator_ipv6_addresses_in_use_total{pool=\"dual\"} 1",
            "metallb_allocator_ipv4_addresses_total{pool=\"dual\"} 254",
            // A /56 or wider never runs out: saturated, as MetalLB's.
            "metallb_allocator_ipv6_addresses_total{pool=\"dual\"} 9223372036854775807",
            "metallb_allocator_addresses_total{pool=\"dual\"} 9223372036854775807",
            "metallb_k8s_client_updates_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        m.update(&[]);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(!text.contains("dual"), "{text}");
    }

    #[test]
    fn assignment_counters() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        m.assigned();
        m.assigned();
        m.assignment_failed();
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for want in [
            "ferrolb_controller_address_assignments_total 2",
            "ferrolb_controller_address_assignment_failures_total 1",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
    }
}
