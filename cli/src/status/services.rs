//! The Services table: what each `LoadBalancer` Service got, who announces
//! it, and the one-line reason when something is missing. The reasons come
//! from what the components recorded (Events, status objects, sessions),
//! never from guessing what they would decide.

use std::collections::BTreeMap;

use super::snapshot::{
    ADDRESS_IN_USE, ALLOCATION_FAILED, ANNOUNCE_FAILED, CLEAR_ASSIGNMENT, Event, IP_ALLOCATED,
    NodeReason, Reporter, Service, Session, Snapshot,
};
use super::view::{
    API_VERSION, BgpAnnouncer, L2Announcer, Mode, ServiceRow, ServiceState, ServicesView,
};

/// `ferrolb status`.
pub fn services_view(snap: &Snapshot) -> ServicesView {
    let mut services: Vec<ServiceRow> = snap.services.iter().map(|s| row(snap, s)).collect();
    services.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    ServicesView {
        api_version: API_VERSION,
        kind: "Services",
        services,
        warnings: configuration_warnings(snap),
    }
}

/// An invalid configuration affects every Service: said once, above them.
pub fn configuration_warnings(snap: &Snapshot) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(c) = &snap.controller
        && c.result == "Invalid"
    {
        warnings.push(format!(
            "the controller rejects the configuration: {}",
            c.errors.join("; ")
        ));
    }
    if !snap.config_errors.is_empty() {
        warnings.push(format!(
            "the configuration does not compile: {}",
            snap.config_errors.join("; ")
        ));
    }
    warnings
}

/// One Service's row.
pub fn row(snap: &Snapshot, svc: &Service) -> ServiceRow {
    let bgp: Vec<BgpAnnouncer> = snap
        .bgp_statuses
        .iter()
        .filter(|s| s.namespace == svc.namespace && s.service == svc.name && !s.peers.is_empty())
        .map(|s| BgpAnnouncer {
            node: s.node.clone(),
            peers: s.peers.clone(),
        })
        .collect();
    let l2: Vec<L2Announcer> = snap
        .l2_statuses
        .iter()
        .filter(|s| s.namespace == svc.namespace && s.service == svc.name)
        .map(|s| L2Announcer {
            node: s.node.clone(),
            interfaces: s.interfaces.clone(),
        })
        .collect();
    let pool = svc.allocated_from.clone();
    let mut modes = pool
        .as_deref()
        .map(|p| pool_modes(snap, p))
        .unwrap_or_default();
    if !bgp.is_empty() && !modes.contains(&Mode::Bgp) {
        modes.push(Mode::Bgp);
    }
    if !l2.is_empty() && !modes.contains(&Mode::L2) {
        modes.push(Mode::L2);
    }
    modes.sort();
    let (state, reason) = if svc.addresses.is_empty() {
        (ServiceState::Pending, Some(pending_reason(snap, svc)))
    } else if bgp.is_empty() && l2.is_empty() {
        (
            ServiceState::NotAnnounced,
            Some(not_announced_reason(snap, svc, &modes)),
        )
    } else {
        (
            ServiceState::Announced,
            degraded_reason(snap, svc, &modes, &bgp, &l2),
        )
    };
    ServiceRow {
        namespace: svc.namespace.clone(),
        name: svc.name.clone(),
        state,
        addresses: svc.addresses.iter().map(ToString::to_string).collect(),
        pool,
        modes,
        bgp,
        l2,
        reason,
    }
}

/// How `pool` is announced: by the kinds of advertisements that select it.
pub fn pool_modes(snap: &Snapshot, pool: &str) -> Vec<Mode> {
    let mut modes = Vec::new();
    if snap.config.bgp_advertisements_for(pool).next().is_some() {
        modes.push(Mode::Bgp);
    }
    if snap.config.l2_advertisements_for(pool).next().is_some() {
        modes.push(Mode::L2);
    }
    modes
}

/// The Events about `svc`, oldest first.
pub fn events_of<'a>(snap: &'a Snapshot, svc: &Service) -> Vec<&'a Event> {
    let mut events: Vec<&Event> = snap
        .events
        .iter()
        .filter(|e| e.namespace == svc.namespace && e.service == svc.name)
        .collect();
    events.sort_by_key(|e| e.time);
    events
}

/// The controller's last word on the Service's allocation, if it is a
/// refusal: an `AllocationFailed` not followed by an allocation.
pub fn allocation_failure<'a>(snap: &'a Snapshot, svc: &Service) -> Option<&'a Event> {
    events_of(snap, svc)
        .into_iter()
        .rfind(|e| {
            e.reporter == Reporter::Controller
                && [ALLOCATION_FAILED, IP_ALLOCATED, CLEAR_ASSIGNMENT].contains(&e.reason.as_str())
        })
        .filter(|e| e.reason == ALLOCATION_FAILED)
}

/// The controller's message without its `Failed to allocate IP for ns/name: `
/// preamble, which the row already says.
pub fn short_failure(message: &str) -> &str {
    message
        .split_once(": ")
        .filter(|(head, _)| head.starts_with("Failed to allocate IP for "))
        .map_or(message, |(_, rest)| rest)
}

fn pending_reason(snap: &Snapshot, svc: &Service) -> String {
    if let Some(e) = allocation_failure(snap, svc) {
        return short_failure(&e.message).to_string();
    }
    if let Some(class) = &svc.lb_class {
        return format!(
            "loadBalancerClass is {class}: served only by a controller started with --lb-class {class}"
        );
    }
    if snap
        .controller
        .as_ref()
        .is_some_and(|c| c.result == "Invalid")
    {
        return "the controller rejects the configuration (see the warning above)".into();
    }
    match &snap.controller {
        None => "no FerroLB controller has reported (is ferrolb-controller running?)".into(),
        Some(_) => "waiting for the controller (no allocation decision recorded yet)".into(),
    }
}

/// Why no node announces an assigned address, from the most to the least
/// specific record.
fn not_announced_reason(snap: &Snapshot, svc: &Service, modes: &[Mode]) -> String {
    let pool = svc.allocated_from.as_deref();
    match pool {
        Some(p) if !snap.config.pools.contains_key(p) => {
            return format!("pool {p} no longer exists: the address is orphaned");
        }
        None => return "the address comes from no IPAddressPool (orphaned)".into(),
        Some(p) if modes.is_empty() => {
            return format!("no L2Advertisement or BGPAdvertisement selects pool {p}");
        }
        Some(_) => {}
    }
    let failures = speaker_failures(snap, svc);
    if let Some((node, message)) = failures.iter().next() {
        return format!("{node}: {message}");
    }
    let recorded = node_reasons_of(snap, svc);
    if !recorded.is_empty() {
        let summary = summarise(&recorded);
        return if modes.contains(&Mode::L2) {
            format!("no node owns it in layer 2 (no ServiceL2Status): {summary}")
        } else {
            summary
        };
    }
    if modes == [Mode::Bgp] {
        let sessions: Vec<_> = snap.sessions.iter().collect();
        if !sessions.is_empty() && sessions.iter().all(|s| !s.is_established()) {
            return session_line(sessions[0]);
        }
    }
    if !speakers_reported(snap) {
        return "no FerroLB speaker has reported (are the speakers running?)".into();
    }
    "no speaker announces it and none recorded why (see `ferrolb status why`)".into()
}

/// The last `announceFailed` of each node whose speaker has not announced
/// the Service since.
pub fn speaker_failures(snap: &Snapshot, svc: &Service) -> BTreeMap<String, String> {
    let mut last: BTreeMap<String, &Event> = BTreeMap::new();
    for e in events_of(snap, svc) {
        if let Reporter::Speaker(node) = &e.reporter {
            last.insert(node.clone(), e);
        }
    }
    last.into_iter()
        .filter(|(_, e)| e.reason == ANNOUNCE_FAILED)
        .map(|(node, e)| (node, e.message.clone()))
        .collect()
}

/// Whether any speaker left a trace: a status object, a session, an Event.
pub fn speakers_reported(snap: &Snapshot) -> bool {
    !snap.bgp_statuses.is_empty()
        || !snap.l2_statuses.is_empty()
        || !snap.sessions.is_empty()
        || snap
            .events
            .iter()
            .any(|e| matches!(e.reporter, Reporter::Speaker(_)))
}

/// `peer r1 session Active on n1: connection refused`.
fn session_line(s: &Session) -> String {
    let mut line = format!("peer {} session {} on {}", s.peer, s.state, s.node);
    if !s.last_error.is_empty() {
        line.push_str(&format!(": {}", s.last_error));
    }
    line
}

/// What each node recorded (`NodeAnnouncementState`) about `svc`.
pub fn node_reasons_of<'a>(snap: &'a Snapshot, svc: &Service) -> Vec<&'a NodeReason> {
    snap.node_reasons
        .iter()
        .filter(|r| r.namespace == svc.namespace && r.service == svc.name)
        .collect()
}

/// `reason (n1, n2); other reason (n3)`: each distinct reason once, with
/// the nodes that gave it.
fn summarise(reasons: &[&NodeReason]) -> String {
    let mut by_line: Vec<(String, Vec<&str>)> = Vec::new();
    for r in reasons {
        let line = r.line();
        match by_line.iter_mut().find(|(l, _)| *l == line) {
            Some((_, nodes)) => {
                if !nodes.contains(&r.node.as_str()) {
                    nodes.push(&r.node);
                }
            }
            None => by_line.push((line, vec![&r.node])),
        }
    }
    by_line
        .into_iter()
        .map(|(line, nodes)| format!("{line} ({})", nodes.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Announced, but not as it should be: a node advertising it has a peer
/// that is not Established; the layer-2 owner as the API server holds it
/// (`ServiceL2Status`) is two nodes, or none in a layer-2 pool; another
/// host holds the address on the owner's LAN.
fn degraded_reason(
    snap: &Snapshot,
    svc: &Service,
    modes: &[Mode],
    bgp: &[BgpAnnouncer],
    l2: &[L2Announcer],
) -> Option<String> {
    let mut problems = Vec::new();
    if l2.len() > 1 {
        let nodes: Vec<&str> = l2.iter().map(|a| a.node.as_str()).collect();
        problems.push(format!(
            "{} nodes claim it in layer 2 ({}): ServiceL2Status should name one owner",
            nodes.len(),
            nodes.join(", ")
        ));
    } else if l2.is_empty() && modes.contains(&Mode::L2) {
        problems.push("no node owns it in layer 2 (no ServiceL2Status)".to_string());
    }
    for r in node_reasons_of(snap, svc) {
        if r.reason == ADDRESS_IN_USE {
            problems.push(format!("{}: {}", r.node, r.line()));
        }
    }
    let down = bgp
        .iter()
        .flat_map(|a| a.peers.iter().map(move |p| (&a.node, p)))
        .filter_map(|(node, peer)| {
            let s = snap
                .sessions
                .iter()
                .find(|s| &s.node == node && &s.peer == peer)?;
            (!s.is_established()).then(|| session_line(s))
        });
    problems.extend(down);
    (!problems.is_empty()).then(|| problems.join("; "))
}
