//! The Layer-2 membership's counters and view as metrics
//! (`ferrolb_membership_*`), read from the membership thread's last
//! report at each scrape: nothing is copied on the heartbeats' path.
//! MetalLB's memberlist exports none; these are FerroLB's own.

use std::sync::{Arc, Mutex};

use ferrolb_l2::membership::{Stats, View};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use tokio::sync::watch;

use super::lock;

/// The membership of this node, followed across its restarts (it stops
/// while this node is the only member, and starts again with the next).
#[derive(Debug, Clone, Default)]
pub struct MembershipMetrics(Arc<Mutex<Followed>>);

#[derive(Debug, Default)]
struct Followed {
    /// What memberships that have stopped counted, so that no counter
    /// goes back when a new one starts.
    ended: Stats,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    stats: watch::Receiver<Stats>,
    view: watch::Receiver<View>,
}

impl MembershipMetrics {
    /// Reports a membership that has started.
    pub fn follow(&self, stats: watch::Receiver<Stats>, view: watch::Receiver<View>) {
        let mut followed = lock(&self.0);
        followed.end();
        followed.running = Some(Running { stats, view });
    }

    /// Keeps the counts of the membership that has stopped; no member
    /// gauge until the next one starts.
    pub fn stopped(&self) {
        lock(&self.0).end();
    }
}

impl Followed {
    fn end(&mut self) {
        if let Some(running) = self.running.take() {
            let last = *running.stats.borrow();
            self.ended.add(&last);
        }
    }

    fn totals(&self) -> Stats {
        let mut totals = self.ended;
        if let Some(running) = &self.running {
            totals.add(&running.stats.borrow());
        }
        totals
    }
}

const PREFIX: &str = "ferrolb_membership_";

/// A counter family written out at a scrape: `(label value, count)`.
fn counters<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    values: impl IntoIterator<Item = (&'a str, u64)>,
) -> Result<(), std::fmt::Error> {
    let name = format!("{PREFIX}{name}");
    let mut family = encoder.encode_descriptor(&name, help, None, MetricType::Counter)?;
    for (value, count) in values {
        let labels = [(label, value)];
        ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    count: u64,
) -> Result<(), std::fmt::Error> {
    let name = format!("{PREFIX}{name}");
    ConstCounter::new(count).encode(encoder.encode_descriptor(
        &name,
        help,
        None,
        MetricType::Counter,
    )?)
}

impl Collector for MembershipMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (stats, view) = {
            let followed = lock(&self.0);
            let view = followed.running.as_ref().map(|r| r.view.borrow().clone());
            (followed.totals(), view)
        };
        let e = &mut encoder;
        counters(
            e,
            "datagrams_sent",
            "Membership datagrams this node sent, by kind",
            "kind",
            stats.sent_by_kind.iter().map(|(k, n)| (k.name(), n)),
        )?;
        counters(
            e,
            "datagrams_received",
            "Membership datagrams this node took in (authentic, from a member, not a replay), by kind",
            "kind",
            stats.received_by_kind.iter().map(|(k, n)| (k.name(), n)),
        )?;
        counters(
            e,
            "datagrams_rejected",
            "Membership datagrams this node dropped, by reason (unauthenticated: another memberlist secret key)",
            "reason",
            [
                ("unauthenticated", stats.unauthenticated),
                ("malformed", stats.malformed),
                ("replayed", stats.replayed),
                ("stale", stats.stale),
                ("unknown_sender", stats.unknown_sender),
            ],
        )?;
        counter(
            e,
            "suspicions",
            "Members this node began to suspect",
            stats.suspected,
        )?;
        counter(
            e,
            "deaths",
            "Members this node declared dead",
            stats.declared_dead,
        )?;
        counter(
            e,
            "vouches",
            "Vouches from other members that put off a death verdict of this node's",
            stats.vouched,
        )?;
        counter(
            e,
            "hosts_answered",
            "Suspected members whose host answered this node's probe (a stalled speaker, not a dead one)",
            stats.hosts_up,
        )?;
        counter(
            e,
            "stalls",
            "Times this node's membership thread ran later than its timers asked, beyond the jitter",
            stats.stalls,
        )?;
        let longest = ConstGauge::new(stats.longest_stall_us as f64 / 1e6);
        longest.encode(e.encode_descriptor(
            &format!("{PREFIX}longest_stall_seconds"),
            "The longest of those stalls",
            None,
            MetricType::Gauge,
        )?)?;
        counters(
            e,
            "fence_tellings",
            "\"My fence is closed\" datagrams: sent by this node, taken from others, or left alone (an older life, overtaken)",
            "direction",
            [
                ("sent", stats.fence_told),
                ("taken", stats.fence_heard),
                ("ignored", stats.fence_ignored),
            ],
        )?;
        counter(
            e,
            "swim_errors",
            "SWIM messages the membership could not use",
            stats.swim_errors,
        )?;
        if let Some(view) = view {
            let count = |n: usize| ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX));
            let name = format!("{PREFIX}members");
            let mut family = e.encode_descriptor(
                &name,
                "Members as this node sees them, itself included: reachable (it hears them), alive (not declared dead), fenced (they said their fence is closed)",
                None,
                MetricType::Gauge,
            )?;
            for (state, n) in [
                ("reachable", view.reachable.len()),
                ("alive", view.alive.len()),
                ("fenced", view.fenced.len()),
            ] {
                count(n).encode(family.encode_family(&[("state", state)])?)?;
            }
            let apart = ConstGauge::new(i64::try_from(stats.at_another_pace).unwrap_or(i64::MAX));
            apart.encode(e.encode_descriptor(
                &format!("{PREFIX}members_at_another_pace"),
                "Members heart-beating at another pace than this node (another --ml-heartbeat), at the last look (every 10 s): the faster of two suspects the slower",
                None,
                MetricType::Gauge,
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use ferrolb_l2::membership::wire::Body;
    use prometheus_client::registry::Registry;

    use super::super::tests::text;
    use super::*;

    fn value<'a>(text: &'a str, sample: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
    }

    fn view(reachable: &[&str], alive: &[&str]) -> View {
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        View {
            reachable: set(reachable),
            alive: set(alive),
            hardware: BTreeMap::new(),
            fenced: BTreeSet::new(),
        }
    }

    /// Counters as a membership that exchanged heartbeats would count
    /// them: through its own core, not set by hand.
    fn stats(heartbeats_in: u64) -> Stats {
        use ferrolb_l2::membership::wire::{Datagram, Header, Key};
        use ferrolb_l2::membership::{Input, Membership, MembershipTiming};
        let key = Key::new(b"k".to_vec());
        let now = std::time::Instant::now();
        let mut m = Membership::new("a", key.clone(), MembershipTiming::default(), now, 1);
        m.handle(now, Input::SetKnown(["a", "b"].map(String::from).into()));
        for sequence in 1..=heartbeats_in {
            let datagram = Datagram {
                header: Header {
                    sender: "b".into(),
                    incarnation: 1,
                    sequence,
                },
                body: Body::Heartbeat,
            };
            m.handle(now, Input::Received(datagram.seal(&key)));
        }
        let forged = Datagram {
            header: Header {
                sender: "b".into(),
                incarnation: 1,
                sequence: 99,
            },
            body: Body::Heartbeat,
        };
        m.handle(
            now,
            Input::Received(forged.seal(&Key::new(b"other".to_vec()))),
        );
        m.stats()
    }

    #[test]
    fn counters_carry_over_a_restart_and_members_show_while_it_runs() {
        let mut registry = Registry::default();
        let metrics = MembershipMetrics::default();
        registry.register_collector(Box::new(metrics.clone()));
        let received = "ferrolb_membership_datagrams_received_total{kind=\"heartbeat\"}";
        let rejected = "ferrolb_membership_datagrams_rejected_total{reason=\"unauthenticated\"}";
        let alive = "ferrolb_membership_members{state=\"alive\"}";
        let apart = "ferrolb_membership_members_at_another_pace";
        // Before any membership: zero counters, no member gauge.
        let t = text(&registry);
        assert_eq!(value(&t, received), Some("0"), "{t}");
        assert_eq!(value(&t, alive), None, "{t}");

        let (stats_tx, stats_rx) = watch::channel(stats(3));
        let (_view_tx, view_rx) = watch::channel(view(&["a", "b"], &["a", "b"]));
        metrics.follow(stats_rx, view_rx);
        let t = text(&registry);
        assert_eq!(value(&t, received), Some("3"), "{t}");
        assert_eq!(value(&t, rejected), Some("1"), "{t}");
        assert_eq!(value(&t, alive), Some("2"), "{t}");
        assert_eq!(value(&t, apart), Some("0"), "{t}");
        // The driver found a member at another pace.
        stats_tx.send_modify(|s| s.at_another_pace = 1);
        assert_eq!(value(&text(&registry), apart), Some("1"));
        assert!(t.contains("# TYPE ferrolb_membership_datagrams_received counter"));

        stats_tx.send_replace(Stats {
            at_another_pace: 1,
            ..stats(5)
        });
        metrics.stopped();
        let t = text(&registry);
        assert_eq!(value(&t, received), Some("5"), "{t}");
        assert_eq!(value(&t, alive), None, "stopped: {t}");
        assert_eq!(value(&t, apart), None, "stopped: {t}");

        // A new membership counts from zero; the sum goes on.
        let (_stats_tx, stats_rx) = watch::channel(stats(2));
        let (_view_tx, view_rx) = watch::channel(view(&["a"], &["a", "b"]));
        metrics.follow(stats_rx, view_rx);
        let t = text(&registry);
        assert_eq!(value(&t, received), Some("7"), "{t}");
        assert_eq!(value(&t, apart), Some("0"), "the stopped one's look: {t}");
        assert_eq!(value(&t, rejected), Some("2"), "{t}");
        assert_eq!(
            value(&t, "ferrolb_membership_members{state=\"reachable\"}"),
            Some("1"),
            "{t}"
        );
    }
}
