//! Prometheus metrics with MetalLB's names, so existing dashboards and
//! alerts keep working.

mod membership;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ferrolb_bgp::fsm::State;
use ferrolb_bgp::peer::PeerStatus;
use ferrolb_k8s::client_metrics::ClientMetrics;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use crate::decide::ServiceKey;
use crate::decide::compact::{Growth, compact};
use crate::pass::BfdState;
pub use membership::MembershipMetrics;

type Labels = Vec<(String, String)>;

/// `metallb_speaker_announced`: a series of value 1 for each address this
/// node announces, by node and protocol. One per announced address: a
/// gauge each (a hash-map entry of its labels and a shared counter, some
/// 150 bytes) would be most of what a speaker holds per Service, so the
/// addresses are kept as a set and written out at each scrape.
#[derive(Debug, Clone, Default)]
struct Announced(Arc<Mutex<BTreeMap<NodeAndProtocol, Shown>>>);

/// The `node` and `protocol` labels of a set of announced addresses.
type NodeAndProtocol = (String, String);

/// The addresses shown for one node and protocol.
#[derive(Debug, Default)]
struct Shown {
    addresses: BTreeSet<(ServiceKey, IpAddr)>,
    growth: Growth,
}

const ANNOUNCED: &str = "metallb_speaker_announced";

impl Collector for Announced {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let announced = lock(&self.0);
        let mut family = encoder.encode_descriptor(
            ANNOUNCED,
            "Services being announced from this node (desired advertisements)",
            None,
            MetricType::Gauge,
        )?;
        for ((node, protocol), shown) in announced.iter() {
            for (service, ip) in &shown.addresses {
                let labels = [
                    ("ip", ip.to_string()),
                    ("node", node.clone()),
                    ("protocol", protocol.clone()),
                    ("service", service.to_string()),
                ];
                ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// A Layer-2 frame counted per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer2Count {
    Request,
    Response,
    Gratuitous,
    /// Another host answered a probe for, or claimed, the address.
    Conflict,
}

/// The protocol name of Layer-2 announcements in `metallb_speaker_announced`.
pub const LAYER2: &str = "layer2";

/// Which way an address's Layer-2 ownership moved on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnershipChange {
    Taken,
    Released,
}

impl OwnershipChange {
    fn label(self) -> Labels {
        let change = match self {
            OwnershipChange::Taken => "taken",
            OwnershipChange::Released => "released",
        };
        vec![("change".to_string(), change.to_string())]
    }
}

/// The speaker's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    session_up: Family<Labels, Gauge>,
    updates: Family<Labels, Counter>,
    prefixes: Family<Labels, Gauge>,
    announced: Announced,
    l2_requests: Family<Labels, Counter>,
    l2_responses: Family<Labels, Counter>,
    l2_gratuitous: Family<Labels, Counter>,
    l2_conflicts: Family<Labels, Counter>,
    l2_in_conflict: Family<Labels, Gauge>,
    l2_ownership: Family<Labels, Counter>,
    bfd_up: Family<Labels, Gauge>,
    bfd_up_events: Family<Labels, Gauge>,
    bfd_down_events: Family<Labels, Gauge>,
    bfd_packets_in: Family<Labels, Gauge>,
    bfd_packets_out: Family<Labels, Gauge>,
    /// MetalLB's `metallb_k8s_client_*` (configuration and object events).
    pub client: ClientMetrics,
    /// `ferrolb_membership_*`, once Layer-2 mode starts a membership.
    pub membership: MembershipMetrics,
    seen: Mutex<Seen>,
}

/// What was reported last, to forget what is gone and to turn the
/// sessions' absolute UPDATE counts into counter increments.
#[derive(Debug, Default)]
struct Seen {
    updates: BTreeMap<String, u64>,
    bfd: BTreeSet<String>,
}

impl Metrics {
    /// Metrics registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Metrics::default();
        registry.register(
            "metallb_bgp_session_up",
            "BGP session state (1 is up, 0 is down)",
            m.session_up.clone(),
        );
        registry.register(
            "metallb_bgp_updates",
            "Number of BGP UPDATE messages sent",
            m.updates.clone(),
        );
        registry.register(
            "metallb_bgp_announced_prefixes_total",
            "Number of prefixes currently being advertised on the BGP session",
            m.prefixes.clone(),
        );
        registry.register_collector(Box::new(m.announced.clone()));
        registry.register_collector(Box::new(m.membership.clone()));
        registry.register(
            "metallb_layer2_requests_received",
            "Number of layer2 requests received for owned IPs",
            m.l2_requests.clone(),
        );
        registry.register(
            "metallb_layer2_responses_sent",
            "Number of layer2 responses sent for owned IPs",
            m.l2_responses.clone(),
        );
        registry.register(
            "metallb_layer2_gratuitous_sent",
            "Number of gratuitous layer2 packets sent for owned IPs",
            m.l2_gratuitous.clone(),
        );
        registry.register(
            "ferrolb_layer2_address_conflicts",
            "Times another host was found using an address this node was to answer for",
            m.l2_conflicts.clone(),
        );
        registry.register(
            "ferrolb_layer2_addresses_in_conflict",
            "Addresses this node is to answer for on an interface but leaves to another host that holds them",
            m.l2_in_conflict.clone(),
        );
        registry.register(
            "ferrolb_layer2_ownership_changes",
            "Addresses this node took (change=taken: a new Service, or a failover to it) or gave up (change=released) answering ARP/NDP for",
            m.l2_ownership.clone(),
        );
        // Both series exist from the start, so that `rate()` and
        // `increase()` see the first change.
        for change in [OwnershipChange::Taken, OwnershipChange::Released] {
            m.l2_ownership.get_or_create(&change.label()).inc_by(0);
        }
        // MetalLB's FRR mode exports these without `_total` (bfdd's own
        // counts); a prometheus-client Counter would add it, so they are
        // gauges holding the session's counts, under MetalLB's exact names.
        registry.register(
            "metallb_bfd_session_up",
            "BFD session state (1 is up, 0 is down)",
            m.bfd_up.clone(),
        );
        registry.register(
            "metallb_bfd_session_up_events",
            "Number of times the BFD session went up",
            m.bfd_up_events.clone(),
        );
        registry.register(
            "metallb_bfd_session_down_events",
            "Number of times the BFD session went down",
            m.bfd_down_events.clone(),
        );
        registry.register(
            "metallb_bfd_control_packet_input",
            "Number of BFD control packets received",
            m.bfd_packets_in.clone(),
        );
        registry.register(
            "metallb_bfd_control_packet_output",
            "Number of BFD control packets sent",
            m.bfd_packets_out.clone(),
        );
        let client = ClientMetrics::register(registry);
        // The speaker always handles the configuration.
        client.awaiting();
        Metrics { client, ..m }
    }

    /// Session gauges and counters, by peer address; peers that are gone
    /// stop being reported.
    pub fn sessions<'a>(&self, statuses: impl IntoIterator<Item = (String, &'a PeerStatus)>) {
        let mut seen = lock(&self.seen);
        let mut now = BTreeMap::new();
        for (address, status) in statuses {
            let label = vec![("peer".to_string(), address.clone())];
            let up = status.state == State::Established;
            self.session_up.get_or_create(&label).set(i64::from(up));
            self.prefixes
                .get_or_create(&label)
                .set(i64::try_from(status.prefixes_announced).unwrap_or(i64::MAX));
            // A restarted session counts from zero again.
            let before = seen.updates.get(&address).copied().unwrap_or(0);
            let delta = status
                .updates_sent
                .checked_sub(before)
                .unwrap_or(status.updates_sent);
            self.updates.get_or_create(&label).inc_by(delta);
            now.insert(address, status.updates_sent);
        }
        for gone in seen.updates.keys().filter(|a| !now.contains_key(*a)) {
            let label = vec![("peer".to_string(), gone.clone())];
            self.session_up.remove(&label);
            self.prefixes.remove(&label);
            self.updates.remove(&label);
        }
        seen.updates = now;
    }

    /// BFD gauges, by peer address; sessions that are gone stop being reported.
    pub fn bfd_sessions<'a>(&self, sessions: impl IntoIterator<Item = (String, &'a BfdState)>) {
        let mut seen = lock(&self.seen);
        let mut now = BTreeSet::new();
        let count = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        for (address, bfd) in sessions {
            let label = vec![("peer".to_string(), address.clone())];
            let up = bfd.status.state == ferrolb_bfd::wire::SessionState::Up;
            self.bfd_up.get_or_create(&label).set(i64::from(up));
            self.bfd_up_events
                .get_or_create(&label)
                .set(count(bfd.status.up_events));
            self.bfd_down_events
                .get_or_create(&label)
                .set(count(bfd.status.down_events));
            self.bfd_packets_in
                .get_or_create(&label)
                .set(count(bfd.packets_in));
            self.bfd_packets_out
                .get_or_create(&label)
                .set(count(bfd.packets_out));
            now.insert(address);
        }
        for gone in seen.bfd.difference(&now) {
            let label = vec![("peer".to_string(), gone.clone())];
            for family in [
                &self.bfd_up,
                &self.bfd_up_events,
                &self.bfd_down_events,
                &self.bfd_packets_in,
                &self.bfd_packets_out,
            ] {
                family.remove(&label);
            }
        }
        seen.bfd = now;
    }

    /// `metallb_speaker_announced` as it changed: the addresses `node` no
    /// longer announces with `protocol` (`gone`) and those it now does
    /// (`came`). A pass reports only the Services it decided again; an
    /// address in both stays.
    pub fn announced_changed<'a>(
        &self,
        node: &str,
        protocol: &str,
        gone: impl IntoIterator<Item = (&'a ServiceKey, IpAddr)>,
        came: impl IntoIterator<Item = (&'a ServiceKey, IpAddr)>,
    ) {
        let came: BTreeSet<(&ServiceKey, IpAddr)> = came.into_iter().collect();
        let (mut released, mut taken) = (0u64, 0u64);
        {
            let mut announced = lock(&self.announced.0);
            let shown = announced
                .entry((node.to_string(), protocol.to_string()))
                .or_default();
            for (service, ip) in gone {
                if !came.contains(&(service, ip)) && shown.addresses.remove(&(service.clone(), ip))
                {
                    released += 1;
                }
            }
            for (service, ip) in came {
                if shown.addresses.insert((service.clone(), ip)) {
                    taken += 1;
                }
            }
            if shown.growth.due(taken as usize, shown.addresses.len()) {
                compact(&mut shown.addresses);
            }
        }
        if protocol == LAYER2 {
            for (change, n) in [
                (OwnershipChange::Taken, taken),
                (OwnershipChange::Released, released),
            ] {
                self.l2_ownership.get_or_create(&change.label()).inc_by(n);
            }
        }
    }

    /// Counts one Layer-2 frame about `ip`.
    pub fn layer2(&self, ip: IpAddr, kind: Layer2Count) {
        let label = vec![("ip".to_string(), ip.to_string())];
        let family = match kind {
            Layer2Count::Request => &self.l2_requests,
            Layer2Count::Response => &self.l2_responses,
            Layer2Count::Gratuitous => &self.l2_gratuitous,
            Layer2Count::Conflict => &self.l2_conflicts,
        };
        family.get_or_create(&label).inc();
    }

    /// How many addresses another host holds on `interface` (see
    /// `l2::conflict`); an interface back to none stops being reported.
    pub fn layer2_in_conflict(&self, interface: &str, count: usize) {
        let label = vec![("interface".to_string(), interface.to_string())];
        if count == 0 {
            self.l2_in_conflict.remove(&label);
        } else {
            let count = i64::try_from(count).unwrap_or(i64::MAX);
            self.l2_in_conflict.get_or_create(&label).set(count);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    pub(super) fn text(registry: &Registry) -> String {
        let mut text = String::new();
        encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn bfd_sessions_under_metallb_names_and_forgotten_when_gone() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        let mut status = ferrolb_bfd::shell::SessionStatus {
            state: ferrolb_bfd::wire::SessionState::Up,
            remote_state: ferrolb_bfd::wire::SessionState::Up,
            diag: ferrolb_bfd::wire::Diagnostic::NoDiagnostic,
            local_discriminator: 1,
            remote_discriminator: 2,
            up_events: 2,
            down_events: 1,
            since: None,
        };
        let bfd = BfdState {
            status: status.clone(),
            packets_in: 40,
            packets_out: 41,
        };
        m.bfd_sessions([("10.0.0.1".to_string(), &bfd)]);
        let t = text(&registry);
        for line in [
            "metallb_bfd_session_up{peer=\"10.0.0.1\"} 1",
            "metallb_bfd_session_up_events{peer=\"10.0.0.1\"} 2",
            "metallb_bfd_session_down_events{peer=\"10.0.0.1\"} 1",
            "metallb_bfd_control_packet_input{peer=\"10.0.0.1\"} 40",
            "metallb_bfd_control_packet_output{peer=\"10.0.0.1\"} 41",
        ] {
            assert!(t.contains(line), "{line} missing from\n{t}");
        }
        status.state = ferrolb_bfd::wire::SessionState::Down;
        let down = BfdState { status, ..bfd };
        m.bfd_sessions([("10.0.0.1".to_string(), &down)]);
        assert!(text(&registry).contains("metallb_bfd_session_up{peer=\"10.0.0.1\"} 0"));
        m.bfd_sessions([]);
        assert!(!text(&registry).contains("peer=\"10.0.0.1\""));
    }

    #[test]
    fn metallb_names_counters_that_survive_restarts_and_forgetting() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        let status = |updates, prefixes| PeerStatus {
            state: State::Established,
            updates_sent: updates,
            prefixes_announced: prefixes,
            ..PeerStatus::default()
        };
        m.sessions([("10.0.0.1".to_string(), &status(5, 2))]);
        m.sessions([("10.0.0.1".to_string(), &status(7, 3))]);
        // The session restarted: its count began again at 1.
        m.sessions([("10.0.0.1".to_string(), &status(1, 3))]);
        let t = text(&registry);
        assert!(
            t.contains("metallb_bgp_session_up{peer=\"10.0.0.1\"} 1"),
            "{t}"
        );
        assert!(
            t.contains("metallb_bgp_updates_total{peer=\"10.0.0.1\"} 8"),
            "{t}"
        );
        assert!(
            t.contains("metallb_bgp_announced_prefixes_total{peer=\"10.0.0.1\"} 3"),
            "{t}"
        );
        m.sessions([]);
        assert!(!text(&registry).contains("10.0.0.1"));

        let web = ServiceKey::new("shop", "web");
        let ip = "10.1.0.1".parse().unwrap();
        m.announced_changed("n1", "bgp", [], [(&web, ip)]);
        m.announced_changed("n1", "layer2", [], [(&web, ip)]);
        m.announced_changed("n1", "layer2", [(&web, ip)], []);
        let t = text(&registry);
        assert!(
            t.contains(
                "metallb_speaker_announced{ip=\"10.1.0.1\",node=\"n1\",protocol=\"bgp\",service=\"shop/web\"} 1"
            ),
            "{t}"
        );
        m.announced_changed("n1", "bgp", [(&web, ip)], []);
        assert!(!text(&registry).contains("shop/web"));
    }

    #[test]
    fn layer2_ownership_changes_count_each_address_taken_and_released() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        let count = |change: &str| {
            let t = text(&registry);
            let prefix = format!("ferrolb_layer2_ownership_changes_total{{change=\"{change}\"}} ");
            t.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .map(|v| v.to_string())
                .unwrap_or_else(|| panic!("no {prefix}in\n{t}"))
        };
        // Exported before any change, so that rate() sees the first one.
        assert_eq!(
            (count("taken"), count("released")),
            ("0".into(), "0".into())
        );
        let (web, db) = (
            ServiceKey::new("shop", "web"),
            ServiceKey::new("shop", "db"),
        );
        let (a, b) = ("10.1.0.1".parse().unwrap(), "10.1.0.2".parse().unwrap());
        m.announced_changed("n1", LAYER2, [], [(&web, a), (&db, b)]);
        m.announced_changed("n1", LAYER2, [(&web, a), (&db, b)], [(&web, a), (&db, b)]);
        assert_eq!(
            (count("taken"), count("released")),
            ("2".into(), "0".into())
        );
        m.announced_changed("n1", LAYER2, [(&web, a), (&db, b)], [(&web, a)]);
        // BGP announcements are no Layer-2 ownership.
        m.announced_changed("n1", "bgp", [], [(&db, b)]);
        m.announced_changed("n1", "bgp", [(&db, b)], []);
        assert_eq!(
            (count("taken"), count("released")),
            ("2".into(), "1".into())
        );
    }

    #[test]
    fn addresses_in_conflict_per_interface_come_and_go() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        m.layer2_in_conflict("eth0", 2);
        let t = text(&registry);
        assert!(
            t.contains("ferrolb_layer2_addresses_in_conflict{interface=\"eth0\"} 2"),
            "{t}"
        );
        m.layer2_in_conflict("eth0", 0);
        let t = text(&registry);
        assert!(!t.contains("interface=\"eth0\""), "{t}");
    }
}
