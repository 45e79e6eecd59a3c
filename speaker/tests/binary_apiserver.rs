//! The `ferrolb-speaker` binary on a lab node, against the real test API
//! server with the chart's speaker RBAC, peering with a BIRD router: what
//! the cluster says is announced (EndpointSlices read from v1beta1, the only
//! version Kubernetes 1.20 serves), reported through ServiceBGPStatus,
//! BGPSessionState, Events and metrics, and withdrawn on SIGTERM. (In this
//! package because only its tests get `CARGO_BIN_EXE_ferrolb-speaker`.)

#[path = "../../interop-tests/tests/cluster_support/mod.rs"]
mod cluster;

use std::time::Duration;

use cluster::lab_nodes::{
    NODE_AS, ROUTER_AS, apply, bird_facing_one_node, configure_bgp, create_node, layer2_cluster,
    log_tails,
};
use cluster::*;
use ferrolb_crds::api::{BGPSessionState, ServiceBGPStatus, ServiceL2Status, SessionState};
use interop_tests::Family;
use interop_tests::daemon::DaemonSpec;
use interop_tests::forward::Forward;
use interop_tests::l2::L2Lan;
use interop_tests::{Host, Lab, wait_paths};
use k8s_openapi::api::core::v1::Service;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const VIP: &str = "198.51.100.10";
const CONVERGE: Duration = Duration::from_secs(30);

fn vip() -> ipnet::IpNet {
    format!("{VIP}/32").parse().expect("prefix literal")
}

#[test]
fn the_speaker_announces_what_the_cluster_says_reports_it_and_withdraws_on_sigterm() -> TestResult {
    let (lab, r1, n1, bird) = bird_facing_one_node("k8sspk")?;
    let log = lab.state_dir(&n1, "speaker")?.join("speaker.log");
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let outcome = block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        configure_bgp(&admin, &r1, "198.51.100.0/24", None).await?;
        create_node(&admin, &n1).await?;
        let web = services(&admin)
            .create(&PostParams::default(), &lb_service("web", &[], 80))
            .await?;
        record_address(&admin, &web, VIP).await?;
        set_endpoint(&admin, "web", "n1", true).await?;

        // The speaker reaches the API server on its namespace's loopback.
        let _forward = Forward::start(
            &n1.netns,
            format!("127.0.0.1:{}", cluster.server.port()).parse()?,
        )?;
        let speaker = start_speaker(&lab, &n1, &cluster, &log)?;

        // Announced: the router learns the address from n1.
        let paths = wait_paths(&lab, &bird, vip(), 1, CONVERGE)?;
        assert_eq!(paths[0].as_sequence(), [NODE_AS], "{paths:?}");

        // Reported: status objects, owned by the speaker's Pod, and an
        // Event.
        let statuses: Api<ServiceBGPStatus> = Api::namespaced(admin.clone(), NS);
        let mine = ListParams::default().labels("metallb.io/node=n1");
        // The object is created, then its status written: wait for both.
        let status = wait_for("ServiceBGPStatus of web", CONVERGE, || async {
            Ok(statuses
                .list(&mine)
                .await?
                .items
                .into_iter()
                .find(|o| o.status.as_ref().is_some_and(|s| !s.peers.is_empty())))
        })
        .await?;
        let s = status.status.clone().unwrap_or_default();
        assert_eq!(
            (
                s.node.as_str(),
                s.service_name.as_str(),
                s.service_namespace.as_str()
            ),
            ("n1", "web", APPS)
        );
        assert_eq!(s.peers, ["r1"]);
        let owners = status.metadata.owner_references.clone().unwrap_or_default();
        let owners: Vec<_> = owners
            .iter()
            .map(|o| (o.kind.as_str(), o.name.as_str(), o.uid.clone()))
            .collect();
        assert_eq!(owners, [("Pod", "speaker-n1", pod_uid(&n1))]);
        let sessions: Api<BGPSessionState> = Api::namespaced(admin.clone(), NS);
        let session = wait_for("BGPSessionState Established", CONVERGE, || async {
            Ok(sessions.list(&mine).await?.items.into_iter().find(|s| {
                s.status.as_ref().is_some_and(|st| {
                    st.state == Some(SessionState::Established) && st.prefixes_sent == 1
                })
            }))
        })
        .await?;
        assert_eq!(session.spec.peer, "r1");
        assert_eq!(session.spec.peer_address, r1.ipv4.to_string());
        let note = wait_event(&admin, APPS, "web", "nodeAssigned").await?;
        assert!(note.contains("announcing from node \"n1\""), "{note}");

        // Metrics, read from inside the node.
        let metrics = interop_tests::traffic::http_get_path(
            &n1,
            [127, 0, 0, 1].into(),
            7472,
            "/metrics",
            Duration::from_secs(5),
        )?;
        for want in [
            format!("metallb_bgp_session_up{{peer=\"{}\"}} 1", r1.ipv4),
            format!(
                "metallb_bgp_announced_prefixes_total{{peer=\"{}\"}} 1",
                r1.ipv4
            ),
            "service=\"apps/web\"} 1".to_string(),
            "metallb_k8s_client_config_loaded_bool{} 1".to_string(),
            "metallb_k8s_client_config_stale_bool{} 0".to_string(),
        ] {
            assert!(metrics.contains(&want), "{want} missing:\n{metrics}");
        }
        let updates: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("metallb_k8s_client_updates_total "))
            .ok_or("no metallb_k8s_client_updates_total")?
            .parse()?;
        // At least the Node, the peer, the pool, the advertisement, the
        // Service and its EndpointSlice.
        assert!(updates >= 6, "{metrics}");
        assert!(
            metrics.contains("# TYPE metallb_k8s_client_update_errors counter"),
            "{metrics}"
        );

        // No ready endpoint: withdrawn, and its status goes.
        set_endpoint(&admin, "web", "n1", false).await?;
        wait_paths(&lab, &bird, vip(), 0, CONVERGE)?;
        wait_for("ServiceBGPStatus deleted", CONVERGE, || async {
            Ok(statuses.list(&mine).await?.items.is_empty().then_some(()))
        })
        .await?;
        set_endpoint(&admin, "web", "n1", true).await?;
        wait_paths(&lab, &bird, vip(), 1, CONVERGE)?;

        // SIGTERM: withdrawn at once, sessions closed, objects deleted.
        speaker.stop(Duration::from_secs(10));
        wait_paths(&lab, &bird, vip(), 0, CONVERGE)?;
        assert!(
            log_text().contains("withdrawing every route"),
            "{}",
            log_text()
        );
        assert!(sessions.list(&mine).await?.items.is_empty());
        assert!(statuses.list(&mine).await?.items.is_empty());
        Ok(())
    });
    with_log_tail(outcome, &log_text())
}

/// BFD on Kubernetes: the speaker's BFD session with a router tells its
/// transitions as Events on the BGPPeer, with the peer, the node and, when
/// it falls, the diagnostic (here BIRD frozen: the detection time expires).
#[test]
fn bfd_transitions_are_events_on_the_bgp_peer() -> TestResult {
    let mut lab = Lab::new("k8sbfd")?;
    let r1 = lab.add_host("r1")?;
    let n1 = lab.add_host_at("n1", 11)?;
    let bird = interop_tests::Bird::start(
        &lab,
        &r1,
        &interop_tests::RouterConfig::new(ROUTER_AS, r1.ipv4)
            .neighbor(
                interop_tests::Neighbor::new(n1.ipv4.into(), NODE_AS)
                    .no_export()
                    .bfd(),
            )
            .bfd_interval(100),
    )?;
    let log = lab.state_dir(&n1, "speaker")?.join("speaker.log");
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let outcome = block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        create_node(&admin, &n1).await?;
        for object in [
            json!({"apiVersion": "metallb.io/v1beta1", "kind": "BFDProfile",
                "metadata": {"name": "fast", "namespace": NS},
                "spec": {"receiveInterval": 100, "transmitInterval": 100, "detectMultiplier": 3}}),
            // A 90 s hold time: only BFD can notice the frozen router.
            json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
                "metadata": {"name": "r1", "namespace": NS},
                "spec": {"myASN": NODE_AS, "peerASN": ROUTER_AS,
                         "peerAddress": r1.ipv4.to_string(), "holdTime": "90s",
                         "bfdProfile": "fast"}}),
        ] {
            apply(&admin, NS, &object).await?;
        }
        let _forward = Forward::start(
            &n1.netns,
            format!("127.0.0.1:{}", cluster.server.port()).parse()?,
        )?;
        let _speaker = start_speaker(&lab, &n1, &cluster, &log)?;
        let up = wait_event(&admin, NS, "r1", "bfdSessionUp").await?;
        assert_eq!(
            up,
            format!("BFD session with {} on node \"n1\" is up", r1.ipv4)
        );

        bird.daemon().signal(nix::sys::signal::Signal::SIGSTOP)?;
        let down = wait_event(&admin, NS, "r1", "bfdSessionDown").await;
        bird.daemon().signal(nix::sys::signal::Signal::SIGCONT)?;
        let down = down?;
        assert_eq!(
            down,
            format!(
                "BFD session with {} on node \"n1\" is down (control detection time expired); the BGP session is closed",
                r1.ipv4
            )
        );
        let kinds: Vec<String> = event_types(&admin, "r1").await?;
        assert!(
            kinds.iter().any(|k| k == "bfdSessionDown/Warning"),
            "{kinds:?}"
        );
        assert!(
            kinds.iter().any(|k| k == "bfdSessionUp/Normal"),
            "{kinds:?}"
        );
        Ok(())
    });
    with_log_tail(outcome, &log_text())
}

/// "reason/type" of every Event about `name` in [`NS`].
async fn event_types(admin: &Client, name: &str) -> TestResult<Vec<String>> {
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(admin.clone(), NS);
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .map(|e| {
            format!(
                "{}/{}",
                e.reason.unwrap_or_default(),
                e.type_.unwrap_or_default()
            )
        })
        .collect())
}

/// A failure with the last 40 lines of the speaker's log.
fn with_log_tail(outcome: TestResult, log: &str) -> TestResult {
    outcome.map_err(|e| {
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("{e}\n--- speaker log (tail) ---\n{}", tail.join("\n")).into()
    })
}

/// Writes the address into the Service's status, as the controller does.
async fn record_address(admin: &Client, svc: &Service, ip: &str) -> TestResult {
    let name = svc.metadata.name.clone().unwrap_or_default();
    let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}});
    services(admin)
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

/// The UID the speaker on `host` is told its Pod has.
fn pod_uid(host: &Host) -> String {
    format!("00000000-0000-4000-8000-{:012}", host.index)
}

/// `ferrolb-speaker` on `host`, with the speaker's identity, logging to
/// `log`.
fn start_speaker(
    lab: &Lab,
    host: &Host,
    cluster: &Cluster,
    log: &std::path::Path,
) -> TestResult<std::sync::Arc<interop_tests::daemon::Daemon>> {
    Ok(lab.start_daemon(DaemonSpec {
        name: format!("{}/ferrolb-speaker", host.name),
        netns: Some(&host.netns),
        program: env!("CARGO_BIN_EXE_ferrolb-speaker"),
        args: cluster
            .speaker_args(&host.name)
            .into_iter()
            // As the chart's downward API gives them: the Pod owns the
            // status objects (this API server runs no garbage collector,
            // so the Pod need not exist).
            .chain([
                "--pod-name".into(),
                format!("speaker-{}", host.name),
                "--pod-uid".into(),
                pod_uid(host),
            ])
            .collect(),
        output: log.to_path_buf(),
        logs: Vec::new(),
        lifetime: lab.lifetime(),
    })?)
}

/// Layer 2 on Kubernetes: three speakers whose membership comes from their
/// Pods; exactly one answers ARP and reports ServiceL2Status; killed,
/// another takes over.
#[test]
fn layer2_speakers_elect_one_owner_and_fail_over() -> TestResult {
    let lan = L2Lan::new("k8sl2", Family::Ipv4, 3)?;
    let vip = lan.vip().to_string();
    let logs: Vec<std::path::PathBuf> = lan
        .nodes()
        .iter()
        .map(|n| Ok(lan.lab().state_dir(n, "speaker")?.join("speaker.log")))
        .collect::<TestResult<_>>()?;
    let tails = || log_tails(&logs, 15);
    block_on(async {
        let cluster = Cluster::start().await?;
        // The logs are read before the API server stops: after it, their
        // last lines are only the speakers failing to reach it.
        let outcome = layer2_scenario(&lan, &vip, &cluster, &logs).await;
        outcome.map_err(|e| format!("{e}\n{}", tails()).into())
    })
}

async fn layer2_scenario(
    lan: &L2Lan,
    vip: &str,
    cluster: &Cluster,
    logs: &[std::path::PathBuf],
) -> TestResult {
    let admin = cluster.admin.clone();
    let pp = PostParams::default();
    layer2_cluster(&admin, lan.nodes(), vip).await?;
    let web = services(&admin)
        .create(&pp, &lb_service("web", &[], 80))
        .await?;
    record_address(&admin, &web, vip).await?;
    set_endpoint(&admin, "web", "n1", true).await?;

    let port = cluster.server.port();
    let mut forwards = Vec::new();
    let mut speakers = Vec::new();
    for (n, log) in lan.nodes().iter().zip(logs) {
        forwards.push(Forward::start(
            &n.netns,
            format!("127.0.0.1:{port}").parse()?,
        )?);
        speakers.push(start_speaker(lan.lab(), n, cluster, log)?);
    }

    // One owner, reported.
    let statuses: Api<ServiceL2Status> = Api::namespaced(admin.clone(), NS);
    let status = wait_for("a ServiceL2Status", CONVERGE, || async {
        Ok(statuses
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .find(|o| {
                o.status
                    .as_ref()
                    .is_some_and(|s| !s.node.is_empty() && !s.interfaces.is_empty())
            }))
    })
    .await?;
    let owner = status.status.clone().unwrap_or_default().node;
    let answers = wait_for("exactly the owner to answer ARP", CONVERGE, || async {
        let answers = lan.arp_answers()?;
        Ok((answers.len() == 1 && answers.contains(&owner)).then_some(answers))
    })
    .await
    .map_err(|e| format!("{e} (owner {owner}; answering: {:?})", lan.arp_answers()))?;
    assert_eq!(answers.len(), 1);
    let note = wait_event(&admin, APPS, "web", "nodeAssigned").await?;
    assert!(note.contains("layer2"), "{note}");

    // SIGKILL the owner's speaker: another node answers.
    let index = lan
        .nodes()
        .iter()
        .position(|n| n.name == owner)
        .ok_or("owner is a node")?;
    speakers[index].signal(nix::sys::signal::Signal::SIGKILL)?;
    let next = wait_for("another node to answer ARP", CONVERGE, || async {
        let answers = lan.arp_answers()?;
        Ok((answers.len() == 1 && !answers.contains(&owner)).then_some(answers))
    })
    .await?;
    let next = next.into_iter().next().unwrap_or_default();
    wait_for("the new owner's ServiceL2Status", CONVERGE, || async {
        Ok(statuses
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .find(|o| o.status.as_ref().is_some_and(|s| s.node == next)))
    })
    .await?;
    drop(forwards);
    Ok(())
}
