//! Which decisions changed since the last pass, and which of those changes
//! deserve an Event: a service this node starts announcing (`nodeAssigned`,
//! as MetalLB) and an address that cannot be announced because of the
//! configuration (`announceFailed`). Everything else is a log line.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::decide::{Explanation, Reason, ServiceKey, Verdict};

/// An Event worth publishing on the Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// This node started announcing the service.
    NodeAssigned,
    /// An address cannot be announced because of the configuration.
    AnnounceFailed,
}

impl NoticeKind {
    /// The Event reason, MetalLB's spelling.
    pub fn reason(self) -> &'static str {
        match self {
            NoticeKind::NodeAssigned => "nodeAssigned",
            NoticeKind::AnnounceFailed => "announceFailed",
        }
    }

    pub fn is_warning(self) -> bool {
        matches!(self, NoticeKind::AnnounceFailed)
    }
}

/// A changed decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub service: ServiceKey,
    pub address: IpAddr,
    pub verdict: Verdict,
    /// The Event to publish, if the change deserves one.
    pub event: Option<NoticeKind>,
}

/// The decisions of `explanations` that differ from `previous` (the last
/// pass's). The last pass's plan is the memory: nothing here keeps a
/// second copy of it (one verdict per address, about half a kilobyte per
/// Service).
pub fn notices(previous: &[Explanation], explanations: &[Explanation]) -> Vec<Notice> {
    let last: BTreeMap<(&ServiceKey, IpAddr), &Verdict> = previous
        .iter()
        .map(|e| ((&e.service, e.address), &e.verdict))
        .collect();
    let announced_before: BTreeSet<&ServiceKey> = last
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Announced { .. }))
        .map(|((s, _), _)| *s)
        .collect();
    let mut assigned = BTreeSet::new();
    let mut notices = Vec::new();
    for e in explanations {
        if last.get(&(&e.service, e.address)) == Some(&&e.verdict) {
            continue;
        }
        let event = match &e.verdict {
            Verdict::Announced { .. }
                if !announced_before.contains(&e.service) && assigned.insert(&e.service) =>
            {
                Some(NoticeKind::NodeAssigned)
            }
            Verdict::NotAnnounced(reason) if is_failure(reason) => Some(NoticeKind::AnnounceFailed),
            _ => None,
        };
        notices.push(Notice {
            service: e.service.clone(),
            address: e.address,
            verdict: e.verdict.clone(),
            event,
        });
    }
    notices
}

/// Reasons that mean the configuration does not do what the user meant,
/// rather than the service rightly not being announced from this node.
fn is_failure(reason: &Reason) -> bool {
    matches!(
        reason,
        Reason::NotInAnyPool
            | Reason::NoPeer { .. }
            | Reason::NoPeerOfFamily { .. }
            | Reason::ConflictingLocalPref { .. }
            | Reason::SharedIpWithServiceSelectors
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(service: &str, address: &str, verdict: Verdict) -> Explanation {
        Explanation {
            service: ServiceKey::new("shop", service),
            address: address.parse().unwrap(),
            verdict,
        }
    }

    fn to(peer: &str) -> Verdict {
        Verdict::Announced {
            peers: std::sync::Arc::new([peer.to_string()].into()),
        }
    }

    fn events(notices: &[Notice]) -> Vec<(String, Option<NoticeKind>)> {
        notices
            .iter()
            .map(|n| (format!("{}@{}", n.service.name(), n.address), n.event))
            .collect()
    }

    /// The passes' plans in turn, each noticed against the one before.
    #[derive(Default)]
    struct Passes(Vec<Explanation>);

    impl Passes {
        fn update(&mut self, plan: &[Explanation]) -> Vec<Notice> {
            let out = notices(&self.0, plan);
            self.0 = plan.to_vec();
            out
        }
    }

    #[test]
    fn only_changes_are_noticed_and_only_some_are_events() {
        let mut notices = Passes::default();
        let first = notices.update(&[
            e("web", "10.0.0.1", to("r1")),
            e("web", "fd00::1", to("r1")),
            e(
                "db",
                "10.0.0.2",
                Verdict::NotAnnounced(Reason::NotInAnyPool),
            ),
            e(
                "idle",
                "10.0.0.3",
                Verdict::NotAnnounced(Reason::NoReadyEndpoint),
            ),
        ]);
        assert_eq!(
            events(&first),
            [
                ("web@10.0.0.1".into(), Some(NoticeKind::NodeAssigned)),
                ("web@fd00::1".into(), None),
                ("db@10.0.0.2".into(), Some(NoticeKind::AnnounceFailed)),
                ("idle@10.0.0.3".into(), None),
            ],
            "one nodeAssigned per service; no endpoint is not a failure"
        );
        let same = notices.update(&[
            e("web", "10.0.0.1", to("r1")),
            e("web", "fd00::1", to("r1")),
        ]);
        assert!(same.is_empty(), "{same:?}");
        let moved = notices.update(&[
            e("web", "10.0.0.1", to("r2")),
            e("web", "fd00::1", to("r1")),
        ]);
        assert_eq!(
            events(&moved),
            [("web@10.0.0.1".into(), None)],
            "still announced: no second nodeAssigned"
        );
        notices.update(&[]);
        let back = notices.update(&[e("web", "10.0.0.1", to("r1"))]);
        assert_eq!(
            events(&back),
            [("web@10.0.0.1".into(), Some(NoticeKind::NodeAssigned))]
        );
    }
}
