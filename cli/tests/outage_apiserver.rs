//! Issue 18, scenario 5: the API server goes away for a while, with the
//! controller and two speakers running (the `ferrolb` binary under both
//! names, as in the container image) and announcing to BIRD. First
//! kube-apiserver is stopped, then, separately, etcd; each comes back with
//! the same data, port and certificates.
//!
//! Must never happen (asserted): a route withdrawn or changed in the
//! router's kernel (a netlink monitor in its namespace sees every change),
//! a path missing from its RIB afterwards, a Service rewritten by the
//! controller (resourceVersion and managedFields unchanged), a component
//! exiting, or a client retrying without backoff (connection attempts,
//! counted by each component's relay to the API server, at most
//! [`MAX_ATTEMPTS_PER_SECOND`] per second of outage: a hot loop makes
//! thousands). Reported: the CPU time each component used during the
//! outage, its attempts, and how long after the restart a new Service was
//! assigned and announced.
//!
//! The same outage in Layer-2 mode: three speakers on the Layer-2 lab,
//! a client asking who has the address every 5 ms. Must never happen: the
//! owner going silent (no withdrawal because a watch failed), the address
//! moving, or two nodes answering, during the outage or after the restart.
//!
//! The outage lasts `FERROLB_OUTAGE_SECS` seconds (20 by default, for CI;
//! the figures in docs/reliability.md come from 60).

#[path = "../../interop-tests/tests/cluster_support/mod.rs"]
mod cluster;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster::lab_nodes::{
    NODE_AS, ROUTER_AS, configure_bgp, create_node, layer2_cluster, layer2_logs, log_tails,
    multicall_programs, start_program,
};
use cluster::*;
use futures::StreamExt;
use interop_tests::apiserver::Part;
use interop_tests::daemon::Daemon;
use interop_tests::forward::Forward;
use interop_tests::kernel::{self, RouteEvents, RouteMonitor};
use interop_tests::l2::{L2Lan, Seen, WhoHas};
use interop_tests::{Bird, Family, Host, Lab, Probe, Router, RouterConfig};
use k8s_openapi::api::core::v1::Service;
use kube::Client;

/// Services announced through the outage.
const SERVICES: usize = 20;
const CONVERGE: Duration = Duration::from_secs(60);
/// Generous: the client's backoff (0.8 s doubling to 30 s per watch) makes
/// well under one attempt per second per process; a loop without backoff
/// makes thousands.
const MAX_ATTEMPTS_PER_SECOND: u64 = 10;

fn outage() -> Duration {
    let secs = std::env::var("FERROLB_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    Duration::from_secs(secs)
}

/// A component of FerroLB under test: its process and the relay it reaches
/// the API server through.
struct Component {
    name: String,
    daemon: Arc<Daemon>,
    relay: Forward,
}

impl Component {
    fn cpu(&self) -> TestResult<Duration> {
        let pid = self.daemon.pid().ok_or("no pid")?;
        Ok(interop_tests::procfs::cpu_time(pid)?)
    }
}

/// What a component did during an outage.
#[derive(Debug)]
struct Cost {
    cpu: Duration,
    attempts: u64,
}

/// The lab: BIRD on r1, speakers on n1 and n2, the controller on c1.
struct Setup {
    lab: Lab,
    r1: Host,
    nodes: [Host; 2],
    controller_host: Host,
    bird: Bird,
    logs: Vec<PathBuf>,
}

fn setup(tag: &str) -> TestResult<Setup> {
    let mut lab = Lab::new(tag)?;
    let r1 = lab.add_host("r1")?;
    let n1 = lab.add_host_at("n1", 11)?;
    let n2 = lab.add_host_at("n2", 12)?;
    let controller_host = lab.add_host_at("c1", 20)?;
    let bird = Bird::start(
        &lab,
        &r1,
        &RouterConfig::facing_speakers(ROUTER_AS, &r1, &[&n1, &n2], NODE_AS),
    )?;
    let logs = vec![
        lab.dir().join("controller.log"),
        lab.state_dir(&n1, "speaker")?.join("speaker.log"),
        lab.state_dir(&n2, "speaker")?.join("speaker.log"),
    ];
    Ok(Setup {
        lab,
        r1,
        nodes: [n1, n2],
        controller_host,
        bird,
        logs,
    })
}

#[test]
fn an_api_server_outage_withdraws_nothing_rewrites_nothing_and_backs_off() -> TestResult {
    let s = setup("outage")?;
    let outcome = block_on(scenario(&s));
    outcome.map_err(|e| format!("{e}\n{}", log_tails(&s.logs, 25)).into())
}

async fn scenario(s: &Setup) -> TestResult {
    let bin = multicall_programs(&s.lab, Path::new(env!("CARGO_BIN_EXE_ferrolb")))?;
    let cluster = Cluster::start().await?;
    let admin = cluster.admin.clone();
    configure_bgp(&admin, &s.r1, "198.51.100.0/24", Some("1s")).await?;
    for n in &s.nodes {
        create_node(&admin, n).await?;
    }
    let api: std::net::SocketAddr = format!("127.0.0.1:{}", cluster.server.port()).parse()?;
    let controller_args = cluster.controller_args();
    let controller_args: Vec<&str> = controller_args.iter().map(String::as_str).collect();
    let controller = Component {
        name: "controller".into(),
        relay: Forward::start(&s.controller_host.netns, api)?,
        daemon: start_program(
            &s.lab,
            &bin,
            "ferrolb-controller",
            Some(&s.controller_host),
            &s.logs[0],
            &controller_args,
        )?,
    };
    let mut components = vec![controller];
    for (n, log) in s.nodes.iter().zip(&s.logs[1..]) {
        let args = cluster.speaker_args(&n.name);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        components.push(Component {
            name: format!("speaker {}", n.name),
            relay: Forward::start(&n.netns, api)?,
            daemon: start_program(&s.lab, &bin, "ferrolb-speaker", Some(n), log, &args)?,
        });
    }

    let names: Vec<String> = (0..SERVICES).map(|i| format!("svc-{i:02}")).collect();
    futures::stream::iter(names.clone())
        .map(|n| {
            let admin = admin.clone();
            async move {
                create(&admin, lb_service(&n, &[], 80)).await?;
                set_endpoint(&admin, &n, "n1", true).await
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<TestResult<Vec<_>>>()?;
    let mut held = settled(&admin, &names).await?;
    let prefixes: Vec<ipnet::IpNet> = held
        .values()
        .map(|w| format!("{}/32", w.address).parse())
        .collect::<Result<_, _>>()?;
    let gateways: Vec<IpAddr> = s.nodes.iter().map(|n| n.ipv4.into()).collect();
    wait_table(s, &prefixes, &gateways)?;

    let outage = outage();
    let mut report = Vec::new();
    for (round, part) in [Part::KubeApiserver, Part::Etcd].into_iter().enumerate() {
        let monitor = RouteMonitor::start(&s.r1.netns)?;
        let before: Vec<(Duration, u64)> = components
            .iter()
            .map(|c| Ok((c.cpu()?, c.relay.connections())))
            .collect::<TestResult<_>>()?;
        cluster.server.stop(part);
        let stopped = Instant::now();
        tokio::time::sleep(outage).await;
        let costs: Vec<Cost> = components
            .iter()
            .zip(&before)
            .map(|(c, (cpu, attempts))| {
                Ok(Cost {
                    cpu: c.cpu()?.saturating_sub(*cpu),
                    attempts: c.relay.connections() - attempts,
                })
            })
            .collect::<TestResult<_>>()?;
        let down_for = stopped.elapsed();
        tokio::task::block_in_place(|| cluster.server.start_again(part))?;
        let back = Instant::now();

        // Served again: a new Service is assigned, then announced by both
        // nodes, through watches that had to recover.
        let probe = format!("probe-{round}");
        create(&admin, lb_service(&probe, &[], 80)).await?;
        set_endpoint(&admin, &probe, "n1", true).await?;
        let assigned = wait_for("the probe assigned", CONVERGE, || async {
            Ok(ingress(&services(&admin).get(&probe).await?)
                .first()
                .cloned())
        })
        .await?;
        let assigned_after = back.elapsed();
        let probe_prefix: ipnet::IpNet = format!("{assigned}/32").parse()?;
        wait_table(s, &[probe_prefix], &gateways)?;
        let announced_after = back.elapsed();

        // Nothing moved meanwhile: not a route in the router's kernel, not
        // a path in its RIB, not a write to a Service that had its address.
        for p in &prefixes {
            assert_eq!(
                monitor.events(*p),
                RouteEvents::default(),
                "{p} changed in the router's kernel during the {part:?} outage"
            );
        }
        wait_table(s, &prefixes, &gateways)?;
        // From now on the probe is held too.
        held.append(&mut settled(&admin, std::slice::from_ref(&probe)).await?);
        let now = settled(&admin, &held.keys().cloned().collect::<Vec<_>>()).await?;
        for (name, was) in &held {
            assert_eq!(
                now.get(name),
                Some(was),
                "{name} was rewritten across the {part:?} outage"
            );
        }
        for (c, cost) in components.iter().zip(&costs) {
            assert!(
                !c.daemon.has_exited(),
                "{} exited during the {part:?} outage",
                c.name
            );
            let bound = MAX_ATTEMPTS_PER_SECOND * down_for.as_secs().max(1);
            assert!(
                cost.attempts <= bound,
                "{} connected {} times in {down_for:?} without the API server: no backoff",
                c.name,
                cost.attempts
            );
        }
        report.push((part, down_for, costs, assigned_after, announced_after));
    }

    for (part, down_for, costs, assigned_after, announced_after) in &report {
        for (c, cost) in components.iter().zip(costs) {
            println!(
                "{part:?} down {:.1} s: {} used {:.2} s CPU ({:.2} %), {} connection attempts",
                down_for.as_secs_f64(),
                c.name,
                cost.cpu.as_secs_f64(),
                100.0 * cost.cpu.as_secs_f64() / down_for.as_secs_f64(),
                cost.attempts
            );
        }
        println!(
            "{part:?} back: a new Service assigned after {:.1} s, announced by both nodes after {:.1} s",
            assigned_after.as_secs_f64(),
            announced_after.as_secs_f64()
        );
    }
    println!("load average: {}", interop_tests::procfs::load_average());
    Ok(())
}

/// The longest the Layer-2 owner may leave the client's requests
/// unanswered: a descheduled responder or client on the shared machine
/// (tens of milliseconds), never a withdrawal (which is silent until the
/// address moves, and the outage lasts 20 s or more).
const L2_SILENCE_ALLOWED: Duration = Duration::from_secs(1);
/// How long the client is watched after the API server is back: every
/// watch has relisted by then.
const L2_WATCH_AFTER: Duration = Duration::from_secs(8);

#[test]
fn layer2_ownership_holds_through_an_api_server_outage() -> TestResult {
    let lan = L2Lan::new("outl2", Family::Ipv4, 3)?;
    let logs = layer2_logs(&lan)?;
    // Started and dropped outside the test's runtime: it owns a runtime of
    // its own (in the client's namespace).
    let client = WhoHas::start(&lan)?;
    let outcome = block_on(layer2_scenario(&lan, &client, &logs));
    outcome.map_err(|e| format!("{e}\n{}", log_tails(&logs, 25)).into())
}

async fn layer2_scenario(lan: &L2Lan, client: &WhoHas, logs: &[PathBuf]) -> TestResult {
    let bin = multicall_programs(lan.lab(), Path::new(env!("CARGO_BIN_EXE_ferrolb")))?;
    let cluster = Cluster::start().await?;
    let admin = cluster.admin.clone();
    layer2_cluster(&admin, lan.nodes(), &lan.vip().to_string()).await?;
    create(&admin, lb_service("web", &[], 80)).await?;
    set_endpoint(&admin, "web", "n1", true).await?;
    let api: std::net::SocketAddr = format!("127.0.0.1:{}", cluster.server.port()).parse()?;
    let controller_log = logs.last().ok_or("no controller log")?;
    let controller_args = cluster.controller_args();
    let controller_args: Vec<&str> = controller_args.iter().map(String::as_str).collect();
    let mut daemons = vec![(
        "controller".to_string(),
        start_program(
            lan.lab(),
            &bin,
            "ferrolb-controller",
            None,
            controller_log,
            &controller_args,
        )?,
    )];
    let mut relays = Vec::new();
    for (n, log) in lan.nodes().iter().zip(logs) {
        relays.push(Forward::start(&n.netns, api)?);
        let args = cluster.speaker_args(&n.name);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        daemons.push((
            format!("speaker {}", n.name),
            start_program(lan.lab(), &bin, "ferrolb-speaker", Some(n), log, &args)?,
        ));
    }
    wait_assigned(&admin, "web").await?;

    let steady = Duration::from_secs(1);
    let owner = wait_for("one node answering for the address", CONVERGE, || async {
        let from = Instant::now() - 2 * steady;
        let seen = Seen::of(&client.since(from), from, Instant::now());
        Ok((seen.dual == 0 && seen.steady_for >= steady)
            .then_some(seen.owner)
            .flatten())
    })
    .await?;
    let owner_name = lan.name(owner).to_string();

    let outage = outage();
    for part in [Part::KubeApiserver, Part::Etcd] {
        cluster.server.stop(part);
        let stopped = Instant::now();
        tokio::time::sleep(outage).await;
        let during = Seen::of(&client.since(stopped), stopped, Instant::now());
        tokio::task::block_in_place(|| cluster.server.start_again(part))?;
        let back = Instant::now();
        tokio::time::sleep(L2_WATCH_AFTER).await;
        let after = Seen::of(&client.since(back), back, Instant::now());
        for (when, seen) in [("during", &during), ("after", &after)] {
            let line = seen.line(lan);
            println!("Layer 2, {when} the {part:?} outage: {line}");
            assert_eq!(
                seen.dual, 0,
                "two nodes answered {when} the {part:?} outage: {line}"
            );
            assert!(
                seen.moves.iter().all(|(_, who)| *who == Some(owner)),
                "the address left {owner_name} {when} the {part:?} outage: {line}"
            );
            assert!(
                seen.longest_silence <= L2_SILENCE_ALLOWED,
                "{owner_name} went silent {when} the {part:?} outage: {line}"
            );
        }
        for (name, daemon) in &daemons {
            assert!(
                !daemon.has_exited(),
                "{name} exited during the {part:?} outage"
            );
        }
    }
    println!("load average: {}", interop_tests::procfs::load_average());
    Ok(())
}

/// A Service as the controller left it: its address, its resourceVersion
/// (any write changes it) and its managedFields (who wrote what).
#[derive(Debug, Clone, PartialEq)]
struct Written {
    address: String,
    resource_version: Option<String>,
    managed_fields: serde_json::Value,
}

/// Waits until each of `names` carries both of the controller's writes
/// (status and the pool annotation), and returns them as written.
async fn settled(admin: &Client, names: &[String]) -> TestResult<BTreeMap<String, Written>> {
    let api = services(admin);
    wait_for("every Service assigned", CONVERGE, || async {
        let all: BTreeMap<String, Service> = api
            .list(&Default::default())
            .await?
            .items
            .into_iter()
            .filter_map(|s| Some((s.metadata.name.clone()?, s)))
            .collect();
        let mut out = BTreeMap::new();
        for name in names {
            let Some(svc) = all.get(name) else {
                return Ok(None);
            };
            let address = ingress(svc).first().cloned();
            let (Some(address), Some(_)) = (
                address,
                annotation(svc, "metallb.io/ip-allocated-from-pool"),
            ) else {
                return Ok(None);
            };
            out.insert(
                name.clone(),
                Written {
                    address,
                    resource_version: svc.metadata.resource_version.clone(),
                    managed_fields: serde_json::to_value(&svc.metadata.managed_fields)?,
                },
            );
        }
        Ok(Some(out))
    })
    .await
}

/// Waits until BIRD holds exactly one path from each node for every prefix
/// and its kernel routes each through both nodes.
fn wait_table(s: &Setup, prefixes: &[ipnet::IpNet], gateways: &[IpAddr]) -> TestResult {
    let mut want = gateways.to_vec();
    want.sort();
    s.lab.wait_for("the full table at r1", CONVERGE, || {
        let rib = s.bird.rib(Family::Ipv4)?;
        let routes: BTreeMap<ipnet::IpNet, Vec<IpAddr>> = kernel::routes(&s.r1.netns)?
            .into_iter()
            .map(|r| {
                let mut hops = r.next_hops;
                hops.sort();
                (r.prefix, hops)
            })
            .collect();
        for p in prefixes {
            let paths = rib.get(p).map_or(0, Vec::len);
            if paths != gateways.len() {
                return Ok(Probe::Pending(format!("{p}: {paths} path(s) in the RIB")));
            }
            if routes.get(p) != Some(&want) {
                return Ok(Probe::Pending(format!(
                    "{p}: kernel via {:?}",
                    routes.get(p)
                )));
            }
        }
        Ok(Probe::Done(()))
    })?;
    Ok(())
}
