//! `ferrolb status` against the real test API server, with the real
//! controller and a real speaker (the `ferrolb` binary under both names, as
//! in the container image) peering with BIRD in a lab: a Service assigned
//! and announced, two pending for different reasons (pool exhausted, an
//! address outside every pool), a Local Service the node does not announce
//! (its reason, from the speaker's NodeAnnouncementState), then the BGP
//! session down. The text and
//! JSON outputs are compared with golden files (tests/status_golden/),
//! uptimes normalised; regenerate with
//!   UPDATE_GOLDEN=1 cargo nextest run -p ferrolb-cli --test status_apiserver

#[path = "../../interop-tests/tests/cluster_support/mod.rs"]
mod cluster;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cluster::lab_nodes::{
    bird_facing_one_node, configure_bgp, create_node, layer2_cluster, layer2_logs, log_tails,
    multicall_programs, set_speaker_ready, start_program,
};
use cluster::*;
use ferrolb_crds::api::{
    BGPSessionState, IPAddressPool, NodeAnnouncementState, ServiceL2Status, SessionState,
};
use interop_tests::Family;
use interop_tests::forward::Forward;
use interop_tests::l2::L2Lan;
use interop_tests::{Lab, wait_paths};
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

const CONVERGE: Duration = Duration::from_secs(30);

#[test]
fn status_tells_assigned_pending_and_bgp_up_and_down() -> TestResult {
    let (lab, r1, n1, bird) = bird_facing_one_node("k8sstat")?;
    let bin = programs(&lab)?;
    let logs = [
        lab.state_dir(&n1, "speaker")?.join("speaker.log"),
        lab.dir().join("controller.log"),
    ];
    let outcome = block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        let kubeconfig = cluster.server.admin_kubeconfig();
        configure_bgp(&admin, &r1, "198.51.100.10/32", Some("1s")).await?;
        create_node(&admin, &n1).await?;
        create(&admin, lb_service("web", &[], 80)).await?;
        set_endpoint(&admin, "web", "n1", true).await?;

        let _controller = start_controller(&lab, &bin, &cluster, &logs[1])?;
        // The speaker reaches the API server on its namespace's loopback.
        let _forward = Forward::start(
            &n1.netns,
            format!("127.0.0.1:{}", cluster.server.port()).parse()?,
        )?;
        let _speaker = start_program(
            &lab,
            &bin,
            "ferrolb-speaker",
            Some(&n1),
            &logs[0],
            &[
                "--kubeconfig",
                &cluster.speaker_kubeconfig.display().to_string(),
                "--node-name",
                &n1.name,
                "--namespace",
                NS,
                "--bgp-listen",
                "off",
                "--metrics-addr",
                "127.0.0.1:7472",
            ],
        )?;

        // web takes the pool's only address; db finds it exhausted; wanted
        // asks for an address in no pool.
        wait_assigned(&admin, "web").await?;
        create(&admin, lb_service("db", &[], 5432)).await?;
        create(
            &admin,
            lb_service("wanted", &[("metallb.io/loadBalancerIPs", "10.9.9.9")], 80),
        )
        .await?;
        wait_event(&admin, APPS, "db", "AllocationFailed").await?;
        wait_event(&admin, APPS, "wanted", "AllocationFailed").await?;
        wait_paths(&lab, &bird, "198.51.100.10/32".parse()?, 1, CONVERGE)?;
        wait_session(&admin, true).await?;
        wait_event(&admin, APPS, "web", "nodeAssigned").await?;

        let status = |args: &[&str]| ferrolb_status(&kubeconfig, args);
        golden(
            "up.txt",
            &[
                ("status -A", status(&["-A"])?),
                ("status sessions", status(&["sessions"])?),
                ("status pools -A", status(&["pools", "-A"])?),
                ("status why apps/web", status(&["why", "apps/web"])?),
                (
                    "status why db -n apps",
                    status(&["why", "db", "-n", "apps"])?,
                ),
                ("status why apps/wanted", status(&["why", "apps/wanted"])?),
            ],
        )?;
        golden(
            "up.json",
            &[
                ("status -A -o json", status(&["-A", "-o", "json"])?),
                (
                    "status sessions -o json",
                    status(&["sessions", "-o", "json"])?,
                ),
                (
                    "status pools -A -o json",
                    status(&["pools", "-A", "-o", "json"])?,
                ),
                (
                    "status why apps/web -o json",
                    status(&["why", "apps/web", "-o", "json"])?,
                ),
            ],
        )?;
        let yaml = status(&["-A", "-o", "yaml"])?;
        assert!(yaml.contains("apiVersion: status.ferrolb.io/v1"), "{yaml}");

        // A Local Service whose only endpoint runs on another node: n1's
        // speaker records why it stays silent (NodeAnnouncementState), and
        // `status` and `status why` print it node by node.
        create_local_pool(&admin).await?;
        let mut local = lb_service("local", &[("metallb.io/address-pool", "local")], 8080);
        if let Some(spec) = local.spec.as_mut() {
            spec.external_traffic_policy = Some("Local".into());
        }
        create(&admin, local).await?;
        set_endpoint(&admin, "local", "n2", true).await?;
        wait_assigned(&admin, "local").await?;
        wait_reason(&admin, "apps/local").await?;
        let reason = "externalTrafficPolicy is Local and no ready endpoint runs on this node";
        let why = status(&["why", "apps/local"])?;
        assert!(
            why.contains(&format!("n1: does not announce it by BGP: {reason}")),
            "{why}"
        );
        let services = status(&["-A"])?;
        let row = services
            .lines()
            .find(|l| l.starts_with("apps/local"))
            .ok_or("no local row")?;
        assert!(
            row.contains("not announced") && row.contains(&format!("{reason} (n1)")),
            "{services}"
        );

        // The router goes: the session leaves Established, and the views say
        // so with the speaker's error (its exact state and text depend on
        // timing, so this part is checked by content, not by golden).
        bird.daemon().stop(Duration::from_secs(5));
        wait_session(&admin, false).await?;
        let sessions = status(&["sessions"])?;
        let row = sessions
            .lines()
            .find(|l| l.starts_with("n1"))
            .ok_or("no session row")?;
        assert!(!row.contains("Established"), "{sessions}");
        let services = status(&["-A"])?;
        let web = services
            .lines()
            .find(|l| l.starts_with("apps/web"))
            .ok_or("no web row")?;
        assert!(web.contains("peer r1 session"), "{services}");
        assert!(web.contains("on n1"), "{services}");
        let why = status(&["why", "apps/web"])?;
        assert!(why.contains("! session       n1 → r1: "), "{why}");

        // A Service that does not exist is an error, not an empty answer.
        let out = Command::new(env!("CARGO_BIN_EXE_ferrolb"))
            .args(["status", "why", "apps/nope", "--kubeconfig"])
            .arg(&kubeconfig)
            .output()?;
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no LoadBalancer Service apps/nope"),
            "{out:?}"
        );
        Ok(())
    });
    outcome.map_err(|e| {
        let tails: Vec<String> = logs
            .iter()
            .map(|l| {
                let text = std::fs::read_to_string(l).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("--- {} ---\n{}", l.display(), tail.join("\n"))
            })
            .collect();
        format!("{e}\n{}", tails.join("\n")).into()
    })
}

/// Layer 2 with two speakers (membership from their Pods): `status` names
/// the node that answers ARP for the address and its interface, `status
/// why` says the same node by node, and both follow the owner when its
/// speaker is killed and another node takes over.
#[test]
fn status_follows_the_layer2_owner_when_it_moves() -> TestResult {
    let lan = L2Lan::new("k8sstl2", Family::Ipv4, 2)?;
    let vip = lan.vip().to_string();
    let bin = programs(lan.lab())?;
    let logs = layer2_logs(&lan)?;
    let outcome = block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        let kubeconfig = cluster.server.admin_kubeconfig();
        layer2_cluster(&admin, lan.nodes(), &vip).await?;
        create(&admin, lb_service("web", &[], 80)).await?;
        set_endpoint(&admin, "web", "n1", true).await?;
        let _controller = start_controller(lan.lab(), &bin, &cluster, &logs[2])?;
        let port = cluster.server.port();
        let mut forwards = Vec::new();
        let mut speakers = Vec::new();
        for (n, log) in lan.nodes().iter().zip(&logs) {
            forwards.push(Forward::start(
                &n.netns,
                format!("127.0.0.1:{port}").parse()?,
            )?);
            let mut args = cluster.speaker_args(&n.name);
            args.extend([
                "--pod-name".to_string(),
                format!("speaker-{}", n.name),
                "--pod-uid".to_string(),
                format!("00000000-0000-4000-8000-{:012}", n.index),
            ]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            speakers.push(start_program(
                lan.lab(),
                &bin,
                "ferrolb-speaker",
                Some(n),
                log,
                &args,
            )?);
        }
        wait_assigned(&admin, "web").await?;
        let status = |args: &[&str]| ferrolb_status(&kubeconfig, args);

        let owner = wait_l2_owner(&admin, None).await?;
        let (row, why) = owner_views(&status, &vip, &owner).await?;
        let index = lan
            .nodes()
            .iter()
            .position(|n| n.name == owner)
            .ok_or("the owner is a node")?;
        speakers[index].signal(nix::sys::signal::Signal::SIGKILL)?;
        // A dead speaker withdraws nothing: its ServiceL2Status stays, and
        // its kubelet reports the Pod not ready (played here).
        set_speaker_ready(&admin, &owner, false).await?;
        let next = wait_l2_owner(&admin, Some(&owner)).await?;
        let (moved_row, moved_why) = owner_views(&status, &vip, &next).await?;
        assert!(
            !moved_row.contains(&format!("{owner}@")),
            "the old owner still shown: {moved_row}"
        );
        assert!(
            moved_row.contains(&format!("stale ServiceL2Status of {owner}")),
            "{moved_row}"
        );
        assert!(
            moved_why.contains(&format!("{owner}: its speaker is not ready")),
            "{moved_why}"
        );
        eprintln!("before:\n{row}\n{why}\nafter {owner} was killed:\n{moved_row}\n{moved_why}");
        drop(forwards);
        Ok(())
    });
    outcome.map_err(|e| format!("{e}\n{}", log_tails(&logs, 20)).into())
}

/// Waits until a ServiceL2Status names an owner (another than `not`); the
/// owner's node name.
async fn wait_l2_owner(admin: &Client, not: Option<&str>) -> TestResult<String> {
    let api: Api<ServiceL2Status> = Api::namespaced(admin.clone(), NS);
    wait_for("a ServiceL2Status naming the owner", CONVERGE, || async {
        Ok(api
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter_map(|o| o.status)
            .find(|s| {
                !s.node.is_empty() && !s.interfaces.is_empty() && Some(s.node.as_str()) != not
            })
            .map(|s| s.node))
    })
    .await
}

/// `status` and `status why` once they name `owner` as the Layer-2
/// announcer of apps/web (the speakers' status objects settle in a few
/// seconds after a move): the Service's row and the why.
async fn owner_views(
    status: &impl Fn(&[&str]) -> TestResult<String>,
    vip: &str,
    owner: &str,
) -> TestResult<(String, String)> {
    wait_for(
        &format!("status to name {owner} for apps/web"),
        CONVERGE,
        || async {
            let services = status(&["-A"])?;
            let Some(row) = services.lines().find(|l| l.starts_with("apps/web")) else {
                return Ok(None);
            };
            let why = status(&["why", "apps/web"])?;
            let named = row.contains(vip)
                && row.contains(" L2 ")
                && row.contains(" announced ")
                && row.contains(&format!("{owner}@"))
                && why.contains(owner);
            Ok(named.then(|| (row.to_string(), why)))
        },
    )
    .await
}

/// A second pool, taken only on request, for the Local Service.
async fn create_local_pool(admin: &Client) -> TestResult {
    let pool: IPAddressPool = serde_json::from_value(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "local", "namespace": NS},
        "spec": {"addresses": ["198.51.100.20/32"], "autoAssign": false}
    }))?;
    Api::<IPAddressPool>::namespaced(admin.clone(), NS)
        .create(&PostParams::default(), &pool)
        .await?;
    Ok(())
}

/// Waits until n1's NodeAnnouncementState names `service`.
async fn wait_reason(admin: &Client, service: &str) -> TestResult {
    let api: Api<NodeAnnouncementState> = Api::namespaced(admin.clone(), NS);
    wait_for("NodeAnnouncementState", CONVERGE, || async {
        let listed = api.list(&ListParams::default()).await?.items;
        Ok(listed
            .iter()
            .filter(|o| o.spec.node == "n1")
            .filter_map(|o| o.status.as_ref())
            .flat_map(|s| &s.reasons)
            .any(|r| r.services.iter().any(|s| s == service))
            .then_some(()))
    })
    .await
}

/// Waits until n1's session to r1 is (or is no longer) Established.
async fn wait_session(admin: &Client, established: bool) -> TestResult {
    let api: Api<BGPSessionState> = Api::namespaced(admin.clone(), NS);
    wait_for("BGPSessionState", CONVERGE, || async {
        Ok(api
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .any(|s| {
                let state = s.status.as_ref().and_then(|st| st.state);
                s.spec.node == "n1"
                    && (state == Some(SessionState::Established)) == established
                    && state.is_some()
            })
            .then_some(()))
    })
    .await
}

/// The controller (one replica) against the test API server.
fn start_controller(
    lab: &Lab,
    bin: &Path,
    cluster: &Cluster,
    log: &Path,
) -> TestResult<std::sync::Arc<interop_tests::daemon::Daemon>> {
    let args = cluster.controller_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    start_program(lab, bin, "ferrolb-controller", None, log, &args)
}

/// `ferrolb-controller` and `ferrolb-speaker` as the image ships them.
fn programs(lab: &Lab) -> TestResult<PathBuf> {
    multicall_programs(lab, Path::new(env!("CARGO_BIN_EXE_ferrolb")))
}

/// `ferrolb status ARGS` with the admin's kubeconfig; its stdout.
fn ferrolb_status(kubeconfig: &Path, args: &[&str]) -> TestResult<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrolb"))
        .arg("status")
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .env_remove("NO_COLOR")
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "ferrolb status {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Uptimes vary from run to run: `4s`, `1m2s` and `"uptimeSeconds": 7`
/// become `<uptime>`; text columns are aligned to the widest cell, so runs
/// of blanks become one.
fn normalise(text: &str) -> String {
    let is_duration = |t: &str| {
        let t = t.trim_end_matches(',');
        !t.is_empty()
            && t.chars().next().is_some_and(|c| c.is_ascii_digit())
            && t.chars().last().is_some_and(|c| "smhd".contains(c))
            && t.chars().all(|c| c.is_ascii_digit() || "smhd".contains(c))
    };
    text.lines()
        .map(|line| {
            if line.contains("\"uptimeSeconds\": ") && !line.contains("null") {
                return "\"uptimeSeconds\": \"<uptime>\",".to_string();
            }
            line.split_whitespace()
                .map(|t| {
                    if is_duration(t) {
                        t.replace(t.trim_end_matches(','), "<uptime>")
                    } else {
                        t.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn golden(file: &str, sections: &[(&str, String)]) -> TestResult {
    let actual: String = sections
        .iter()
        .map(|(title, text)| format!("==== {title}\n{}", normalise(text)))
        .collect();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/status_golden")
        .join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual)?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()))?;
    if actual != expected {
        return Err(format!(
            "{} differs; regenerate with UPDATE_GOLDEN=1 and review the diff:\n{actual}",
            path.display()
        )
        .into());
    }
    Ok(())
}

#[test]
fn normalise_hides_uptimes_only() {
    assert_eq!(
        normalise(
            "n1  r1  Established  1m2s  1\n  \"uptimeSeconds\": 62,\n  \"uptimeSeconds\": null,\n✓ session n1 → r1: Established for 4s, 1 prefixes sent"
        ),
        "n1 r1 Established <uptime> 1\n\"uptimeSeconds\": \"<uptime>\",\n\"uptimeSeconds\": null,\n✓ session n1 → r1: Established for <uptime>, 1 prefixes sent\n"
    );
}
