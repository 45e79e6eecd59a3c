//! MetalLB's `metallb_k8s_client_*` metrics, which both the controller and
//! the speaker export: MetalLB's own alerts (`MetalLBStaleConfig`,
//! `MetalLBConfigNotLoaded`) read them from every pod, so both binaries
//! register the same four under the same names, types and (absent) labels.
//!
//! MetalLB's meanings, kept: `updates_total` counts the Kubernetes object
//! events processed, `update_errors_total` the reconciles that failed (a
//! write that did not go through, a configuration that could not be put in
//! force), `config_loaded_bool` turns 1 with the first configuration put in
//! force and stays 1, `config_stale_bool` is 1 while the newest
//! configuration is refused and an older one (or none) stays in force.
//!
//! The two `_bool` gauges are absent until the process says it handles the
//! configuration ([`ClientMetrics::awaiting`]: the speaker at once, a
//! controller replica when it starts to lead), and again after
//! [`ClientMetrics::standby`]: a standby controller replica loads nothing,
//! and must neither raise `MetalLBConfigNotLoaded` nor report the leader it
//! used to be. They are a family without labels for that reason (encoded
//! `name{} 1`, which Prometheus reads as `name 1`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The four `metallb_k8s_client_*` metrics.
#[derive(Debug, Default)]
pub struct ClientMetrics {
    updates: Counter,
    update_errors: Counter,
    config_loaded: Family<NoLabels, Gauge>,
    config_stale: Family<NoLabels, Gauge>,
}

type NoLabels = Vec<(String, String)>;

impl ClientMetrics {
    /// The metrics, registered in `registry`. The counters are registered
    /// without `_total`, the help texts without their final period: the
    /// encoder appends both, giving MetalLB's names and texts.
    pub fn register(registry: &mut Registry) -> Self {
        let m = ClientMetrics::default();
        registry.register(
            "metallb_k8s_client_updates",
            "Number of k8s object updates that have been processed",
            m.updates.clone(),
        );
        registry.register(
            "metallb_k8s_client_update_errors",
            "Number of k8s object updates that failed for some reason",
            m.update_errors.clone(),
        );
        registry.register(
            "metallb_k8s_client_config_loaded_bool",
            "1 if the MetalLB configuration was successfully loaded at least once",
            m.config_loaded.clone(),
        );
        registry.register(
            "metallb_k8s_client_config_stale_bool",
            "1 if running on a stale configuration, because the latest config failed to load",
            m.config_stale.clone(),
        );
        m
    }

    /// `events` Kubernetes object events were processed.
    pub fn processed(&self, events: u64) {
        self.updates.inc_by(events);
    }

    /// A reconcile failed (it is retried).
    pub fn failed(&self) {
        self.update_errors.inc();
    }

    /// The newest configuration is in force.
    pub fn config_loaded(&self) {
        self.set_config(1, 0);
    }

    /// The newest configuration was refused; `in_force` says whether an
    /// older one still is.
    pub fn config_refused(&self, in_force: bool) {
        self.set_config(i64::from(in_force), 1);
    }

    /// This process handles the configuration and has none in force yet:
    /// `config_loaded_bool 0` until one is (MetalLB's starting values), so
    /// a process stuck before its first configuration raises the alert.
    pub fn awaiting(&self) {
        self.set_config(0, 0);
    }

    /// This process stopped handling the configuration (a controller
    /// replica that lost its lease): the `_bool` gauges disappear.
    pub fn standby(&self) {
        self.config_loaded.clear();
        self.config_stale.clear();
    }

    fn set_config(&self, loaded: i64, stale: i64) {
        self.config_loaded.get_or_create(&Vec::new()).set(loaded);
        self.config_stale.get_or_create(&Vec::new()).set(stale);
    }

    /// The counts so far: `(updates, update errors)`.
    pub fn counts(&self) -> (u64, u64) {
        (self.updates.get(), self.update_errors.get())
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    fn text(registry: &Registry) -> String {
        let mut out = String::new();
        encode(&mut out, registry).expect("encoding to a String cannot fail");
        out
    }

    #[test]
    fn metallb_names_types_and_transitions() {
        let mut registry = Registry::default();
        let m = ClientMetrics::register(&mut registry);
        let t = text(&registry);
        for line in [
            "# TYPE metallb_k8s_client_updates counter",
            "metallb_k8s_client_updates_total 0",
            "# TYPE metallb_k8s_client_update_errors counter",
            "metallb_k8s_client_update_errors_total 0",
        ] {
            assert!(t.lines().any(|l| l == line), "{line} missing:\n{t}");
        }
        // Not handling the configuration yet: no verdict to report.
        assert!(!t.contains("_bool{"), "{t}");
        m.awaiting();
        let t = text(&registry);
        assert!(
            t.contains("# TYPE metallb_k8s_client_config_loaded_bool gauge\n"),
            "{t}"
        );
        assert!(
            t.contains("# TYPE metallb_k8s_client_config_stale_bool gauge\n"),
            "{t}"
        );
        assert!(
            t.contains("metallb_k8s_client_config_loaded_bool{} 0\n"),
            "{t}"
        );
        assert!(
            t.contains("metallb_k8s_client_config_stale_bool{} 0\n"),
            "{t}"
        );
        // Refused before anything was loaded: not loaded, stale.
        m.config_refused(false);
        let t = text(&registry);
        assert!(
            t.contains("metallb_k8s_client_config_loaded_bool{} 0\n"),
            "{t}"
        );
        assert!(
            t.contains("metallb_k8s_client_config_stale_bool{} 1\n"),
            "{t}"
        );
        m.config_loaded();
        m.processed(3);
        m.failed();
        let t = text(&registry);
        assert!(
            t.contains("metallb_k8s_client_config_loaded_bool{} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("metallb_k8s_client_config_stale_bool{} 0\n"),
            "{t}"
        );
        assert!(t.contains("metallb_k8s_client_updates_total 3\n"), "{t}");
        assert!(
            t.contains("metallb_k8s_client_update_errors_total 1\n"),
            "{t}"
        );
        // Refused after a load: the old one stays in force, stale.
        m.config_refused(true);
        let t = text(&registry);
        assert!(
            t.contains("metallb_k8s_client_config_loaded_bool{} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("metallb_k8s_client_config_stale_bool{} 1\n"),
            "{t}"
        );
        assert_eq!(m.counts(), (3, 1));
        m.standby();
        assert!(!text(&registry).contains("_bool{"));
    }
}
