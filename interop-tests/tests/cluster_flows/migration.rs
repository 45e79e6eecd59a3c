//! Flow 9, migration from MetalLB: the cluster as MetalLB leaves it — the
//! `metallb.io` CRDs and objects, Services holding addresses in their
//! status with the `metallb.universe.tf/ip-allocated-from-pool` annotation,
//! no FerroLB. Written with kubectl exactly as MetalLB's controller writes
//! them, none being the address a fresh allocation would give. Installing
//! FerroLB changes no address and announces them all.
//!
//! The CRDs are FerroLB's (the same `metallb.io` API; MetalLB's own files
//! are not part of this project).

use std::net::IpAddr;
use std::time::Duration;

use interop_tests::Result;
use interop_tests::cluster::Cluster;

use super::bgp::{Routers, spread_deployment};
use super::day2::{reinstall, uninstall};
use super::{NS, check, wait_owner, with_ferrolb_logs};

const LEGACY_POOL: &str = "legacy";
/// What MetalLB assigned: not the first addresses of their pools.
const ASSIGNED: [(&str, &str, &str); 3] = [
    ("legacy-a", LEGACY_POOL, "192.168.1.225"),
    ("legacy-b", LEGACY_POOL, "192.168.1.222"),
    ("legacy-bgp", "bgp-pool", "198.51.100.77"),
];

/// A LoadBalancer Service as a user writes it (no address asked).
fn plain_service(name: &str, app: &str) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
  type: LoadBalancer
  selector: {{app: {app}}}
  ports: [{{port: 80, targetPort: 8080}}]
"
    )
}

/// What MetalLB's controller writes on a Service it served: the pool
/// annotation and `status.loadBalancer.ingress`.
fn write_as_metallb(c: &Cluster, name: &str, pool: &str, ip: &str) -> Result<()> {
    c.kubectl.run(&[
        "annotate",
        "service",
        "-n",
        "default",
        name,
        &format!("metallb.universe.tf/ip-allocated-from-pool={pool}"),
    ])?;
    let mut svc = c.kubectl.get_json(&["service", "-n", "default", name])?;
    svc["status"] = serde_json::json!({"loadBalancer": {"ingress": [{"ip": ip}]}});
    c.kubectl.replace_raw(
        &format!("/api/v1/namespaces/default/services/{name}/status"),
        &svc,
    )?;
    Ok(())
}

pub fn flow(c: &Cluster, r: &Routers) -> Result<String> {
    with_ferrolb_logs(c, steps(c, r))
}

fn steps(c: &Cluster, r: &Routers) -> Result<String> {
    uninstall(c)?;
    let legacy = format!(
        "apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: {LEGACY_POOL}, namespace: {NS}}}
spec:
  addresses: [192.168.1.220-192.168.1.229]
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {{name: {LEGACY_POOL}, namespace: {NS}}}
spec:
  ipAddressPools: [{LEGACY_POOL}]
"
    );
    c.kubectl.apply(&legacy)?;
    c.kubectl.apply(&r.config("bgp-pool"))?;
    c.kubectl.apply(&spread_deployment("legacy", 2))?;
    for (name, pool, ip) in ASSIGNED {
        c.kubectl.apply(&plain_service(name, "legacy"))?;
        write_as_metallb(c, name, pool, ip)?;
    }
    for (name, _, ip) in ASSIGNED {
        let held = c.kubectl.service("default", name)?.ingress;
        check(
            held == [ip.parse::<IpAddr>().expect("literal")],
            format!("{name} holds {ip} before FerroLB: {held:?}"),
        )?;
    }
    c.wait_pods_ready("default", "app=legacy", 2, Duration::from_secs(120))?;

    reinstall(c, &[])?;
    let all: Vec<String> = {
        let mut all: Vec<String> = c.nodes().iter().map(|n| n.name.clone()).collect();
        all.sort();
        all
    };
    let mut said = Vec::new();
    for (name, _, ip) in ASSIGNED {
        let addr: IpAddr = ip.parse().expect("literal");
        let owner = if name == "legacy-bgp" {
            r.wait_next_hops(c, addr, &all)?;
            format!("routes via {all:?}")
        } else {
            wait_owner(c, "default", name)?
        };
        let reply = c.wait_echo(addr, 80, Duration::from_secs(60))?;
        said.push(format!("{name} {ip} ({owner}, pod {})", reply.pod));
    }
    // Announced means the controller has seen them: still the same.
    for (name, _, ip) in ASSIGNED {
        let now = c.kubectl.service("default", name)?.ingress;
        check(
            now == [ip.parse::<IpAddr>().expect("literal")],
            format!("{name} kept {ip}: {now:?}"),
        )?;
        let moved = c
            .kubectl
            .events("default", "Service", name)?
            .into_iter()
            .find(|e| e.reason == "IPAllocated" && !e.message.contains(ip));
        check(
            moved.is_none(),
            format!("no other address allocated to {name}: {moved:?}"),
        )?;
    }
    Ok(format!(
        "MetalLB's assignments kept and announced: {}",
        said.join(", ")
    ))
}
