//! Lab hosts as the test cluster's Nodes, with speaker Pods as the
//! DaemonSet makes them, for the tests that run real speakers in lab
//! namespaces against the test API server; and what those tests share
//! around them (server-side apply of any object, their daemons' log tails).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferrolb_crds::api::{BGPAdvertisement, BGPPeer, IPAddressPool};
use interop_tests::daemon::{Daemon, DaemonSpec};
use interop_tests::{Host, Lab};
use k8s_openapi::api::core::v1::{Node, Pod, ServiceAccount};
use kube::Client;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};

use super::{NS, TestResult};

/// The speakers' AS and the router's, in the BGP labs of these tests.
pub const NODE_AS: u32 = 64512;
pub const ROUTER_AS: u32 = 64500;

/// A lab (`tag`) with one node, `n1`, peering with BIRD on `r1`: the lab,
/// the router's host, the node and BIRD.
pub fn bird_facing_one_node(
    tag: &str,
) -> TestResult<(interop_tests::Lab, Host, Host, interop_tests::Bird)> {
    let mut lab = interop_tests::Lab::new(tag)?;
    let r1 = lab.add_host("r1")?;
    let n1 = lab.add_host_at("n1", 11)?;
    let bird = interop_tests::Bird::start(
        &lab,
        &r1,
        &interop_tests::RouterConfig::facing_speakers(ROUTER_AS, &r1, &[&n1], NODE_AS),
    )?;
    Ok((lab, r1, n1, bird))
}

/// The Node object of a lab host, with its address as InternalIP (the
/// speaker's default router ID).
pub async fn create_node(admin: &Client, host: &Host) -> TestResult {
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": host.name, "labels": {"kubernetes.io/hostname": host.name}},
    }))?;
    let api: Api<Node> = Api::all(admin.clone());
    api.create(&PostParams::default(), &node).await?;
    let status = json!({"status": {"addresses": [
        {"type": "InternalIP", "address": host.ipv4.to_string()}
    ]}});
    api.patch_status(&host.name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

/// The namespace's `default` ServiceAccount, which speaker Pods need: the
/// test cluster runs no controller-manager to make it.
pub async fn speaker_service_account(admin: &Client) -> TestResult {
    let sa: ServiceAccount = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": NS}
    }))?;
    Api::<ServiceAccount>::namespaced(admin.clone(), NS)
        .create(&PostParams::default(), &sa)
        .await?;
    Ok(())
}

/// A speaker Pod on `host` as the DaemonSet makes it, with the node's
/// address (host network) as its IP: Layer-2 mode's membership.
pub async fn create_speaker_pod(admin: &Client, host: &Host) -> TestResult {
    let name = format!("speaker-{}", host.name);
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {
            "app.kubernetes.io/name": "ferrolb", "app.kubernetes.io/component": "speaker"}},
        "spec": {"nodeName": host.name, "hostNetwork": true, "automountServiceAccountToken": false,
                 "containers": [{"name": "speaker", "image": "ferrolb"}]}
    }))?;
    let api: Api<Pod> = Api::namespaced(admin.clone(), NS);
    api.create(&PostParams::default(), &pod).await?;
    let status = json!({"status": {"podIP": host.ipv4.to_string()}});
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

/// A Layer-2 cluster on `nodes`: the speakers' ServiceAccount, a Node and
/// a speaker Pod per host, the memberlist Secret, and one pool of `vip`
/// (IPv4 or IPv6) that an L2Advertisement with no spec announces.
pub async fn layer2_cluster(admin: &Client, nodes: &[Host], vip: &str) -> TestResult {
    let len = if vip.contains(':') { 128 } else { 32 };
    speaker_service_account(admin).await?;
    for n in nodes {
        create_node(admin, n).await?;
        create_speaker_pod(admin, n).await?;
    }
    for object in [
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "memberlist", "namespace": NS},
            "stringData": {"secretkey": "lab-shared-key"}}),
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "lan", "namespace": NS},
            "spec": {"addresses": [format!("{vip}/{len}")]}}),
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
            "metadata": {"name": "lan", "namespace": NS}, "spec": {}}),
    ] {
        apply(admin, NS, &object).await?;
    }
    Ok(())
}

/// Marks the speaker Pod on `node` ready or not, as its kubelet would when
/// the container starts or dies.
pub async fn set_speaker_ready(admin: &Client, node: &str, ready: bool) -> TestResult {
    let status = json!({"status": {"conditions": [
        {"type": "Ready", "status": if ready { "True" } else { "False" }}
    ]}});
    Api::<Pod>::namespaced(admin.clone(), NS)
        .patch_status(
            &format!("speaker-{node}"),
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await?;
    Ok(())
}

/// One pool of `cidr` announced by BGP to `router` (BGPPeer `r1`, hold
/// time 9 s, and `connectTime` when given) through a BGPAdvertisement of
/// every pool.
pub async fn configure_bgp(
    admin: &Client,
    router: &Host,
    cidr: &str,
    connect_time: Option<&str>,
) -> TestResult {
    let pp = PostParams::default();
    let pool: IPAddressPool = serde_json::from_value(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "public", "namespace": NS},
        "spec": {"addresses": [cidr]}
    }))?;
    Api::<IPAddressPool>::namespaced(admin.clone(), NS)
        .create(&pp, &pool)
        .await?;
    let mut spec = json!({"myASN": NODE_AS, "peerASN": ROUTER_AS,
                          "peerAddress": router.ipv4.to_string(), "holdTime": "9s"});
    if let Some(t) = connect_time {
        spec["connectTime"] = json!(t);
    }
    let peer: BGPPeer = serde_json::from_value(json!({
        "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
        "metadata": {"name": "r1", "namespace": NS},
        "spec": spec
    }))?;
    Api::<BGPPeer>::namespaced(admin.clone(), NS)
        .create(&pp, &peer)
        .await?;
    let adv: BGPAdvertisement = serde_json::from_value(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
        "metadata": {"name": "all", "namespace": NS}, "spec": {}
    }))?;
    Api::<BGPAdvertisement>::namespaced(admin.clone(), NS)
        .create(&pp, &adv)
        .await?;
    Ok(())
}

/// Server-side apply of `object` (any kind, from its apiVersion and kind)
/// in namespace `ns`.
pub async fn apply(admin: &Client, ns: &str, object: &Value) -> TestResult {
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let (group, version) = match object["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .split_once('/')
    {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), "v1".to_string()),
    };
    let gvk = GroupVersionKind::gvk(&group, &version, kind);
    let api: Api<DynamicObject> =
        Api::namespaced_with(admin.clone(), ns, &ApiResource::from_gvk(&gvk));
    api.patch(
        name,
        &PatchParams::apply("test").force(),
        &Patch::Apply(object),
    )
    .await?;
    Ok(())
}

/// The last `lines` lines of each log, headed by its path, for a failed
/// test's message.
pub fn log_tails(logs: &[std::path::PathBuf], lines: usize) -> String {
    logs.iter()
        .map(|l| {
            let text = std::fs::read_to_string(l).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(lines).collect();
            format!(
                "--- {} ---\n{}",
                l.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A directory of the lab with `ferrolb-controller` and `ferrolb-speaker`
/// linked to the multi-call `ferrolb` binary at `ferrolb`, as the container
/// image ships them.
pub fn multicall_programs(lab: &Lab, ferrolb: &Path) -> TestResult<PathBuf> {
    let dir = lab.dir().join("bin");
    std::fs::create_dir_all(&dir)?;
    for name in ["ferrolb-controller", "ferrolb-speaker"] {
        std::os::unix::fs::symlink(ferrolb, dir.join(name))?;
    }
    Ok(dir)
}

/// The log of each node's speaker on `lan`, then the controller's (in the
/// lab's directory): the order the Layer-2 API-server tests start them.
pub fn layer2_logs(lan: &interop_tests::l2::L2Lan) -> TestResult<Vec<std::path::PathBuf>> {
    let mut logs = lan
        .nodes()
        .iter()
        .map(|n| Ok(lan.lab().state_dir(n, "speaker")?.join("speaker.log")))
        .collect::<TestResult<Vec<_>>>()?;
    logs.push(lan.lab().dir().join("controller.log"));
    Ok(logs)
}

/// Starts `program` of the directory `bin` ([`multicall_programs`]) in
/// `host`'s namespace (the host's own for `None`), logging to `log`.
pub fn start_program(
    lab: &Lab,
    bin: &Path,
    program: &str,
    host: Option<&Host>,
    log: &Path,
    args: &[&str],
) -> TestResult<Arc<Daemon>> {
    let path = bin.join(program).display().to_string();
    Ok(lab.start_daemon(DaemonSpec {
        name: format!("{}/{program}", host.map_or("host", |h| h.name.as_str())),
        netns: host.map(|h| &h.netns),
        program: &path,
        args: args.iter().map(|s| s.to_string()).collect(),
        output: log.to_path_buf(),
        logs: Vec::new(),
        lifetime: lab.lifetime(),
    })?)
}
