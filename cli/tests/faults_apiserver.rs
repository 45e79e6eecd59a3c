//! Issue 18, scenarios 1-3 on Kubernetes: the `bgp_faults` scenarios
//! (router killed and restarted, link flaps, a speaker of three killed,
//! with and without BFD; what each must never do is said there) with the
//! real controller and a `ferrolb-speaker` per node (the `ferrolb` binary
//! under both names, as in the container image) against the test
//! kube-apiserver, announcing to FRR and BIRD. The speakers listen on 179
//! as a deployed one does, so the routers may dial them.
//!
//! On top of the routers' tables, after each fault the status objects the
//! speakers write must be right (asserted, waited for): for every node,
//! exactly one ServiceBGPStatus per Service naming both BGPPeers, nothing
//! else; exactly one BGPSessionState per node and peer, Established, with
//! every prefix sent (and BFD up where configured). A restarted speaker
//! that wrote a second set, kept the object of a Service deleted while it
//! was down, left a session reported down, or counted its prefixes twice
//! fails here.
//!
//! `FERROLB_FAULTS_LONG=1` (`make faults-long`) runs the long variants:
//! routers down 30 s, link flaps for 2 minutes.

#[path = "../../interop-tests/tests/cluster_support/mod.rs"]
mod cluster;

mod bgp_faults;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_faults::{CONVERGE, NODE_AS, Outcome, PEERS, POOL, Rig, Shell, Timers};
use cluster::lab_nodes::{apply, create_node, multicall_programs, start_program};
use cluster::*;
use ferrolb_crds::api::{BGPSessionState, ServiceBGPStatus, SessionState};
use futures::StreamExt;
use interop_tests::daemon::Daemon;
use interop_tests::ferrolb::FerroLb;
use interop_tests::forward::Forward;
use kube::api::{Api, ListParams};
use serde_json::json;

/// The test API server configured for the rig, the controller (one
/// replica) running, and a relay to the API server in every node's
/// namespace.
struct Kube {
    bin: PathBuf,
    _relays: Vec<Forward>,
    controller: Arc<Daemon>,
    cluster: Cluster,
    // Last: the cluster's client lives on it.
    rt: tokio::runtime::Runtime,
}

impl Kube {
    fn new(rig: &Rig, timers: Timers) -> Outcome<Kube> {
        let bin = multicall_programs(&rig.lab, Path::new(env!("CARGO_BIN_EXE_ferrolb")))?;
        let rt = runtime()?;
        let cluster = rt.block_on(async {
            let cluster = Cluster::start().await?;
            configure(&cluster.admin, rig, timers).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(cluster)
        })?;
        let args = cluster.controller_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let controller = start_program(
            &rig.lab,
            &bin,
            "ferrolb-controller",
            None,
            &rig.lab.dir().join("controller.log"),
            &args,
        )?;
        let api = format!("127.0.0.1:{}", cluster.server.port()).parse()?;
        let relays = rig
            .nodes
            .iter()
            .map(|n| Forward::start(&n.netns, api))
            .collect::<Result<_, _>>()?;
        Ok(Kube {
            bin,
            _relays: relays,
            controller,
            cluster,
            rt,
        })
    }

    /// Whether every node of `live` has reported exactly what it announces:
    /// `None` once right, else what is wrong.
    async fn wrong_status(
        &self,
        rig: &Rig,
        live: &[usize],
        timers: Timers,
    ) -> Outcome<Option<String>> {
        let admin = &self.cluster.admin;
        let mut statuses: BTreeMap<(String, String), Vec<Vec<String>>> = BTreeMap::new();
        for o in Api::<ServiceBGPStatus>::namespaced(admin.clone(), NS)
            .list(&ListParams::default())
            .await?
            .items
        {
            let s = o.status.unwrap_or_default();
            let mut peers = s.peers;
            peers.sort();
            statuses
                .entry((
                    s.node,
                    format!("{}/{}", s.service_namespace, s.service_name),
                ))
                .or_default()
                .push(peers);
        }
        let mut sessions: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for o in Api::<BGPSessionState>::namespaced(admin.clone(), NS)
            .list(&ListParams::default())
            .await?
            .items
        {
            let s = o.status.unwrap_or_default();
            sessions
                .entry((o.spec.node, o.spec.peer))
                .or_default()
                .push(session_line(s.state, s.prefixes_sent, &s.bfd_status));
        }
        let mut peers: Vec<String> = PEERS.iter().map(|(p, _)| p.to_string()).collect();
        peers.sort();
        let mut want_statuses = BTreeMap::new();
        let mut want_sessions = BTreeMap::new();
        let bfd = if timers.bfd { "up" } else { "" };
        for &i in live {
            let node = &rig.nodes[i].name;
            for s in 0..rig.prefixes().len() {
                want_statuses.insert(
                    (node.clone(), format!("{APPS}/svc-{s}")),
                    vec![peers.clone()],
                );
            }
            for (peer, _) in PEERS {
                want_sessions.insert(
                    (node.clone(), peer.to_string()),
                    vec![session_line(
                        Some(SessionState::Established),
                        rig.prefixes().len() as u64,
                        bfd,
                    )],
                );
            }
        }
        let mut wrong = Vec::new();
        if statuses != want_statuses {
            wrong.push(format!(
                "ServiceBGPStatus: {}",
                differences(&statuses, &want_statuses)
            ));
        }
        if sessions != want_sessions {
            wrong.push(format!(
                "BGPSessionState: {}",
                differences(&sessions, &want_sessions)
            ));
        }
        Ok((!wrong.is_empty()).then(|| wrong.join("; ")))
    }
}

fn session_line(state: Option<SessionState>, prefixes_sent: u64, bfd: &str) -> String {
    format!("{state:?}, {prefixes_sent} prefixes sent, BFD {bfd:?}")
}

/// The keys whose values differ (at most three shown), and how many.
fn differences<V: PartialEq + std::fmt::Debug>(
    seen: &BTreeMap<(String, String), V>,
    want: &BTreeMap<(String, String), V>,
) -> String {
    let keys: std::collections::BTreeSet<_> = seen.keys().chain(want.keys()).collect();
    let wrong: Vec<String> = keys
        .into_iter()
        .filter(|k| seen.get(*k) != want.get(*k))
        .map(|k| format!("{k:?}: {:?}, want {:?}", seen.get(k), want.get(k)))
        .collect();
    format!(
        "{} wrong, e.g. {}",
        wrong.len(),
        wrong
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ")
    )
}

impl Shell for Kube {
    fn name(&self) -> &'static str {
        "Kubernetes"
    }

    fn start(&self, rig: &Rig, i: usize, life: u32) -> Outcome<FerroLb> {
        let node = &rig.nodes[i];
        let dir = rig.lab.state_dir(node, "speaker")?;
        let log = dir.join(format!("speaker-{life}.log"));
        let mut args = self.cluster.speaker_args_listening(&node.name, "[::]:179");
        args.extend([
            "--log-level".to_string(),
            "info,ferrolb_bgp=debug".to_string(),
            // Each node's restart marker in its own state directory,
            // never in the host's /run.
            "--graceful-restart-state".to_string(),
            dir.join("restart-marker").display().to_string(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let daemon = start_program(
            &rig.lab,
            &self.bin,
            "ferrolb-speaker",
            Some(node),
            &log,
            &args,
        )?;
        Ok(FerroLb::adopt(daemon, log))
    }

    fn settled(&self, rig: &Rig, live: &[usize], timers: Timers) -> Outcome<String> {
        let start = Instant::now();
        let right: Outcome = self.rt.block_on(async {
            let mut last = String::new();
            while start.elapsed() < CONVERGE {
                match self.wrong_status(rig, live, timers).await? {
                    None => return Ok(()),
                    Some(wrong) => last = wrong,
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(
                format!("the speakers' status objects still wrong after {CONVERGE:?}: {last}")
                    .into(),
            )
        });
        right?;
        assert!(!self.controller.has_exited(), "the controller exited");
        Ok(format!(
            ", status objects right {:?} later",
            start.elapsed()
        ))
    }

    fn keep_services(&self, rig: &Rig, count: usize) -> Outcome {
        self.rt.block_on(async {
            for i in count..rig.prefixes().len() {
                delete(&self.cluster.admin, &format!("svc-{i}")).await?;
            }
            Outcome::Ok(())
        })
    }

    fn foreign_port(&self) -> Option<u16> {
        // The API server's client opens and closes connections with its
        // pool; the relay in the namespace listens on the server's port.
        Some(self.cluster.server.port())
    }
}

/// The cluster's side of the rig: the pool, a BGPAdvertisement of it, the
/// BGPPeers of both routers (and a BFDProfile), a Node per lab node, and
/// the Services, each asking for its address with one ready endpoint.
async fn configure(admin: &kube::Client, rig: &Rig, timers: Timers) -> Outcome {
    let mut objects = vec![
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
               "metadata": {"name": "pool", "namespace": NS}, "spec": {"addresses": [POOL]}}),
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
               "metadata": {"name": "adv", "namespace": NS}, "spec": {"ipAddressPools": ["pool"]}}),
    ];
    if timers.bfd {
        objects.push(
            json!({"apiVersion": "metallb.io/v1beta1", "kind": "BFDProfile",
            "metadata": {"name": "fast", "namespace": NS},
            "spec": {"receiveInterval": 100, "transmitInterval": 100, "detectMultiplier": 3}}),
        );
    }
    for ((name, asn), routed) in PEERS.iter().zip(&rig.routers) {
        let mut spec = json!({"myASN": NODE_AS, "peerASN": asn,
            "peerAddress": routed.host.ipv4.to_string(), "holdTime": format!("{}s", timers.hold)});
        if timers.bfd {
            spec["bfdProfile"] = json!("fast");
        }
        objects.push(
            json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}),
        );
    }
    for object in &objects {
        apply(admin, NS, object).await?;
    }
    for n in &rig.nodes {
        create_node(admin, n).await?;
    }
    futures::stream::iter(rig.prefixes().iter().enumerate())
        .map(|(i, p)| async move {
            let name = format!("svc-{i}");
            let address = p.addr().to_string();
            create(
                admin,
                lb_service(
                    &name,
                    &[("metallb.io/loadBalancerIPs", address.as_str())],
                    80,
                ),
            )
            .await?;
            set_endpoint(admin, &name, "n1", true).await
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<TestResult<Vec<_>>>()?;
    Ok(())
}

bgp_faults::scenario_tests!(Kube::new, "k8s");
