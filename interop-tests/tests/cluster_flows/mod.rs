//! What the cluster flows share: the report of each flow, checks, the
//! client's view of ARP, FerroLB's metrics, and the failover measurement.

#![allow(dead_code)]

pub mod bgp;
pub mod day2;
pub mod migration;

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use interop_tests::cluster::probe::HttpProber;
use interop_tests::cluster::{Cluster, ECHO_IMAGE};
use interop_tests::{LabError, Probe, Result, scrape};

const NS: &str = "metallb-system";

/// Lines of a failed flow's error repeated at the end of the summary.
const SUMMARY_TAIL: usize = 25;

/// Each flow's outcome, in order.
pub struct Report {
    flows: Vec<(String, Duration, std::result::Result<String, String>)>,
    /// `FERROLB_CLUSTER_FLOWS`: words of the flows to run (comma-separated;
    /// empty: all), so that one flow can be worked on without the others.
    only: Vec<String>,
    /// Every flow offered, run or not: a word that names none of them is
    /// a typo, which must not pass as a run of nothing.
    offered: Vec<String>,
}

impl Default for Report {
    fn default() -> Self {
        let only = std::env::var("FERROLB_CLUSTER_FLOWS")
            .unwrap_or_default()
            .split(',')
            .map(|w| w.trim().to_string())
            .filter(|w| !w.is_empty())
            .collect();
        Report {
            flows: Vec::new(),
            only,
            offered: Vec::new(),
        }
    }
}

impl Report {
    /// Whether `name` is selected by `FERROLB_CLUSTER_FLOWS`.
    pub fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|w| name.contains(w.as_str()))
    }

    /// Runs one flow, prints and records its outcome; true if it passed
    /// (or was not selected).
    pub fn run(&mut self, name: &str, flow: impl FnOnce() -> Result<String>) -> bool {
        self.offered.push(name.to_string());
        if !self.wants(name) {
            eprintln!("=== {name}: not selected by FERROLB_CLUSTER_FLOWS");
            return true;
        }
        self.run_always(name, flow)
    }

    /// Runs one flow whatever `FERROLB_CLUSTER_FLOWS` says (the install
    /// every other flow needs).
    pub fn run_always(&mut self, name: &str, flow: impl FnOnce() -> Result<String>) -> bool {
        eprintln!("=== {name}");
        let started = Instant::now();
        let outcome = flow().map_err(|e| e.to_string());
        let took = started.elapsed();
        match &outcome {
            Ok(what) => eprintln!("PASS {name} ({:.1} s): {what}", took.as_secs_f64()),
            Err(why) => eprintln!("FAIL {name} ({:.1} s): {why}", took.as_secs_f64()),
        }
        let passed = outcome.is_ok();
        self.flows.push((name.to_string(), took, outcome));
        passed
    }

    pub fn all_passed(&self) -> bool {
        self.flows.iter().all(|(_, _, o)| o.is_ok()) && self.unmatched().is_empty()
    }

    /// Words of `FERROLB_CLUSTER_FLOWS` that select no flow.
    fn unmatched(&self) -> Vec<&str> {
        self.only
            .iter()
            .filter(|w| !self.offered.iter().any(|n| n.contains(w.as_str())))
            .map(String::as_str)
            .collect()
    }

    pub fn summary(&self) -> String {
        let mut out = String::from("flows:\n");
        let unmatched = self.unmatched();
        if !unmatched.is_empty() {
            out.push_str(&format!(
                "    FAIL: FERROLB_CLUSTER_FLOWS words that select no flow: {unmatched:?}\n"
            ));
        }
        for (name, took, outcome) in &self.flows {
            let verdict = match outcome {
                Ok(_) => "PASS".to_string(),
                Err(e) => format!("FAIL: {}", e.lines().next().unwrap_or_default()),
            };
            out.push_str(&format!(
                "  {:6.1} s  {name}: {verdict}\n",
                took.as_secs_f64()
            ));
        }
        // A CI log is cut in the middle: the end of each failure (the
        // controller's last lines, see `with_ferrolb_logs`) goes here too.
        for (name, _, outcome) in &self.flows {
            if let Err(e) = outcome {
                // The first line is above already.
                let rest: Vec<&str> = e.lines().skip(1).collect();
                if rest.is_empty() {
                    continue;
                }
                out.push_str(&format!("--- end of {name}:\n"));
                for line in &rest[rest.len().saturating_sub(SUMMARY_TAIL)..] {
                    out.push_str(&format!("    {line}\n"));
                }
            }
        }
        out
    }
}

/// `result`, with the speakers' and controllers' last log lines added to
/// an error (the daemons' own tails come with every timeout).
pub fn with_ferrolb_logs<T>(c: &Cluster, result: Result<T>) -> Result<T> {
    result.map_err(|e| {
        // The controller last: the summary repeats an error's last lines.
        LabError::Invalid(format!(
            "{e}\n--- FerroLB's speakers:\n{}\n--- FerroLB's controller:\n{}",
            c.kubectl
                .log_tails(NS, "app.kubernetes.io/component=speaker", 15),
            c.kubectl
                .log_tails(NS, "app.kubernetes.io/component=controller", 25)
        ))
    })
}

/// An error unless `ok`.
pub fn check(ok: bool, what: String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(LabError::Invalid(format!("check failed: {what}")))
    }
}

pub fn in_range(ip: IpAddr, first: &str, last: &str) -> bool {
    match (ip, first.parse::<IpAddr>(), last.parse::<IpAddr>()) {
        (IpAddr::V4(ip), Ok(IpAddr::V4(a)), Ok(IpAddr::V4(b))) => a <= ip && ip <= b,
        _ => false,
    }
}

/// Waits until a ServiceL2Status names the node answering for the Service.
pub fn wait_owner(c: &Cluster, namespace: &str, service: &str) -> Result<String> {
    c.wait_for(
        &format!("a ServiceL2Status for {namespace}/{service}"),
        Duration::from_secs(60),
        |c| {
            Ok(match c.kubectl.l2_owner(NS, namespace, service)? {
                Some(node) if !node.is_empty() => Probe::Done(node),
                other => Probe::Pending(format!("{other:?}")),
            })
        },
    )
}

/// The client's neighbour entry (MAC) for `ip`.
pub fn neighbour_mac(c: &Cluster, ip: IpAddr) -> Result<String> {
    let json = c
        .client
        .netns
        .ip(["-j", "neigh", "show", &ip.to_string()])?;
    let entries: Vec<serde_json::Value> = serde_json::from_str(&json)
        .map_err(|e| LabError::Invalid(format!("ip -j neigh: {e}: {json}")))?;
    entries
        .iter()
        .find_map(|e| e["lladdr"].as_str().map(str::to_string))
        .ok_or_else(|| {
            LabError::Invalid(format!(
                "the client has no neighbour entry for {ip}: {json}"
            ))
        })
}

/// The client resolves `ip` to the MAC of `owner`'s LAN interface.
pub fn check_answers_arp(c: &Cluster, ip: IpAddr, owner: &str) -> Result<()> {
    let want = c.node(owner)?.host.mac()?;
    c.wait_for(
        &format!("the client to resolve {ip} to {owner}'s MAC {want}"),
        Duration::from_secs(30),
        |c| {
            let _ = c.echo(ip, 80);
            let mac = neighbour_mac(c, ip)?;
            Ok(if mac == want {
                Probe::Done(())
            } else {
                Probe::Pending(mac)
            })
        },
    )
}

/// Seed 003's LAN, 10.47.160.0/24, on the lab's LAN too: each node and the
/// client get `.index` in it; a host that already uses 10.47.160.201 joins.
pub fn add_seed_003_subnet(c: &mut Cluster) -> Result<()> {
    let mut hosts: Vec<_> = c.nodes().iter().map(|n| n.host.clone()).collect();
    hosts.push(c.client.clone());
    for h in &hosts {
        h.netns.ip([
            "addr",
            "add",
            &format!("10.47.160.{}/24", h.index),
            "dev",
            "eth0",
        ])?;
    }
    let squatter = c.lab_mut().add_host_at("squatter", 60)?;
    squatter
        .netns
        .ip(["addr", "add", "10.47.160.201/24", "dev", "eth0"])?;
    Ok(())
}

pub fn mentions_conflict(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("in use")
        || m.contains("used by another host")
        || m.contains("conflict")
        || m.contains("already")
}

/// Every speaker's metrics, by node (they run in the nodes' network
/// namespace: metrics on NODE:7472).
pub fn speaker_metrics(c: &Cluster) -> Result<Vec<(String, String)>> {
    c.nodes()
        .iter()
        .map(|node| {
            let text = c.client.netns.exec(
                "curl",
                [
                    "--silent",
                    "--max-time",
                    "3",
                    &format!("http://{}:7472/metrics", node.ipv4()),
                ],
            )?;
            Ok((node.name.clone(), text))
        })
        .collect()
}

/// `ferrolb_layer2_address_conflicts` summed over every speaker.
pub fn conflict_metric(c: &Cluster) -> Result<f64> {
    Ok(speaker_metrics(c)?
        .iter()
        .map(|(_, text)| scrape::sum(text, "ferrolb_layer2_address_conflicts"))
        .sum())
}

/// Kills the owner node of a Layer-2 Service `runs` times (its link cut, its
/// kubelet and speaker killed) and measures, from the client, how long
/// until another node answers. The failed node comes back between runs
/// (link, kubelet, a fresh speaker pod).
pub fn measure_failovers(c: &mut Cluster, runs: usize) -> Result<Vec<Duration>> {
    let pool = seed("000-ip-pool.yaml");
    c.kubectl.apply(&pool)?;
    c.kubectl.run(&[
        "create",
        "deployment",
        "failover",
        &format!("--image={ECHO_IMAGE}"),
        &format!("--replicas={}", c.nodes().len()),
    ])?;
    c.kubectl.run(&[
        "expose",
        "deployment",
        "failover",
        "--type=LoadBalancer",
        "--port=80",
        "--target-port=8080",
    ])?;
    let ip = c.wait_ingress("default", "failover", Duration::from_secs(60))?;
    c.wait_pods_ready(
        "default",
        "app=failover",
        c.nodes().len(),
        Duration::from_secs(120),
    )?;
    let mut outages = Vec::new();
    for run in 0..runs {
        c.wait_echo(ip, 80, Duration::from_secs(60))?;
        let owner = wait_owner(c, "default", "failover")?;
        let prober = HttpProber::start(&c.client, ip, 80)?;
        let warm = Instant::now();
        c.wait_for("the probes to be answered", Duration::from_secs(10), |_| {
            Ok(if prober.answered() >= 5 {
                Probe::Done(())
            } else {
                Probe::Pending(format!("{} answered", prober.answered()))
            })
        })?;
        let failed_at = Instant::now();
        c.node(&owner)?.fail("ferrolb-speaker")?;
        let answered = c.wait_for(
            &format!("another node than {owner} to answer for {ip}"),
            Duration::from_secs(60),
            |_| {
                Ok(match prober.first_answer_after(failed_at) {
                    Some(t) => Probe::Done(t),
                    None => Probe::Pending("no answer since the failure".into()),
                })
            },
        )?;
        drop(prober);
        let outage = answered.duration_since(failed_at);
        eprintln!(
            "failover run {}: {owner} failed, answered again after {:.0} ms (probing since {:.1} s)",
            run + 1,
            outage.as_secs_f64() * 1000.0,
            failed_at.duration_since(warm).as_secs_f64()
        );
        outages.push(outage);
        recover(c, &owner)?;
    }
    Ok(outages)
}

/// The failed node back: link, routes, kubelet; its dead speaker pod is
/// replaced by a fresh one (a restarted container would wait out kubelet's
/// crash back-off), and every node is Ready with a ready speaker.
fn recover(c: &mut Cluster, node: &str) -> Result<()> {
    c.recover_node(node)?;
    let speakers = c.kubectl.pods(NS, "app.kubernetes.io/component=speaker")?;
    for pod in speakers.iter().filter(|p| p.node == node) {
        c.kubectl.run(&[
            "delete",
            "pod",
            "-n",
            NS,
            &pod.name,
            "--grace-period=0",
            "--force",
        ])?;
    }
    let want = c.nodes().len();
    c.wait_for(
        &format!("{node} Ready with a ready speaker again"),
        Duration::from_secs(180),
        |c| {
            let nodes = c.kubectl.nodes()?;
            let speakers = c.kubectl.pods(NS, "app.kubernetes.io/component=speaker")?;
            let ready = speakers.iter().filter(|p| p.ready).count();
            Ok(
                if nodes.iter().all(|(_, r)| *r) && ready == want && speakers.len() == want {
                    Probe::Done(())
                } else {
                    Probe::Pending(format!("nodes {nodes:?}, speakers {speakers:?}"))
                },
            )
        },
    )
}

/// `n runs: p50 X ms, p99 Y ms, max Z ms (each: ...)`.
pub fn describe_failovers(times: &[Duration]) -> String {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        if ms.is_empty() {
            return f64::NAN;
        }
        let i = ((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
        ms[i]
    };
    format!(
        "{} runs: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (each: {})",
        ms.len(),
        pick(0.5),
        pick(0.99),
        ms.last().copied().unwrap_or(f64::NAN),
        ms.iter()
            .map(|m| format!("{m:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// No process, namespace or cgroup of a dropped cluster is left.
pub fn assert_gone(pids: &[nix::unistd::Pid], namespaces: &[String]) {
    // Killed pod processes are reaped by init a moment after their shim dies.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids
        .iter()
        .any(|p| Path::new(&format!("/proc/{p}")).exists())
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} left behind"
        );
    }
    for ns in namespaces {
        assert!(
            !Path::new("/run/netns").join(ns).exists(),
            "namespace {ns} left behind"
        );
        assert!(
            !Path::new("/sys/fs/cgroup/pids").join(ns).exists(),
            "cgroup {ns} left behind"
        );
    }
}

/// A manifest of tests/seeds, with the lab's echo image where the guide
/// names its own.
pub fn seed(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/seeds")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("ECHO_IMAGE", ECHO_IMAGE)
}

/// Removes what any flow made, so the next starts clean whether the last
/// passed or not: the default namespace's Deployments and Services (but the
/// `kubernetes` Service), FerroLB's configuration objects; waits until the
/// pods are gone.
pub fn reset(c: &Cluster) -> Result<()> {
    c.kubectl
        .run(&["delete", "deployments", "--all", "-n", "default"])?;
    // httpd as PID 1 ignores SIGTERM: no point waiting out its grace period.
    c.kubectl.run(&[
        "delete",
        "pods",
        "--all",
        "-n",
        "default",
        "--grace-period=0",
        "--force",
    ])?;
    c.kubectl.run(&[
        "delete",
        "services",
        "-n",
        "default",
        "--field-selector=metadata.name!=kubernetes",
    ])?;
    c.kubectl.run(&[
        "delete",
        "ipaddresspools.metallb.io,l2advertisements.metallb.io,bgpadvertisements.metallb.io,bgppeers.metallb.io",
        "--all",
        "-n",
        NS,
    ])?;
    for node in c.nodes() {
        c.kubectl.run(&["uncordon", &node.name])?;
    }
    c.wait_for(
        "the default namespace to have no pod left",
        Duration::from_secs(90),
        |c| {
            let pods = c.kubectl.get_json(&["pods", "-n", "default"])?;
            let left = pods["items"].as_array().map_or(0, Vec::len);
            Ok(if left == 0 {
                Probe::Done(())
            } else {
                Probe::Pending(format!("{left} pod(s)"))
            })
        },
    )
}
