//! Flow 8, day 2 (`helm upgrade` under client traffic, `helm uninstall`,
//! reinstall), and flow 1b, seed 001's Bitnami values file as an install.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use interop_tests::cluster::probe::HttpProber;
use interop_tests::cluster::{CHART_SELECTOR, Cluster, chart_dir};
use interop_tests::{LabError, Probe, Result};

use super::bgp::{Routers, service, show, spread_deployment};
use super::{NS, check, in_range, seed, wait_owner, with_ferrolb_logs};

/// The release every flow installs (seed 001's name).
pub const RELEASE: &str = "metallb";
const SPEAKERS: &str = "app.kubernetes.io/component=speaker";

fn installed(c: &Cluster) -> bool {
    c.helm.run(&["status", RELEASE, "-n", NS]).is_ok()
}

/// `helm uninstall` if the release exists; waits until FerroLB's pods are
/// gone.
pub fn uninstall(c: &Cluster) -> Result<()> {
    if installed(c) {
        c.helm.run(&["uninstall", RELEASE, "-n", NS])?;
    }
    c.wait_for("FerroLB's pods to be gone", Duration::from_secs(120), |c| {
        let pods = c.kubectl.pods(NS, CHART_SELECTOR)?;
        Ok(if pods.is_empty() {
            Probe::Done(())
        } else {
            Probe::Pending(format!("{pods:?}"))
        })
    })
}

/// A fresh `helm install` (uninstalling first) with `extra` arguments,
/// waited until every pod is ready; Helm's output (the chart's NOTES).
pub fn reinstall(c: &Cluster, extra: &[&str]) -> Result<String> {
    uninstall(c)?;
    let out = c.helm_install(RELEASE, NS, extra)?;
    c.wait_pods_ready(
        NS,
        CHART_SELECTOR,
        c.nodes().len() + 1,
        Duration::from_secs(240),
    )?;
    c.ensure_memberlist_secret(NS)?;
    Ok(out)
}

/// Installed with the default values (a flow that needs FerroLB running
/// does not depend on the previous flow having left it so).
pub fn ensure_installed(c: &Cluster) -> Result<()> {
    if !installed(c) {
        reinstall(c, &[])?;
    }
    Ok(())
}

/// Everything FerroLB may have left in its namespace or the cluster scope,
/// as `kind/name`, but what a user made (the `metallb.io` configuration
/// kinds) and what Kubernetes makes in every namespace.
pub fn leftovers(c: &Cluster) -> Result<Vec<String>> {
    let kinds = c.kubectl.run(&[
        "api-resources",
        "--verbs=list",
        "--namespaced",
        "-o",
        "name",
    ])?;
    let users = [
        "ipaddresspools.metallb.io",
        "l2advertisements.metallb.io",
        "bgpadvertisements.metallb.io",
        "bgppeers.metallb.io",
        "bfdprofiles.metallb.io",
        "communities.metallb.io",
    ];
    let kinds: Vec<&str> = kinds
        .lines()
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.starts_with("events") && !users.contains(k))
        .collect();
    let list = c.kubectl.get_json(&[&kinds.join(","), "-n", NS])?;
    let mut left: Vec<String> = list["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|o| !made_by_kubernetes(o))
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or_default(),
                o["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let cluster_wide = c.kubectl.get_json(&[
        "clusterroles,clusterrolebindings,validatingwebhookconfigurations,mutatingwebhookconfigurations,priorityclasses",
    ])?;
    left.extend(
        cluster_wide["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|o| {
                let name = o["metadata"]["name"].as_str()?;
                let ours = name.contains("ferrolb")
                    || name.contains("metallb")
                    || o["metadata"]["labels"]["app.kubernetes.io/name"] == "ferrolb";
                ours.then(|| format!("{}/{name}", o["kind"].as_str().unwrap_or_default()))
            }),
    );
    left.sort();
    Ok(left)
}

/// The kinds of what FerroLB writes while it runs (not its configuration),
/// and Leases.
const RECORDS: &str = "servicel2statuses.metallb.io,servicebgpstatuses.metallb.io,bgpsessionstates.metallb.io,nodeannouncementstates.metallb.io,configurationstates.metallb.io,leases.coordination.k8s.io";

/// What FerroLB wrote while it ran (status objects, Leases), in every
/// namespace, as `kind/namespace/name`: its owner references hand them to
/// the garbage collector when the speakers' Pods and the controller's
/// Deployment go. Leases of Kubernetes' own (kube-node-lease's heartbeats)
/// are not FerroLB's.
fn records(c: &Cluster) -> Result<Vec<String>> {
    let list = c.kubectl.get_json(&[RECORDS, "-A"])?;
    let mut left: Vec<String> = list["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|o| {
            let m = &o["metadata"];
            let ns = m["namespace"].as_str().unwrap_or_default();
            let kind = o["kind"].as_str().unwrap_or_default();
            (kind, ns, m["name"].as_str().unwrap_or_default())
        })
        .filter(|(kind, ns, _)| !(*kind == "Lease" && *ns == "kube-node-lease"))
        .map(|(kind, ns, name)| format!("{kind}/{ns}/{name}"))
        .collect();
    left.sort();
    Ok(left)
}

/// The default ServiceAccount and its token, and the root CA ConfigMap,
/// which Kubernetes puts in every namespace.
fn made_by_kubernetes(o: &serde_json::Value) -> bool {
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    match o["kind"].as_str().unwrap_or_default() {
        "ServiceAccount" => name == "default",
        "Secret" => {
            o["type"] == "kubernetes.io/service-account-token"
                && o["metadata"]["annotations"]["kubernetes.io/service-account.name"] == "default"
        }
        "ConfigMap" => name == "kube-root-ca.crt",
        _ => false,
    }
}

/// The metallb.io CRDs in the cluster.
fn metallb_crds(c: &Cluster) -> Result<BTreeSet<String>> {
    let names = c.kubectl.run(&["get", "crd", "-o", "name"])?;
    Ok(names
        .lines()
        .filter(|l| l.ends_with(".metallb.io"))
        .map(str::to_string)
        .collect())
}

/// The CRDs the chart ships (`crds/`), as `kubectl get crd -o name` names.
fn chart_crds() -> Result<BTreeSet<String>> {
    let dir = chart_dir().join("crds");
    let entries =
        std::fs::read_dir(&dir).map_err(|e| LabError::io(format!("{}", dir.display()), e))?;
    Ok(entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (group, plural) = name.strip_suffix(".yaml")?.split_once('_')?;
            Some(format!(
                "customresourcedefinition.apiextensions.k8s.io/{plural}.{group}"
            ))
        })
        .collect())
}

/// Waits until the client gets no ARP answer for `ip` (its entry flushed
/// before each try) and so no HTTP answer either.
fn wait_unanswered(c: &Cluster, ip: IpAddr) -> Result<()> {
    c.wait_for(
        &format!("no node to answer for {ip}"),
        Duration::from_secs(60),
        |c| {
            c.client
                .netns
                .ip(["neigh", "flush", "to", &ip.to_string()])?;
            Ok(match c.echo(ip, 80) {
                Ok(reply) => Probe::Pending(format!("answered by {}", reply.pod)),
                Err(_) => match super::neighbour_mac(c, ip) {
                    Ok(mac) => Probe::Pending(format!("resolved to {mac}")),
                    Err(_) => Probe::Done(()),
                },
            })
        },
    )
}

fn speaker_names(c: &Cluster) -> Result<BTreeSet<String>> {
    Ok(c.kubectl
        .pods(NS, SPEAKERS)?
        .into_iter()
        .map(|p| p.name)
        .collect())
}

/// The controller's Deployment, as JSON.
fn controller_deployment(c: &Cluster) -> Result<serde_json::Value> {
    let list = c.kubectl.get_json(&[
        "deployment",
        "-n",
        NS,
        "-l",
        "app.kubernetes.io/component=controller",
    ])?;
    Ok(list["items"][0].clone())
}

/// An object (`kind/name`) and its owners (kind, UID).
type Owned = (String, Vec<(String, String)>);

/// After the speakers rolled: every status object a speaker wrote names a
/// running speaker Pod as its only owner (rewritten by the new Pod, not
/// left to be collected with the old one), and the controller's
/// ConfigurationState and Lease name its Deployment.
fn owners_after_roll(c: &Cluster) -> Result<()> {
    let pods: BTreeSet<String> = c.kubectl.get_json(&["pods", "-n", NS, "-l", SPEAKERS])?["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p["metadata"]["uid"].as_str().map(str::to_string))
        .collect();
    let owners = |kinds: &str| -> Result<Vec<Owned>> {
        let list = c.kubectl.get_json(&[kinds, "-n", NS])?;
        Ok(list["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|o| {
                let name = format!("{}/{}", o["kind"], o["metadata"]["name"]);
                let refs = o["metadata"]["ownerReferences"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|r| {
                        let kind = r["kind"].as_str().unwrap_or_default().to_string();
                        (kind, r["uid"].as_str().unwrap_or_default().to_string())
                    })
                    .collect();
                (name, refs)
            })
            .collect())
    };
    // The roll is over when the last speaker is ready; its first writes
    // may still be on their way.
    c.wait_for(
        "the speakers' status objects owned by the new Pods",
        Duration::from_secs(30),
        |_| {
            let speakers = owners(
                "servicel2statuses.metallb.io,servicebgpstatuses.metallb.io,bgpsessionstates.metallb.io,nodeannouncementstates.metallb.io",
            )?;
            let by_running_pod =
                |refs: &[(String, String)]| matches!(refs, [(kind, uid)] if kind == "Pod" && pods.contains(uid));
            let wrong: Vec<_> = speakers.iter().filter(|(_, refs)| !by_running_pod(refs)).collect();
            Ok(if !speakers.is_empty() && wrong.is_empty() {
                Probe::Done(())
            } else {
                let n = speakers.len();
                Probe::Pending(format!("{n} objects, not owned by a running speaker: {wrong:?}"))
            })
        },
    )?;
    let uid = controller_deployment(c)?["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let controller = owners("configurationstates.metallb.io,leases.coordination.k8s.io")?;
    check(
        !controller.is_empty()
            && controller
                .iter()
                .all(|(_, refs)| refs == &[("Deployment".to_string(), uid.clone())]),
        format!(
            "the ConfigurationState and the Lease owned by the controller's Deployment {uid}: {controller:?}"
        ),
    )
}

/// Flow 8.
pub fn flow(c: &Cluster, r: &Routers) -> Result<String> {
    with_ferrolb_logs(c, steps(c, r))
}

fn steps(c: &Cluster, r: &Routers) -> Result<String> {
    ensure_installed(c)?;
    let mut said = Vec::new();
    let all: Vec<String> = {
        let mut all: Vec<String> = c.nodes().iter().map(|n| n.name.clone()).collect();
        all.sort();
        all
    };
    c.kubectl.apply(&seed("000-ip-pool.yaml"))?;
    c.kubectl.apply(&r.config("bgp-pool"))?;
    c.kubectl
        .apply(&spread_deployment("day2", c.nodes().len()))?;
    c.kubectl
        .apply(&service("day2-l2", "day2", "192.168.1.205", "Cluster"))?;
    c.kubectl
        .apply(&service("day2-bgp", "day2", "198.51.100.30", "Cluster"))?;
    let l2 = c.wait_ingress("default", "day2-l2", Duration::from_secs(60))?;
    let bgp = c.wait_ingress("default", "day2-bgp", Duration::from_secs(60))?;
    c.wait_pods_ready(
        "default",
        "app=day2",
        c.nodes().len(),
        Duration::from_secs(120),
    )?;
    c.wait_echo(l2, 80, Duration::from_secs(30))?;
    wait_owner(c, "default", "day2-l2")?;
    r.wait_next_hops(c, bgp, &all)?;
    c.wait_echo(bgp, 80, Duration::from_secs(30))?;

    // helm upgrade with a changed value of the pod template: the speakers
    // roll, one node at a time, while the client probes both addresses.
    // (`logLevel` would not roll them: it reaches the pods through a
    // mounted ConfigMap, ADR 0010.)
    let old = speaker_names(c)?;
    let probers = [
        HttpProber::start(&c.client, l2, 80)?,
        HttpProber::start(&c.client, bgp, 80)?,
    ];
    c.wait_for("the probes to be answered", Duration::from_secs(10), |_| {
        Ok(if probers.iter().all(|p| p.answered() >= 5) {
            Probe::Done(())
        } else {
            Probe::Pending("not yet".into())
        })
    })?;
    let upgrade_started = Instant::now();
    let chart = chart_dir().display().to_string();
    let upgraded = c.helm.run(&[
        "upgrade",
        RELEASE,
        &chart,
        "-n",
        NS,
        "--reuse-values",
        "--set",
        "speaker.logFormat=text",
        "--server-side=false",
    ])?;
    let want = c.nodes().len();
    c.wait_for(
        "every speaker replaced by a ready one",
        Duration::from_secs(300),
        |c| {
            let pods = c.kubectl.pods(NS, SPEAKERS)?;
            let fresh = pods
                .iter()
                .filter(|p| p.ready && !old.contains(&p.name))
                .count();
            Ok(if fresh == want && pods.len() == want {
                Probe::Done(())
            } else {
                Probe::Pending(format!("{pods:?}"))
            })
        },
    )?;
    let rolled = Instant::now();
    eprintln!("$ helm upgrade ... --reuse-values --set speaker.logFormat=text\n{upgraded}");
    show(c, &["get", "pods", "-n", NS, "-o", "wide"]);
    // Both addresses answered again after the roll, then the gaps.
    c.wait_for(
        "both addresses answered after the roll",
        Duration::from_secs(60),
        |_| {
            Ok(
                if probers
                    .iter()
                    .all(|p| p.first_answer_after(rolled).is_some())
                {
                    Probe::Done(())
                } else {
                    Probe::Pending("not yet".into())
                },
            )
        },
    )?;
    let ended = Instant::now();
    let gaps: Vec<Duration> = probers
        .iter()
        .map(|p| p.longest_gap(upgrade_started, ended))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| LabError::Invalid("an address was never answered".into()))?;
    drop(probers);
    let args = c.kubectl.get_json(&[
        "daemonset",
        "-n",
        NS,
        "-l",
        "app.kubernetes.io/component=speaker",
    ])?;
    check(
        args.to_string().contains("--log-format=text"),
        "the speakers run with the upgraded value (--log-format=text)".into(),
    )?;
    for (name, ip) in [("day2-l2", l2), ("day2-bgp", bgp)] {
        let now = c.kubectl.service("default", name)?.ingress;
        check(
            now == [ip],
            format!("{name} kept {ip} over the upgrade: {now:?}"),
        )?;
    }
    owners_after_roll(c)?;
    let upgrade = format!(
        "helm upgrade (speaker.logFormat=text): {want} speakers rolled in {:.1} s; longest gap seen by the client: Layer 2 {l2} {:.0} ms, BGP {bgp} {:.0} ms",
        rolled.duration_since(upgrade_started).as_secs_f64(),
        gaps[0].as_secs_f64() * 1000.0,
        gaps[1].as_secs_f64() * 1000.0
    );
    eprintln!("{upgrade}");
    said.push(upgrade);

    // helm uninstall: nothing announces any more; nothing of FerroLB's is
    // left but the CRDs.
    let crds = metallb_crds(c)?;
    uninstall(c)?;
    show(
        c,
        &[
            "get",
            "all,secrets,serviceaccounts,roles,rolebindings,leases",
            "-n",
            NS,
        ],
    );
    show(
        c,
        &[
            "get",
            "servicel2statuses,servicebgpstatuses,bgpsessionstates,configurationstates",
            "-n",
            NS,
        ],
    );
    r.wait_next_hops(c, bgp, &[])?;
    wait_unanswered(c, l2)?;
    // Helm removes the workloads, RBAC, ServiceAccounts and the memberlist
    // Secret; the garbage collector removes what FerroLB wrote (owned by
    // the speakers' Pods and the controller's Deployment).
    let collected = Instant::now();
    c.wait_for(
        "helm uninstall to leave nothing of FerroLB's but the CRDs",
        Duration::from_secs(90),
        |c| {
            let mut left = leftovers(c)?;
            left.extend(records(c)?);
            Ok(if left.is_empty() {
                Probe::Done(())
            } else {
                Probe::Pending(format!("left: {left:?}"))
            })
        },
    )?;
    let collected = collected.elapsed();
    show(c, &["get", RECORDS, "-A"]);
    let crds_after = metallb_crds(c)?;
    check(
        crds_after == crds && crds == chart_crds()?,
        format!("the CRDs stay: {crds_after:?}, were {crds:?}"),
    )?;
    said.push(format!(
        "helm uninstall: both addresses unannounced (no route in FRR's or BIRD's kernel, no ARP answer); left: the {} CRDs only (records collected {:.1} s after the routes and ARP answers were gone)",
        crds_after.len(),
        collected.as_secs_f64()
    ));

    // Reinstall: every Service keeps its address, announced again.
    reinstall(c, &[])?;
    for (name, ip) in [("day2-l2", l2), ("day2-bgp", bgp)] {
        let now = c.kubectl.service("default", name)?.ingress;
        check(
            now == [ip],
            format!("{name} kept {ip} on reinstall: {now:?}"),
        )?;
    }
    c.wait_echo(l2, 80, Duration::from_secs(60))?;
    r.wait_next_hops(c, bgp, &all)?;
    c.wait_echo(bgp, 80, Duration::from_secs(30))?;
    show(c, &["get", "svc"]);
    said.push(format!(
        "reinstall: day2-l2 kept {l2}, day2-bgp kept {bgp}; both reached again"
    ));
    Ok(said.join("\n"))
}

/// Flow 1b: seed 001's Bitnami values file (`configInline` pools,
/// speaker tolerations, controller resources) as the install. The first
/// node carries the taint the tolerations are for while it runs; the
/// Bitnami install stays.
pub fn bitnami(c: &Cluster) -> Result<String> {
    let tainted = c.nodes()[0].name.clone();
    let taint = "node-role.kubernetes.io/master=:NoSchedule";
    c.kubectl.run(&["taint", "node", &tainted, taint])?;
    let outcome = with_ferrolb_logs(c, bitnami_steps(c, &tainted));
    let untaint = c
        .kubectl
        .run(&["taint", "node", &tainted, "node-role.kubernetes.io/master-"]);
    // The Bitnami install stays: the next flow installs as it needs.
    let out = outcome?;
    untaint?;
    Ok(out)
}

fn bitnami_steps(c: &Cluster, tainted: &str) -> Result<String> {
    let values = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seeds/001-bitnami-values.yaml");
    let values = values.display().to_string();
    let notes = reinstall(c, &["--values", &values])?;
    eprintln!(
        "$ helm install metallb charts/ferrolb --values 001-bitnami-values.yaml ...\n{notes}"
    );
    show(c, &["get", "ipaddresspools,l2advertisements", "-n", NS]);
    check(
        notes.contains("configInline was rendered as metallb.io objects"),
        format!("helm's NOTES say where configInline went:\n{notes}"),
    )?;
    // configInline's two layer2 pools, as pools + L2Advertisements.
    let pools = c
        .kubectl
        .get_json(&["ipaddresspools.metallb.io", "-n", NS])?;
    let mut got: Vec<String> = pools["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|p| format!("{}={}", p["metadata"]["name"], p["spec"]["addresses"]))
        .collect();
    got.sort();
    check(
        got == [
            r#""critical-services"=["192.168.1.100-192.168.1.110"]"#,
            r#""default"=["192.168.1.200-192.168.1.250"]"#,
        ],
        format!("configInline's pools: {got:?}"),
    )?;
    let l2 = c
        .kubectl
        .run(&["get", "l2advertisements.metallb.io", "-n", NS, "-o", "name"])?;
    check(
        l2.contains("/default") && l2.contains("/critical-services"),
        format!("configInline's L2Advertisements: {l2}"),
    )?;
    // The toleration lets a speaker run on the tainted node.
    let speakers = c.kubectl.pods(NS, SPEAKERS)?;
    check(
        speakers.iter().any(|p| p.node == tainted && p.ready),
        format!("a ready speaker on {tainted} (tainted master:NoSchedule): {speakers:?}"),
    )?;
    let controller = controller_deployment(c)?;
    let resources = &controller["spec"]["template"]["spec"]["containers"][0]["resources"];
    check(
        resources["limits"]["cpu"] == "200m"
            && resources["limits"]["memory"] == "256Mi"
            && resources["requests"]["cpu"] == "100m"
            && resources["requests"]["memory"] == "128Mi",
        format!("the controller's resources: {resources}"),
    )?;
    // A user's smoke test against it.
    c.kubectl.run(&[
        "create",
        "deployment",
        "bitnami",
        &format!("--image={}", interop_tests::cluster::ECHO_IMAGE),
    ])?;
    c.kubectl.run(&[
        "expose",
        "deployment",
        "bitnami",
        "--type=LoadBalancer",
        "--port=80",
        "--target-port=8080",
    ])?;
    let ip = c.wait_ingress("default", "bitnami", Duration::from_secs(60))?;
    check(
        in_range(ip, "192.168.1.200", "192.168.1.250")
            || in_range(ip, "192.168.1.100", "192.168.1.110"),
        format!("bitnami got {ip}, from a configInline pool"),
    )?;
    c.wait_pods_ready("default", "app=bitnami", 1, Duration::from_secs(120))?;
    let reply = c.wait_echo(ip, 80, Duration::from_secs(30))?;
    let owner = wait_owner(c, "default", "bitnami")?;
    show(c, &["get", "svc", "bitnami"]);
    let pool = c
        .kubectl
        .service("default", "bitnami")?
        .annotations
        .iter()
        .find(|(k, _)| k.ends_with("ip-allocated-from-pool"))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    Ok(format!(
        "configInline -> pools {got:?} + L2Advertisements; speaker on tainted {tainted}; controller resources as given; bitnami got {ip} (pool {pool}), answered by {} via {owner}",
        reply.pod
    ))
}
