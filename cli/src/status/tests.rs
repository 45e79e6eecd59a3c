//! Scenarios (testdata/*.yaml: the objects a cluster would hold) through
//! the same reduction and views as the real command, compared with golden
//! outputs. Regenerate after an intended change with
//!   UPDATE_GOLDEN=1 cargo nextest run -p ferrolb-cli status::
//! and review the diff.

use std::path::PathBuf;

use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;

use super::objects::Objects;
use super::*;

/// The moment every scenario is read at.
const NOW: &str = "2026-01-01T12:00:00Z";

/// Objects from a multi-document YAML file.
pub fn objects_from_yaml(text: &str) -> Objects {
    let docs = serde_norway::Deserializer::from_str(text)
        .map(|doc| serde_json::Value::deserialize(doc).expect("scenario YAML"))
        .collect();
    Objects::from_items(docs).expect("scenario objects")
}

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/status/testdata")
        .join(name)
}

fn scenario(name: &str) -> Snapshot {
    let text = std::fs::read_to_string(testdata(&format!("{name}.yaml"))).expect("scenario file");
    objects_from_yaml(&text).snapshot(NOW.parse::<Timestamp>().expect("time literal"))
}

/// Every view of a scenario, in text and JSON, as one document.
fn all_views(snap: &Snapshot) -> String {
    let mut out = String::new();
    let mut section = |title: &str, view: Option<&View>, format: Format| {
        let text = render_view(snap, view, "apps", format, Colour::Off).expect("view");
        out.push_str(&format!("==== {title}\n{text}"));
    };
    section("status", None, Format::Text);
    section("status -o json", None, Format::Json);
    section("status sessions", Some(&View::Sessions), Format::Text);
    section(
        "status sessions -o json",
        Some(&View::Sessions),
        Format::Json,
    );
    section("status pools", Some(&View::Pools), Format::Text);
    section("status pools -o json", Some(&View::Pools), Format::Json);
    for svc in &snap.services {
        let view = View::Why { service: svc.key() };
        section(
            &format!("status why {}", svc.key()),
            Some(&view),
            Format::Text,
        );
    }
    if let Some(svc) = snap.services.first() {
        let view = View::Why { service: svc.key() };
        section(
            &format!("status why {} -o json", svc.key()),
            Some(&view),
            Format::Json,
        );
    }
    out
}

fn golden(name: &str) {
    let actual = all_views(&scenario(name));
    let path = testdata(&format!("{name}.golden"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert!(
        actual == expected,
        "{name}: output differs from {}; regenerate with UPDATE_GOLDEN=1 and review the diff\n{actual}",
        path.display()
    );
}

#[test]
fn golden_bgp() {
    golden("bgp");
}

#[test]
fn golden_l2() {
    golden("l2");
}

#[test]
fn golden_node_reasons_and_layer_2_owners() {
    golden("reasons");
}

#[test]
fn golden_nothing_running() {
    golden("nothing");
}

fn row_of<'a>(view: &'a view::ServicesView, name: &str) -> &'a view::ServiceRow {
    view.services
        .iter()
        .find(|s| s.name == name)
        .expect("service row")
}

#[test]
fn pending_reasons_come_from_the_controller() {
    let snap = scenario("l2");
    let v = services::services_view(&snap);
    let wanted = row_of(&v, "wanted");
    assert_eq!(wanted.state, view::ServiceState::Pending);
    assert_eq!(
        wanted.reason.as_deref(),
        Some("requested 10.9.9.9 is not in any pool")
    );
    let other = row_of(&v, "other");
    assert!(
        other
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("--lb-class example.com/lb"),
        "{other:?}"
    );
    let bgp = services::services_view(&scenario("bgp"));
    assert_eq!(
        row_of(&bgp, "db").reason.as_deref(),
        Some("pool public exhausted: no free IPv4 address")
    );
    assert!(
        !bgp.services.iter().any(|s| s.name == "internal"),
        "only LoadBalancer Services"
    );
}

#[test]
fn an_allocation_after_a_failure_clears_the_reason() {
    let mut snap = scenario("bgp");
    let mut later = snap
        .events
        .iter()
        .find(|e| e.reason == snapshot::IP_ALLOCATED)
        .expect("IPAllocated event")
        .clone();
    later.service = "db".into();
    later.time = Some("2026-01-01T11:30:00Z".parse().expect("time literal"));
    snap.events.push(later);
    assert!(services::allocation_failure(&snap, &snap.services[1]).is_none());
}

#[test]
fn not_announced_reasons_go_from_configuration_to_speakers() {
    let v = services::services_view(&scenario("l2"));
    let reason = |n: &str| row_of(&v, n).reason.clone().unwrap_or_default();
    assert_eq!(
        reason("ghost"),
        "pool gone no longer exists: the address is orphaned"
    );
    assert_eq!(
        reason("silent"),
        "no L2Advertisement or BGPAdvertisement selects pool quiet"
    );
    assert!(
        reason("idle").contains("none recorded why"),
        "{}",
        reason("idle")
    );
    let shop = row_of(&v, "shop");
    assert_eq!(shop.state, view::ServiceState::Announced);
    assert_eq!(render::announcers(shop), "n2@eth0");
    assert_eq!(shop.modes, [view::Mode::L2]);
}

#[test]
fn a_down_peer_of_an_announcing_node_is_reported() {
    let v = services::services_view(&scenario("bgp"));
    let web = row_of(&v, "web");
    assert_eq!(web.state, view::ServiceState::Announced);
    assert_eq!(
        web.reason.as_deref(),
        Some("peer r2 session Active on n1: connect 192.0.2.2:179: connection refused")
    );
    assert_eq!(render::announcers(web), "n1→r1,r2 n2→r1");
}

#[test]
fn a_bgp_service_with_every_session_down_says_which() {
    let mut snap = scenario("bgp");
    snap.bgp_statuses.clear();
    for s in &mut snap.sessions {
        s.state = "Active".into();
    }
    let v = services::services_view(&snap);
    assert_eq!(
        row_of(&v, "web").reason.as_deref(),
        Some("peer r1 session Active on n1")
    );
}

#[test]
fn sessions_have_uptimes_and_pools_warn_when_exhausted() {
    let snap = scenario("bgp");
    let s = sessions::sessions_view(&snap);
    let up: Vec<_> = s
        .sessions
        .iter()
        .map(|r| (r.node.as_str(), r.peer.as_str(), r.uptime_seconds))
        .collect();
    assert_eq!(
        up,
        [
            ("n1", "r1", Some(7200)),
            ("n1", "r2", None),
            ("n2", "r1", Some(2 * 86_400 + 2 * 3600 + 1800)),
            ("n2", "r2", Some(45)),
        ]
    );
    let p = pools::pools_view(&snap);
    assert_eq!(
        p.pools[0].warnings,
        ["ipv4 exhausted: all 1 addresses are used"]
    );
    assert_eq!(sessions::human_duration(45), "45s");
    assert_eq!(sessions::human_duration(125), "2m5s");
    assert_eq!(sessions::human_duration(7260), "2h1m");
    assert_eq!(sessions::human_duration(2 * 86_400 + 3600), "2d1h");
}

#[test]
fn colour_only_on_a_terminal_without_no_color() {
    use std::ffi::OsStr;
    assert_eq!(Colour::detect(true, None), Colour::On);
    assert_eq!(Colour::detect(true, Some(OsStr::new(""))), Colour::On);
    assert_eq!(Colour::detect(true, Some(OsStr::new("1"))), Colour::Off);
    assert_eq!(Colour::detect(false, None), Colour::Off);
    let snap = scenario("bgp");
    let v = services::services_view(&snap);
    let coloured = render::services(&v, Colour::On);
    assert!(coloured.contains("\x1b[31m"), "{coloured}");
    assert!(!render::services(&v, Colour::Off).contains('\x1b'));
    // Colour does not move the columns.
    let strip = |s: &str| {
        let mut out = String::new();
        let mut in_escape = false;
        for c in s.chars() {
            match (in_escape, c) {
                (false, '\x1b') => in_escape = true,
                (true, 'm') => in_escape = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    };
    assert_eq!(strip(&coloured), render::services(&v, Colour::Off));
}

#[test]
fn event_reasons_match_the_components() {
    use ferrolb_controller::reconcile::plan::Reason;
    use ferrolb_speaker::report::NoticeKind;
    assert_eq!(
        Reason::AllocationFailed.as_str(),
        snapshot::ALLOCATION_FAILED
    );
    assert_eq!(Reason::IpAllocated.as_str(), snapshot::IP_ALLOCATED);
    assert_eq!(Reason::ClearAssignment.as_str(), snapshot::CLEAR_ASSIGNMENT);
    assert_eq!(
        NoticeKind::AnnounceFailed.reason(),
        snapshot::ANNOUNCE_FAILED
    );
    assert_eq!(
        ferrolb_controller::reconcile::writer::FIELD_MANAGER,
        objects::CONTROLLER_REPORTER
    );
    assert_eq!(
        ferrolb_speaker::k8s::FIELD_MANAGER,
        objects::SPEAKER_REPORTER
    );
    assert_eq!(
        ferrolb_controller::reconcile::writer::CONFIGURATION_STATE,
        objects::CONTROLLER_STATE
    );
}

#[test]
fn why_an_unknown_service_is_an_error() {
    let snap = scenario("bgp");
    let view = View::Why {
        service: "apps/nope".into(),
    };
    let err = render_view(&snap, Some(&view), "apps", Format::Text, Colour::Off)
        .expect_err("no such service");
    assert_eq!(err.to_string(), "no LoadBalancer Service apps/nope");
    let short = View::Why {
        service: "web".into(),
    };
    assert!(render_view(&snap, Some(&short), "apps", Format::Text, Colour::Off).is_ok());
}
