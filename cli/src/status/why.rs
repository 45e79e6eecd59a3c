//! `ferrolb status why NS/NAME`: the chain of decisions for one Service,
//! from its spec through the controller's allocation and the pool's
//! advertisements to each node's speaker and its BGP sessions.

use std::collections::BTreeSet;

use super::services::{
    allocation_failure, events_of, node_reasons_of, row, short_failure, speaker_failures,
};
use super::sessions::human_duration;
use super::snapshot::{NodeReason, Reporter, Service, Snapshot};
use super::view::{API_VERSION, Mode, Outcome, ServiceState, Step, WhyView};

/// Recorded reasons that mean something is wrong, not a node rightly
/// staying silent (`speaker::decide::Reason::code`, and the conflict).
const FAILURES: &[&str] = &[
    "AddressInUse",
    "NoInterface",
    "Fenced",
    "NoPeer",
    "NoPeerOfFamily",
    "NotInAnyPool",
    "ConflictingLocalPref",
    "SharedIpWithServiceSelectors",
    "NoCommonCandidate",
];

/// Events shown at the end of the chain: the most recent ones.
const EVENTS_SHOWN: usize = 10;

pub fn why_view(snap: &Snapshot, svc: &Service) -> WhyView {
    let service = row(snap, svc);
    let mut steps = vec![spec_step(svc)];
    steps.push(configuration_step(snap));
    steps.push(allocation_step(
        snap,
        svc,
        service.state,
        service.reason.as_deref(),
    ));
    if let Some(pool) = &svc.allocated_from {
        steps.extend(pool_steps(snap, pool));
    }
    if !svc.addresses.is_empty() {
        steps.extend(node_steps(snap, svc, &service.modes));
    }
    let events = events_of(snap, svc);
    let skip = events.len().saturating_sub(EVENTS_SHOWN);
    steps.extend(events.into_iter().skip(skip).map(|e| Step {
        stage: "event",
        subject: match &e.reporter {
            Reporter::Controller => "controller".into(),
            Reporter::Speaker(node) => format!("speaker {node}"),
        },
        outcome: if e.warning {
            Outcome::Warning
        } else {
            Outcome::Info
        },
        detail: format!("{}: {}", e.reason, e.message),
    }));
    WhyView {
        api_version: API_VERSION,
        kind: "Why",
        service,
        steps,
    }
}

fn spec_step(svc: &Service) -> Step {
    let mut detail = format!("externalTrafficPolicy {}", svc.traffic_policy);
    if let Some(p) = &svc.requested_pool {
        detail.push_str(&format!("; asks for pool {p}"));
    }
    if !svc.requested_addresses.is_empty() {
        detail.push_str(&format!(
            "; asks for {}",
            svc.requested_addresses.join(", ")
        ));
    }
    if let Some(c) = &svc.lb_class {
        detail.push_str(&format!("; loadBalancerClass {c}"));
    }
    Step {
        stage: "service",
        subject: svc.key(),
        outcome: Outcome::Info,
        detail,
    }
}

fn configuration_step(snap: &Snapshot) -> Step {
    let (outcome, detail) = match &snap.controller {
        Some(c) if c.result == "Valid" => (Outcome::Ok, "the controller accepts it".to_string()),
        Some(c) => (
            Outcome::Failed,
            format!(
                "the controller reports {}: {}",
                c.result,
                c.errors.join("; ")
            ),
        ),
        None => (
            Outcome::Warning,
            "no controller has reported (ConfigurationState controller missing)".to_string(),
        ),
    };
    Step {
        stage: "configuration",
        subject: "controller".into(),
        outcome,
        detail,
    }
}

fn allocation_step(
    snap: &Snapshot,
    svc: &Service,
    state: ServiceState,
    reason: Option<&str>,
) -> Step {
    let (outcome, detail) = if state == ServiceState::Pending {
        (Outcome::Failed, reason.unwrap_or_default().to_string())
    } else {
        let addresses: Vec<String> = svc.addresses.iter().map(ToString::to_string).collect();
        let mut detail = format!("assigned {}", addresses.join(", "));
        if let Some(p) = &svc.allocated_from {
            detail.push_str(&format!(" from pool {p}"));
        }
        // A refusal after the assignment (e.g. a new request the pools
        // cannot meet) leaves the old address in place: say so.
        if let Some(e) = allocation_failure(snap, svc) {
            detail.push_str(&format!(
                "; the latest request was refused: {}",
                short_failure(&e.message)
            ));
            (Outcome::Warning, detail)
        } else {
            (Outcome::Ok, detail)
        }
    };
    Step {
        stage: "allocation",
        subject: "controller".into(),
        outcome,
        detail,
    }
}

fn pool_steps(snap: &Snapshot, pool: &str) -> Vec<Step> {
    let step = |outcome, detail| Step {
        stage: "pool",
        subject: pool.to_string(),
        outcome,
        detail,
    };
    if !snap.config.pools.contains_key(pool) {
        return vec![step(
            Outcome::Failed,
            "no such IPAddressPool any more: the address is orphaned".into(),
        )];
    }
    let names = |it: &mut dyn Iterator<Item = &str>| it.collect::<Vec<_>>().join(", ");
    let bgp = names(
        &mut snap
            .config
            .bgp_advertisements_for(pool)
            .map(|a| a.name.as_str()),
    );
    let l2 = names(
        &mut snap
            .config
            .l2_advertisements_for(pool)
            .map(|a| a.name.as_str()),
    );
    let detail = match (bgp.is_empty(), l2.is_empty()) {
        (true, true) => {
            return vec![step(
                Outcome::Failed,
                "no L2Advertisement or BGPAdvertisement selects it".into(),
            )];
        }
        (false, true) => format!("announced by BGP (BGPAdvertisement {bgp})"),
        (true, false) => format!("announced by layer 2 (L2Advertisement {l2})"),
        (false, false) => {
            format!("announced by BGP (BGPAdvertisement {bgp}) and layer 2 (L2Advertisement {l2})")
        }
    };
    vec![step(Outcome::Ok, detail)]
}

/// One step per node that left a trace, then its sessions.
fn node_steps(snap: &Snapshot, svc: &Service, modes: &[Mode]) -> Vec<Step> {
    let mine = |ns: &str, name: &str| ns == svc.namespace && name == svc.name;
    let failures = speaker_failures(snap, svc);
    let recorded = node_reasons_of(snap, svc);
    let l2_owners: Vec<&str> = snap
        .l2_statuses
        .iter()
        .filter(|s| mine(&s.namespace, &s.service))
        .map(|s| s.node.as_str())
        .collect();
    let nodes: BTreeSet<&str> = snap
        .bgp_statuses
        .iter()
        .map(|s| s.node.as_str())
        .chain(snap.l2_statuses.iter().map(|s| s.node.as_str()))
        .chain(snap.sessions.iter().map(|s| s.node.as_str()))
        .chain(failures.keys().map(String::as_str))
        .chain(recorded.iter().map(|r| r.node.as_str()))
        .collect();
    if nodes.is_empty() {
        return vec![Step {
            stage: "node",
            subject: "*".into(),
            outcome: Outcome::Failed,
            detail: "no FerroLB speaker has reported (are the speakers running?)".into(),
        }];
    }
    let mut steps = Vec::new();
    for node in nodes {
        let node_step = |outcome, detail| Step {
            stage: "node",
            subject: node.to_string(),
            outcome,
            detail,
        };
        let bgp = snap
            .bgp_statuses
            .iter()
            .find(|s| s.node == node && mine(&s.namespace, &s.service) && !s.peers.is_empty());
        let l2 = snap
            .l2_statuses
            .iter()
            .find(|s| s.node == node && mine(&s.namespace, &s.service));
        if let Some(b) = bgp {
            let up = snap
                .sessions
                .iter()
                .any(|s| s.node == node && b.peers.contains(&s.peer) && s.is_established());
            let known = snap
                .sessions
                .iter()
                .any(|s| s.node == node && b.peers.contains(&s.peer));
            steps.push(if up || !known {
                node_step(
                    Outcome::Ok,
                    format!("advertises it by BGP to {}", b.peers.join(", ")),
                )
            } else {
                node_step(
                    Outcome::Warning,
                    format!(
                        "advertises it by BGP to {}, but no session to them is Established: the routers do not have it from this node",
                        b.peers.join(", ")
                    ),
                )
            });
        }
        if let Some(l) = l2 {
            steps.push(node_step(
                Outcome::Ok,
                format!(
                    "owns it in layer 2: answers ARP/NDP on {}",
                    if l.interfaces.is_empty() {
                        "every eligible interface".to_string()
                    } else {
                        l.interfaces.join(", ")
                    }
                ),
            ));
        }
        let mine: Vec<&&NodeReason> = recorded.iter().filter(|r| r.node == node).collect();
        for r in &mine {
            let outcome = if FAILURES.contains(&r.reason.as_str()) {
                Outcome::Failed
            } else {
                Outcome::Info
            };
            let protocol = if r.protocol == "bgp" {
                "BGP"
            } else {
                "layer 2"
            };
            steps.push(node_step(
                outcome,
                format!("does not announce it by {protocol}: {}", r.line()),
            ));
        }
        if bgp.is_none() && l2.is_none() && mine.is_empty() {
            let step = if let Some(message) = failures.get(node) {
                node_step(Outcome::Failed, message.clone())
            } else if snap.omitted_reasons.iter().any(|n| n == node) {
                node_step(
                    Outcome::Info,
                    "does not announce it; its NodeAnnouncementState lists too many Services to name this one".into(),
                )
            } else if modes.contains(&Mode::L2) && !l2_owners.is_empty() {
                node_step(
                    Outcome::Info,
                    format!(
                        "does not answer for it: {} owns it (one node per address in layer 2)",
                        l2_owners.join(", ")
                    ),
                )
            } else {
                node_step(
                    Outcome::Info,
                    "does not announce it and recorded no reason (its speaker does not serve this Service, or predates NodeAnnouncementState)"
                        .into(),
                )
            };
            steps.push(step);
        }
        if modes.contains(&Mode::Bgp) {
            steps.extend(session_steps(snap, node, bgp.map(|b| &b.peers[..])));
        }
    }
    steps
}

/// The node's sessions: to the peers it advertises the Service to when it
/// does, else all of them.
fn session_steps(snap: &Snapshot, node: &str, peers: Option<&[String]>) -> Vec<Step> {
    snap.sessions
        .iter()
        .filter(|s| s.node == node && peers.is_none_or(|p| p.contains(&s.peer)))
        .map(|s| {
            let (outcome, detail) = if s.is_established() {
                let uptime = s
                    .established_since
                    .map(|since| {
                        format!(
                            " for {}",
                            human_duration(snap.now.duration_since(since).as_secs().max(0) as u64)
                        )
                    })
                    .unwrap_or_default();
                (
                    Outcome::Ok,
                    format!("Established{uptime}, {} prefixes sent", s.prefixes_sent),
                )
            } else {
                let mut detail = s.state.clone();
                if !s.last_error.is_empty() {
                    detail.push_str(&format!(": {}", s.last_error));
                }
                (
                    if peers.is_some() {
                        Outcome::Warning
                    } else {
                        Outcome::Failed
                    },
                    detail,
                )
            };
            Step {
                stage: "session",
                subject: format!("{node} → {}", s.peer),
                outcome,
                detail,
            }
        })
        .collect()
}
