//! Deterministic replay: recorded input streams (configuration, Services,
//! EndpointSlices, Nodes, session and membership events) replayed through
//! the speaker's pure path — the files shell's readers, the one config
//! compiler (a refused configuration keeps the last good one), the
//! decision (`bgp_plan`, `l2_plan`), each peer's Adj-RIB-Out and the
//! UPDATE packer the session task uses (`bgp::peer::Outbound`) — and held
//! to golden files: the plans and the UPDATE bytes of every step.
//!
//! A stream is `tests/replay/NAME.yaml`; its golden output is
//! `tests/replay/NAME.golden`. Regenerate every golden file after a
//! deliberate change, and review the diff:
//!   UPDATE_GOLDEN=1 cargo nextest run -p ferrolb-speaker --test replay

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ferrolb_bgp::adj_rib_out::AdjRibOut;
use ferrolb_bgp::fsm::{Family, PeerAs};
use ferrolb_bgp::peer::{GracefulRestartConfig, Outbound, RouteAttributes};
use ferrolb_bgp::wire::Codec;
use ferrolb_crds::config::{Config, compile};
use ferrolb_speaker::announce::peer_config;
use ferrolb_speaker::decide::{
    ClusterView, FenceState, InterfaceRules, LocalNode, bgp_plan, l2_plan,
};
use ferrolb_speaker::files;
use serde::Deserialize;

/// A recorded stream: which node replays it, and its steps in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stream {
    node: String,
    steps: Vec<Step>,
}

/// One recorded input. Each step changes one thing, then the pass runs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
enum Step {
    /// Objects created or replaced (one YAML stream; kind, namespace and
    /// name identify an object).
    Apply(String),
    /// Objects deleted, as `Kind/namespace/name` (`Kind/name` for Nodes).
    Delete(Vec<String>),
    /// A session reaches Established over a connection from `local`.
    SessionUp { peer: String, local: IpAddr },
    /// A session drops.
    SessionDown { peer: String },
    /// The members the membership says are alive (all Nodes until set).
    Alive(Vec<String>),
}

/// One BGP peer as the session task sees it.
struct Session {
    rib: AdjRibOut<RouteAttributes>,
    /// Set while Established.
    up: Option<Up>,
}

struct Up {
    /// Fixed when the session comes up, as the session task fixes it.
    outbound: Outbound,
    eor_pending: bool,
}

/// The replay's state between steps.
#[derive(Default)]
struct Replay {
    /// The objects in force, by `Kind/namespace/name`.
    objects: BTreeMap<String, String>,
    config: Option<Config>,
    sessions: BTreeMap<String, Session>,
    alive: Option<Vec<String>>,
    /// This node's IPv4 address as the last pass read it.
    router_id: Option<std::net::Ipv4Addr>,
}

fn object_id(doc: &serde_json::Value) -> String {
    let kind = doc["kind"].as_str().unwrap_or("?");
    let name = doc["metadata"]["name"].as_str().unwrap_or("?");
    match doc["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

impl Replay {
    fn step(&mut self, node: &str, step: &Step, scratch: &Path, out: &mut String) {
        match step {
            Step::Apply(yaml) => {
                for doc in serde_norway::Deserializer::from_str(yaml) {
                    let value: serde_json::Value =
                        Deserialize::deserialize(doc).expect("stream object is YAML");
                    let text = serde_norway::to_string(&value).expect("object as YAML");
                    self.objects.insert(object_id(&value), text);
                }
            }
            Step::Delete(ids) => {
                for id in ids {
                    assert!(
                        self.objects.remove(id).is_some(),
                        "no object {id} to delete"
                    );
                }
            }
            Step::SessionUp { peer, local } => {
                let config = self
                    .config
                    .as_ref()
                    .expect("a session needs a configuration");
                let outbound = outbound(config, self.router_id, peer, *local);
                let session = self
                    .sessions
                    .get_mut(peer)
                    .expect("session of a known peer");
                session.up = Some(Up {
                    outbound,
                    eor_pending: true,
                });
                // Whatever the peer had from an earlier session is gone.
                session.rib.session_down();
            }
            Step::SessionDown { peer } => {
                let session = self
                    .sessions
                    .get_mut(peer)
                    .expect("session of a known peer");
                session.up = None;
                session.rib.session_down();
            }
            Step::Alive(members) => self.alive = Some(members.clone()),
        }
        self.pass(node, scratch, out);
    }

    /// The pass: read the objects as `ferrolb run` reads files, compile
    /// (or keep the last good configuration), decide, and flush every
    /// established session.
    fn pass(&mut self, node: &str, scratch: &Path, out: &mut String) {
        let file = scratch.join("objects.yaml");
        let all: Vec<&str> = self.objects.values().map(String::as_str).collect();
        std::fs::write(&file, all.join("---\n")).expect("scratch file");
        let (read, problems) = files::read::read(&[file]);
        assert!(problems.is_empty(), "{problems:?}");
        match compile(&read.resources) {
            Ok(compiled) => self.config = Some(compiled.config),
            Err(e) => {
                writeln!(
                    out,
                    "configuration refused ({} errors); the last good one stays",
                    e.errors.len()
                )
                .ok();
            }
        }
        let Some(config) = &self.config else {
            writeln!(out, "no configuration: nothing announced").ok();
            return;
        };
        let inputs = files::pass_inputs(node, None, &read.services, &read.slices, &read.nodes);
        self.router_id = inputs.node_ipv4;
        let services = inputs.services.all().expect("the files hand every Service");
        let plan = bgp_plan(config, &inputs.node, services);
        writeln!(out, "bgp plan: {:#?}", plan).ok();

        let alive = self.alive.clone();
        let members = inputs
            .nodes
            .values()
            .filter(|n| alive.as_ref().is_none_or(|a| a.contains(&n.name)))
            .cloned();
        let local = LocalNode {
            name: node.to_string(),
            links: vec![common::lan_link("eth0", Some([0x02, 0, 0x5e, 0, 0, 0x0a]))],
            interface_rules: InterfaceRules::standard(),
            fence: FenceState::MayAnnounce,
        };
        let l2 = l2_plan(config, &local, &ClusterView::new(members), services);
        writeln!(out, "l2 addresses: {:?}", l2.addresses).ok();
        writeln!(out, "l2 owners: {:?}", l2.owners).ok();
        writeln!(out, "l2 verdicts: {:#?}", l2.explanations).ok();

        // Peers that left the plan stop: routes withdrawn first.
        let gone: Vec<String> = self
            .sessions
            .keys()
            .filter(|p| !plan.peers.contains_key(*p))
            .cloned()
            .collect();
        for peer in gone {
            if let Some(mut session) = self.sessions.remove(&peer) {
                session.rib.replace_all(std::iter::empty());
                writeln!(out, "peer {peer} stops").ok();
                flush(&peer, &mut session, out);
            }
        }
        for (peer, routes) in &plan.peers {
            let session = self
                .sessions
                .entry(peer.clone())
                .or_insert_with(|| Session {
                    rib: AdjRibOut::new(),
                    up: None,
                });
            session
                .rib
                .replace_all(routes.iter().map(|(p, a)| (*p, a.clone())));
            flush(peer, session, out);
        }
    }
}

/// How the session with `peer` encodes its routes once up over a
/// connection from `local`: both sides advertised 4-octet AS and both
/// unicast families.
fn outbound(
    config: &Config,
    router_id: Option<std::net::Ipv4Addr>,
    peer: &str,
    local: IpAddr,
) -> Outbound {
    let compiled = config
        .peers
        .get(peer)
        .expect("a session of a configured peer");
    // No replayed peer enables graceful restart: its settings never reach
    // the encoding.
    let restart = GracefulRestartConfig {
        restart_time: 120,
        restarted_at: None,
    };
    let peer_config =
        peer_config(compiled, router_id, restart, None).expect("the replayed peer can run");
    let internal = match peer_config.peer_as {
        PeerAs::Exact(asn) => asn == peer_config.local_as,
        PeerAs::Internal => true,
        PeerAs::External | PeerAs::Any => false,
    };
    let codec = Codec {
        four_octet_as: true,
        ..Codec::default()
    };
    let families = vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST];
    Outbound::new(&peer_config, codec, local, internal, families)
}

/// What an established session sends now, as the session task would:
/// the Adj-RIB-Out's changes packed, then End-of-RIB after the first
/// full table.
fn flush(peer: &str, session: &mut Session, out: &mut String) {
    let Some(up) = &mut session.up else {
        return;
    };
    let changes = session.rib.take_changes();
    let (mut messages, skipped) = up.outbound.encode(&changes);
    if let Some(why) = skipped {
        writeln!(out, "to {peer}: {why}").ok();
    }
    if up.eor_pending {
        messages.extend(
            up.outbound
                .end_of_rib()
                .into_iter()
                .map(|m| m.expect("End-of-RIB")),
        );
        up.eor_pending = false;
    }
    for m in messages {
        let hex: String = m.iter().map(|b| format!("{b:02x}")).collect();
        writeln!(out, "update to {peer}: {hex}").ok();
    }
}

fn replay_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/replay")
}

/// Replays one stream; returns its output.
fn replay(stream_path: &Path) -> String {
    let text = std::fs::read_to_string(stream_path).expect("stream file");
    // Through a JSON value: steps are maps with one key (the kind of input),
    // which the YAML reader would want as tags.
    let value: serde_json::Value = serde_norway::from_str(&text).expect("stream is YAML");
    let stream: Stream = serde_json::from_value(value).expect("stream format");
    let scratch = std::env::temp_dir().join(format!(
        "ferrolb-replay-{}-{}",
        std::process::id(),
        stream_path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("stream")
    ));
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let mut replay = Replay::default();
    let mut out = String::new();
    for (i, step) in stream.steps.iter().enumerate() {
        writeln!(out, "=== step {}: {}", i + 1, summary(step)).ok();
        replay.step(&stream.node, step, &scratch, &mut out);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    out
}

fn summary(step: &Step) -> String {
    match step {
        Step::Apply(yaml) => {
            let ids: Vec<String> = serde_norway::Deserializer::from_str(yaml)
                .filter_map(|d| serde_json::Value::deserialize(d).ok())
                .map(|v| object_id(&v))
                .collect();
            format!("apply {}", ids.join(", "))
        }
        Step::Delete(ids) => format!("delete {}", ids.join(", ")),
        Step::SessionUp { peer, local } => format!("session {peer} up from {local}"),
        Step::SessionDown { peer } => format!("session {peer} down"),
        Step::Alive(members) => format!("alive {}", members.join(", ")),
    }
}

#[test]
fn recorded_streams_replay_to_their_golden_plans_and_updates() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut streams: Vec<PathBuf> = std::fs::read_dir(replay_dir())
        .expect("tests/replay")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    streams.sort();
    assert!(!streams.is_empty(), "no stream in tests/replay");
    let mut differ = Vec::new();
    for stream in &streams {
        let output = replay(stream);
        let golden_path = stream.with_extension("golden");
        if update {
            std::fs::write(&golden_path, &output).expect("golden file");
            continue;
        }
        let golden = std::fs::read_to_string(&golden_path).unwrap_or_else(|e| {
            panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", golden_path.display())
        });
        if golden != output {
            let (line, want, got) = golden
                .lines()
                .zip(output.lines())
                .enumerate()
                .find(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| (i + 1, a.to_string(), b.to_string()))
                .unwrap_or((0, "(lengths differ)".into(), String::new()));
            differ.push(format!(
                "{}: line {line}: golden {want:?}, replayed {got:?}",
                golden_path.display()
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "replays differ from their golden files (if meant, regenerate with \
         UPDATE_GOLDEN=1 cargo nextest run -p ferrolb-speaker --test replay):\n{}",
        differ.join("\n")
    );
}

#[test]
fn the_same_stream_replays_to_the_same_bytes_twice() {
    for entry in std::fs::read_dir(replay_dir()).expect("tests/replay") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "yaml") {
            assert_eq!(replay(&path), replay(&path), "{}", path.display());
        }
    }
}
