//! Flow 6, BGP mode: every node peers with an FRR and a BIRD router on the
//! LAN; the routers' kernels hold one route per Service address with a next
//! hop per announcing node (ECMP); with `externalTrafficPolicy: Local` the
//! next hops are the nodes that run a ready endpoint and follow the pods; a
//! drained node labelled `node.kubernetes.io/exclude-from-external-load-balancers`
//! withdraws. The client reaches the addresses through the routers.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

pub use interop_tests::cluster::routers::{Routers, THROUGH_BIRD};
use interop_tests::cluster::{Cluster, ECHO_IMAGE};
use interop_tests::{Probe, Result};

use super::{NS, check, with_ferrolb_logs};

const EXCLUDE: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

/// An echo Deployment with `replicas` pods, at most one per node, that
/// stop at once (the echo server ignores SIGTERM).
pub fn spread_deployment(name: &str, replicas: usize) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: default}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {{matchLabels: {{app: {name}}}}}
            topologyKey: kubernetes.io/hostname
      containers:
      - {{name: echo, image: {ECHO_IMAGE}, ports: [{{containerPort: 8080}}]}}
"
    )
}

/// A LoadBalancer Service for the pods `app=app` asking for `ip`.
pub fn service(name: &str, app: &str, ip: &str, policy: &str) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: default
  annotations: {{metallb.io/loadBalancerIPs: \"{ip}\"}}
spec:
  type: LoadBalancer
  externalTrafficPolicy: {policy}
  selector: {{app: {app}}}
  ports: [{{port: 80, targetPort: 8080}}]
"
    )
}

/// Nodes running a ready pod `app=app` that is not being deleted.
fn endpoint_nodes(c: &Cluster, app: &str) -> Result<Vec<String>> {
    let pods = c
        .kubectl
        .get_json(&["pods", "-n", "default", "-l", &format!("app={app}")])?;
    let mut nodes: Vec<String> = pods["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| {
            p["status"]["conditions"].as_array().is_some_and(|list| {
                list.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
        .filter_map(|p| p["spec"]["nodeName"].as_str().map(str::to_string))
        .collect();
    nodes.sort();
    nodes.dedup();
    Ok(nodes)
}

/// Waits until `count` pods of `app` are ready on distinct nodes and both
/// routers route `ip` through exactly those nodes; returns the nodes.
fn wait_hops_follow_pods(
    c: &Cluster,
    r: &Routers,
    app: &str,
    count: usize,
    ip: IpAddr,
) -> Result<Vec<String>> {
    let nodes = c.wait_for(
        &format!("{count} ready pod(s) app={app}, none terminating"),
        Duration::from_secs(120),
        |c| {
            let nodes = endpoint_nodes(c, app)?;
            let all = c.kubectl.pods("default", &format!("app={app}"))?;
            Ok(if nodes.len() == count && all.len() == count {
                Probe::Done(nodes)
            } else {
                Probe::Pending(format!("ready on {nodes:?}; pods {all:?}"))
            })
        },
    )?;
    r.wait_next_hops(c, ip, &nodes)?;
    Ok(nodes)
}

fn all_nodes(c: &Cluster) -> Vec<String> {
    let mut all: Vec<String> = c.nodes().iter().map(|n| n.name.clone()).collect();
    all.sort();
    all
}

/// Prints `kubectl args` and its output, for the walkthrough in
/// docs/kubernetes.md.
pub fn show(c: &Cluster, args: &[&str]) {
    let out = c.kubectl.run(args).unwrap_or_else(|e| e.to_string());
    eprintln!("$ kubectl {}\n{out}", args.join(" "));
}

/// The flow; its findings in one line each.
pub fn flow(c: &Cluster, r: &Routers) -> Result<String> {
    with_ferrolb_logs(c, steps(c, r))
}

fn steps(c: &Cluster, r: &Routers) -> Result<String> {
    let mut said = Vec::new();
    c.kubectl.apply(&r.config("bgp-pool"))?;
    let all = all_nodes(c);

    // externalTrafficPolicy Cluster: every node announces.
    c.kubectl.apply(&spread_deployment("web", 1))?;
    c.kubectl
        .apply(&service("web", "web", "198.51.100.10", "Cluster"))?;
    let web = c.wait_ingress("default", "web", Duration::from_secs(60))?;
    check(
        web == IpAddr::from([198, 51, 100, 10]),
        format!("web got {web}"),
    )?;
    c.wait_pods_ready("default", "app=web", 1, Duration::from_secs(120))?;
    r.wait_next_hops(c, web, &all)?;
    let reply = c.wait_echo(web, 80, Duration::from_secs(30))?;
    show(c, &["get", "svc", "web"]);
    show(c, &["get", "bgpsessionstates.metallb.io", "-n", NS]);
    show(c, &["get", "servicebgpstatuses.metallb.io", "-n", NS]);
    for router in [&r.frr_host, &r.bird_host] {
        let table = router.netns.ip(["route", "show", &web.to_string()]);
        eprintln!(
            "$ ip route show {web}   # on {}\n{}",
            router.name,
            table.unwrap_or_else(|e| e.to_string())
        );
    }
    said.push(format!(
        "ETP Cluster {web}: FRR and BIRD route via {all:?}; pod {} answered",
        reply.pod
    ));

    // externalTrafficPolicy Local: the nodes with an endpoint, following
    // the pods as they scale and move.
    let local = IpAddr::V4(THROUGH_BIRD);
    c.kubectl.apply(&spread_deployment("local", 2))?;
    c.kubectl
        .apply(&service("local", "local", &local.to_string(), "Local"))?;
    check(
        c.wait_ingress("default", "local", Duration::from_secs(60))? == local,
        "local got its address".into(),
    )?;
    let two = wait_hops_follow_pods(c, r, "local", 2, local)?;
    let reply = c.wait_echo(local, 80, Duration::from_secs(30))?;
    check(
        reply.client == IpAddr::V4(c.client.ipv4),
        format!(
            "through BIRD the echo server saw {} (want the client, {})",
            reply.client, c.client.ipv4
        ),
    )?;
    c.kubectl
        .run(&["scale", "deployment", "local", "--replicas=1"])?;
    let one = wait_hops_follow_pods(c, r, "local", 1, local)?;
    check(
        two.contains(&one[0]),
        format!("scaled down to {one:?}, from {two:?}"),
    )?;
    // Move the last endpoint: cordon its node, delete its pod.
    c.kubectl.run(&["cordon", &one[0]])?;
    c.kubectl
        .run(&["delete", "pods", "-n", "default", "-l", "app=local"])?;
    let moved = wait_hops_follow_pods(c, r, "local", 1, local)?;
    c.kubectl.run(&["uncordon", &one[0]])?;
    check(moved != one, format!("the endpoint moved from {one:?}"))?;
    c.wait_echo(local, 80, Duration::from_secs(30))?;
    said.push(format!(
        "ETP Local {local}: next hops {two:?} -> scaled to 1: {one:?} -> moved: {moved:?}"
    ));

    // A drained node, excluded from external load balancers, withdraws.
    let drained = all
        .iter()
        .find(|n| **n != moved[0])
        .cloned()
        .unwrap_or_default();
    c.kubectl.run(&[
        "drain",
        &drained,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--grace-period=1",
        "--timeout=120s",
    ])?;
    c.kubectl
        .run(&["label", "node", &drained, &format!("{EXCLUDE}=")])?;
    let rest: Vec<String> = all.iter().filter(|n| **n != drained).cloned().collect();
    let restored = (|| {
        r.wait_next_hops(c, web, &rest)?;
        c.wait_echo(web, 80, Duration::from_secs(30))?;
        let after: BTreeSet<String> = endpoint_nodes(c, "local")?.into_iter().collect();
        check(
            !after.contains(&drained),
            format!("no endpoint of local on drained {drained}: {after:?}"),
        )
    })();
    // Undone whatever happened, so later flows get every node back.
    c.kubectl.run(&["uncordon", &drained])?;
    c.kubectl
        .run(&["label", "node", &drained, &format!("{EXCLUDE}-")])?;
    restored?;
    r.wait_next_hops(c, web, &all)?;
    said.push(format!(
        "drained + {EXCLUDE}: {drained} withdrew {web} (via {rest:?}); back after uncordon"
    ));
    Ok(said.join("\n"))
}
