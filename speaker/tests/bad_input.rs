//! Issue 18, scenario 7: bad input at every door. The real
//! `ferrolb-controller` and `ferrolb-speaker` run in lab namespaces against
//! the real test API server; the speaker holds a TCP-MD5 BGP session with
//! BIRD (password from a Secret) and announces one Service. Then users do
//! everything wrong: malformed annotations, a Service with 1,000 ports,
//! pools of `::/0` and `0.0.0.0/0`, dangling references, the password
//! Secret deleted while the session runs, and thousands of Services in one
//! namespace. Each mistake must get a clear answer (an Event, the
//! ConfigurationState, a log line) and disturb nothing else: the Services
//! that were right keep their addresses and are never written again, the
//! announced route stays, both programs stay up. The CPU time each program
//! used per phase is printed (docs/reliability.md), and an idle window at
//! the end must not look like a hot loop.
//!
//! `FERROLB_BAD_INPUT_SERVICES=N` sets the size of the crowd (2,000 by
//! default, as CI runs it; the recorded 10,000 run sets it).
//! (In this package for `CARGO_BIN_EXE_ferrolb-speaker`; the controller is
//! the workspace's build of it, as in `metrics_drift`.)

#[path = "../../interop-tests/tests/cluster_support/mod.rs"]
mod cluster;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster::lab_nodes::{NODE_AS, ROUTER_AS, apply, create_node, log_tails};
use cluster::*;
use ferrolb_crds::api::{ConfigurationResult, ConfigurationState, IPAddressPool};
use futures::StreamExt;
use interop_tests::daemon::{Daemon, DaemonSpec};
use interop_tests::ferrolb::workspace_binary;
use interop_tests::forward::Forward;
use interop_tests::procfs::{cpu_time, rss_kib};
use interop_tests::{Bird, Host, Lab, Neighbor, RouterConfig, wait_paths};
use k8s_openapi::api::core::v1::{Secret, Service, ServicePort};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;

const CONVERGE: Duration = Duration::from_secs(30);
const PASSWORD: &str = "bad-input-md5";
/// The pool every good Service is served from: room for 10,000 and more.
const MAIN: &str = "198.18.0.0/16";

/// Both programs, for CPU and liveness readings.
struct Programs {
    controller: Arc<Daemon>,
    speaker: Arc<Daemon>,
}

impl Programs {
    /// (controller, speaker) CPU time so far.
    fn cpu(&self) -> TestResult<(Duration, Duration)> {
        let pid = |d: &Daemon| d.pid().ok_or_else(|| format!("{} has no pid", d.name()));
        Ok((
            cpu_time(pid(&self.controller)?)?,
            cpu_time(pid(&self.speaker)?)?,
        ))
    }

    fn rss(&self) -> TestResult<(u64, u64)> {
        let pid = |d: &Daemon| d.pid().ok_or_else(|| format!("{} has no pid", d.name()));
        Ok((
            rss_kib(pid(&self.controller)?)?,
            rss_kib(pid(&self.speaker)?)?,
        ))
    }

    fn assert_up(&self, phase: &str) {
        assert!(
            !self.controller.has_exited(),
            "the controller exited during {phase}"
        );
        assert!(
            !self.speaker.has_exited(),
            "the speaker exited during {phase}"
        );
    }
}

/// One phase's cost: wall time and CPU time of each program.
struct Meter {
    name: &'static str,
    start: Instant,
    cpu: (Duration, Duration),
}

impl Meter {
    fn start(name: &'static str, p: &Programs) -> TestResult<Meter> {
        Ok(Meter {
            name,
            start: Instant::now(),
            cpu: p.cpu()?,
        })
    }

    fn finish(self, p: &Programs) -> TestResult<String> {
        p.assert_up(self.name);
        let (c, s) = p.cpu()?;
        let (rc, rs) = p.rss()?;
        let line = format!(
            "| {} | {:.1} s | {:.2} s | {:.2} s | {} / {} MiB |",
            self.name,
            self.start.elapsed().as_secs_f64(),
            c.saturating_sub(self.cpu.0).as_secs_f64(),
            s.saturating_sub(self.cpu.1).as_secs_f64(),
            rc / 1024,
            rs / 1024,
        );
        println!("{line}");
        Ok(line)
    }
}

/// `(addresses, resourceVersion)` of the named Services: any write changes
/// the resourceVersion.
async fn snapshot(
    admin: &Client,
    names: &[String],
) -> TestResult<BTreeMap<String, (Vec<String>, String)>> {
    let mut out = BTreeMap::new();
    for n in names {
        let s = services(admin).get(n).await?;
        out.insert(
            n.clone(),
            (ingress(&s), s.metadata.resource_version.unwrap_or_default()),
        );
    }
    Ok(out)
}

async fn config_state(admin: &Client) -> TestResult<Option<(ConfigurationResult, String)>> {
    let states: Api<ConfigurationState> = Api::namespaced(admin.clone(), NS);
    Ok(states
        .get_opt("controller")
        .await?
        .and_then(|s| s.status)
        .and_then(|s| s.result.map(|r| (r, s.error_summary))))
}

/// Waits for the controller's ConfigurationState to be `want`; returns its
/// summary.
async fn wait_config(admin: &Client, want: ConfigurationResult) -> TestResult<String> {
    wait_for(
        &format!("ConfigurationState {want:?}"),
        CONVERGE,
        || async {
            Ok(config_state(admin)
                .await?
                .filter(|(r, _)| *r == want)
                .map(|(_, s)| s))
        },
    )
    .await
}

/// Creates a Service the controller must refuse; returns the refusal's
/// note, after checking the Service got no address.
async fn refused(admin: &Client, svc: Service) -> TestResult<String> {
    let name = svc.metadata.name.clone().unwrap_or_default();
    create(admin, svc).await?;
    let note = wait_event(admin, APPS, &name, "AllocationFailed").await?;
    let now = services(admin).get(&name).await?;
    assert!(ingress(&now).is_empty(), "{name} got {:?}", ingress(&now));
    println!("  {name}: AllocationFailed: {note}");
    Ok(note)
}

#[test]
fn bad_input_at_every_door_is_refused_clearly_and_disturbs_nothing() -> TestResult {
    let crowd: usize = std::env::var("FERROLB_BAD_INPUT_SERVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut lab = Lab::new("badin")?;
    let r1 = lab.add_host("r1")?;
    let c1 = lab.add_host_at("c1", 5)?;
    let n1 = lab.add_host_at("n1", 11)?;
    let bird = Bird::start(
        &lab,
        &r1,
        &RouterConfig::new(ROUTER_AS, r1.ipv4).neighbor(
            Neighbor::new(n1.ipv4.into(), NODE_AS)
                .no_export()
                .password(PASSWORD),
        ),
    )?;
    let controller_log = lab.state_dir(&c1, "controller")?.join("controller.log");
    let speaker_log = lab.state_dir(&n1, "speaker")?.join("speaker.log");
    let tails = || log_tails(&[controller_log.clone(), speaker_log.clone()], 25);
    let outcome = block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        for object in [
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
                "metadata": {"name": "r1-password", "namespace": NS},
                "stringData": {"password": PASSWORD}}),
            json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                "metadata": {"name": "main", "namespace": NS},
                "spec": {"addresses": [MAIN]}}),
            json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
                "metadata": {"name": "r1", "namespace": NS},
                "spec": {"myASN": NODE_AS, "peerASN": ROUTER_AS,
                         "peerAddress": r1.ipv4.to_string(), "holdTime": "9s",
                         "passwordSecret": {"name": "r1-password", "namespace": NS}}}),
            json!({"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
                "metadata": {"name": "all", "namespace": NS}, "spec": {}}),
        ] {
            apply(&admin, NS, &object).await?;
        }
        create_node(&admin, &n1).await?;

        let server = format!("127.0.0.1:{}", cluster.server.port()).parse()?;
        let _forwards = [
            Forward::start(&c1.netns, server)?,
            Forward::start(&n1.netns, server)?,
        ];
        let controller = workspace_binary("ferrolb-controller", "ferrolb-controller")?;
        let programs = Programs {
            controller: start(
                &lab,
                &c1,
                &controller_log,
                controller.to_str().ok_or("path")?,
                &[
                    "--kubeconfig",
                    &cluster.controller_kubeconfig.display().to_string(),
                    "--namespace",
                    NS,
                    "--identity",
                    "c1",
                ],
            )?,
            speaker: start(
                &lab,
                &n1,
                &speaker_log,
                env!("CARGO_BIN_EXE_ferrolb-speaker"),
                &[
                    "--kubeconfig",
                    &cluster.speaker_kubeconfig.display().to_string(),
                    "--node-name",
                    &n1.name,
                    "--namespace",
                    NS,
                    "--bgp-listen",
                    "off",
                ],
            )?,
        };

        // The good ones: five Services, the first announced to BIRD.
        let good: Vec<String> = (0..5).map(|i| format!("good-{i}")).collect();
        for name in &good {
            create(&admin, lb_service(name, &[], 80)).await?;
        }
        for name in &good {
            wait_for_pool(&admin, name).await?;
        }
        set_endpoint(&admin, "good-0", &n1.name, true).await?;
        let first = ingress(&services(&admin).get("good-0").await?);
        let vip: ipnet::IpNet = format!("{}/32", first[0]).parse()?;
        wait_paths(&lab, &bird, vip, 1, CONVERGE)?;
        let before = snapshot(&admin, &good).await?;
        println!(
            "| phase | wall | controller CPU | speaker CPU | RSS after (controller / speaker) |"
        );
        println!("|---|---|---|---|---|");
        let mut table = Vec::new();

        // 1. Malformed annotations: each refused with its reason, no
        //    address given.
        let m = Meter::start("malformed annotations", &programs)?;
        let note = refused(
            &admin,
            lb_service(
                "garbage",
                &[("metallb.io/loadBalancerIPs", "not-an-ip, ;DROP TABLE")],
                80,
            ),
        )
        .await?;
        assert!(note.contains("is not an IP address"), "{note}");
        let note = refused(
            &admin,
            lb_service(
                "wrong-family",
                &[("metallb.io/loadBalancerIPs", "2001:db8::7")],
                80,
            ),
        )
        .await?;
        assert!(note.contains("2001:db8::7"), "{note}");
        let note = refused(
            &admin,
            lb_service(
                "too-many",
                &[(
                    "metallb.io/loadBalancerIPs",
                    "198.18.1.1,198.18.1.2,198.18.1.3",
                )],
                80,
            ),
        )
        .await?;
        assert!(note.contains("more than one address per family"), "{note}");
        let note = refused(
            &admin,
            lb_service("no-pool", &[("metallb.io/address-pool", "nope")], 80),
        )
        .await?;
        assert!(note.contains("nope"), "{note}");
        // A sharing key of blanks is a key: it cannot share good-0's
        // address, which has none.
        let note = refused(
            &admin,
            lb_service(
                "blank-key",
                &[
                    ("metallb.io/allow-shared-ip", "   "),
                    ("metallb.io/loadBalancerIPs", &first[0]),
                ],
                81,
            ),
        )
        .await?;
        assert!(note.contains("does not allow sharing"), "{note}");
        // An odd key is just a key: two Services with it share one
        // address.
        let odd = "☃ \u{1F4A5} \"quoted\" \\ ;,";
        for (name, port) in [("odd-key-a", 80), ("odd-key-b", 443)] {
            create(
                &admin,
                lb_service(
                    name,
                    &[
                        ("metallb.io/allow-shared-ip", odd),
                        ("metallb.io/loadBalancerIPs", "198.18.200.1"),
                    ],
                    port,
                ),
            )
            .await?;
            assert_eq!(
                ingress(&wait_assigned(&admin, name).await?),
                ["198.18.200.1"]
            );
        }
        // A forged pool annotation on a new Service: it is served by the
        // rules and the annotation is set to the truth.
        create(
            &admin,
            lb_service(
                "forged",
                &[("metallb.io/ip-allocated-from-pool", "everything-v6")],
                80,
            ),
        )
        .await?;
        let forged = wait_for("the forged annotation corrected", CONVERGE, || async {
            let s = services(&admin).get("forged").await?;
            Ok(
                (annotation(&s, "metallb.io/ip-allocated-from-pool") == Some("main")
                    && !ingress(&s).is_empty())
                .then_some(s),
            )
        })
        .await?;
        println!(
            "  forged: {:?}, pool annotation now \"main\"",
            ingress(&forged)
        );
        // Forged on a Service already served, and its status forged to
        // good-1's address: both put back, nobody moves.
        create(&admin, lb_service("forged-later", &[], 80)).await?;
        let held = ingress(&wait_for_pool(&admin, "forged-later").await?);
        services(&admin)
            .patch(
                "forged-later",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {
                    "metallb.io/ip-allocated-from-pool": "everything-v6"}}})),
            )
            .await?;
        let stolen = &before["good-1"].0;
        services(&admin)
            .patch_status(
                "forged-later",
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"status": {"loadBalancer": {"ingress": [{"ip": stolen[0]}]}}}),
                ),
            )
            .await?;
        wait_for("forged-later put back", CONVERGE, || async {
            let s = services(&admin).get("forged-later").await?;
            Ok(
                (annotation(&s, "metallb.io/ip-allocated-from-pool") == Some("main")
                    && ingress(&s) == held)
                    .then_some(()),
            )
        })
        .await?;
        println!("  forged-later: annotation and status put back to {held:?}");
        table.push(m.finish(&programs)?);

        // 2. A Service with 1,000 ports (the API server takes it).
        let m = Meter::start("1,000 ports", &programs)?;
        let mut wide = lb_service("wide", &[], 1);
        if let Some(spec) = wide.spec.as_mut() {
            spec.ports = Some(
                (1..=1000)
                    .map(|p| ServicePort {
                        name: Some(format!("p{p}")),
                        port: p,
                        ..Default::default()
                    })
                    .collect(),
            );
        }
        create(&admin, wide).await?;
        let wide = wait_assigned(&admin, "wide").await?;
        println!("  wide: {:?}", ingress(&wide));
        set_endpoint(&admin, "wide", &n1.name, true).await?;
        let wide_vip: ipnet::IpNet = format!("{}/32", ingress(&wide)[0]).parse()?;
        wait_paths(&lab, &bird, wide_vip, 1, CONVERGE)?;
        table.push(m.finish(&programs)?);

        // 3. Pools of everything. `::/0` is accepted (as MetalLB does):
        //    its size is a number, never a list; a Service asking for it
        //    with the wrong family is refused. `0.0.0.0/0` overlaps "main":
        //    the whole configuration is refused, the last good one stays.
        let m = Meter::start("::/0 and 0.0.0.0/0 pools", &programs)?;
        let rss_before = programs.rss()?.0;
        apply(
            &admin,
            NS,
            &json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                "metadata": {"name": "everything-v6", "namespace": NS},
                "spec": {"addresses": ["::/0"], "autoAssign": false}}),
        )
        .await?;
        let pools: Api<IPAddressPool> = Api::namespaced(admin.clone(), NS);
        let status = wait_for("the ::/0 pool's status", CONVERGE, || async {
            Ok(pools
                .get("everything-v6")
                .await?
                .status
                .filter(|s| s.available_ipv6 > 0))
        })
        .await?;
        assert_eq!(status.available_ipv6, i64::MAX, "saturates, never wraps");
        wait_config(&admin, ConfigurationResult::Valid).await?;
        let note = refused(
            &admin,
            lb_service(
                "to-the-void",
                &[("metallb.io/address-pool", "everything-v6")],
                80,
            ),
        )
        .await?;
        println!(
            "  ::/0 pool accepted, availableIPv6 {}",
            status.available_ipv6
        );
        assert!(note.contains("everything-v6"), "{note}");
        let rss_after = programs.rss()?.0;
        println!("  controller RSS {rss_before} KiB before the ::/0 pool, {rss_after} KiB after");
        apply(
            &admin,
            NS,
            &json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                "metadata": {"name": "everything-v4", "namespace": NS},
                "spec": {"addresses": ["0.0.0.0/0"]}}),
        )
        .await?;
        let summary = wait_config(&admin, ConfigurationResult::Invalid).await?;
        assert!(summary.contains("overlaps"), "{summary}");
        // The overlap is told on the pool named second of the two
        // ("main"), as MetalLB names the later CIDR.
        let note = wait_event(&admin, NS, "main", "InvalidConfig").await?;
        println!("  0.0.0.0/0: InvalidConfig on main: {note}");
        assert!(note.contains("0.0.0.0/0"), "{note}");
        pools
            .delete("everything-v4", &DeleteParams::default())
            .await?;
        wait_config(&admin, ConfigurationResult::Valid).await?;
        table.push(m.finish(&programs)?);

        // 4. Dangling references.
        let m = Meter::start("dangling references, Secret deleted", &programs)?;
        // An advertisement of a pool that does not exist: a warning, the
        // configuration stays in force (MetalLB ignores it silently).
        apply(
            &admin,
            NS,
            &json!({"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
                "metadata": {"name": "ghost-adv", "namespace": NS},
                "spec": {"ipAddressPools": ["ghost"]}}),
        )
        .await?;
        let note = wait_event(&admin, NS, "ghost-adv", "ConfigWarning").await?;
        println!("  ghost-adv: ConfigWarning: {note}");
        assert!(note.contains("ghost"), "{note}");
        assert_eq!(
            config_state(&admin).await?.map(|(r, _)| r),
            Some(ConfigurationResult::Valid)
        );
        // A peer naming a BFD profile that does not exist: refused.
        apply(
            &admin,
            NS,
            &json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
                "metadata": {"name": "ghost-bfd", "namespace": NS},
                "spec": {"myASN": NODE_AS, "peerASN": ROUTER_AS,
                         "peerAddress": "192.0.2.99", "bfdProfile": "ghost"}}),
        )
        .await?;
        let summary = wait_config(&admin, ConfigurationResult::Invalid).await?;
        let note = wait_event(&admin, NS, "ghost-bfd", "InvalidConfig").await?;
        println!("  ghost-bfd: InvalidConfig: {note}");
        assert!(summary.contains("ghost"), "{summary}");
        Api::<ferrolb_crds::api::BGPPeer>::namespaced(admin.clone(), NS)
            .delete("ghost-bfd", &DeleteParams::default())
            .await?;
        wait_config(&admin, ConfigurationResult::Valid).await?;
        // The password Secret of the running session vanishes: refused,
        // the session keeps its last good password and stays up.
        Api::<Secret>::namespaced(admin.clone(), NS)
            .delete("r1-password", &DeleteParams::default())
            .await?;
        let summary = wait_config(&admin, ConfigurationResult::Invalid).await?;
        println!("  r1-password deleted: {summary}");
        assert!(summary.contains("r1-password"), "{summary}");
        let note = wait_event(&admin, NS, "r1", "InvalidConfig").await?;
        assert!(note.contains("r1-password"), "{note}");
        wait_for("the speaker to log the refusal", CONVERGE, || async {
            let log = std::fs::read_to_string(&speaker_log).unwrap_or_default();
            Ok(log
                .lines()
                .any(|l| l.contains("r1-password") && l.contains("ERROR"))
                .then_some(()))
        })
        .await?;
        // Give the speaker a few passes: the route must still be there.
        tokio::time::sleep(Duration::from_secs(3)).await;
        wait_paths(&lab, &bird, vip, 1, CONVERGE)?;
        table.push(m.finish(&programs)?);

        // 5. A crowd in one namespace (the configuration is still refused:
        //    served from the last good one).
        let m = Meter::start("crowd", &programs)?;
        let created = Instant::now();
        futures::stream::iter(0..crowd)
            .map(|i| {
                let admin = admin.clone();
                async move { create(&admin, lb_service(&format!("crowd-{i:05}"), &[], 80)).await }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<TestResult<Vec<_>>>()?;
        let create_time = created.elapsed();
        let limit = Duration::from_secs(60 + crowd as u64 / 20);
        wait_for("every crowd Service assigned", limit, || async {
            let list = services(&admin).list(&ListParams::default()).await?.items;
            let done = list
                .iter()
                .filter(|s| {
                    s.metadata
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("crowd-"))
                        && !ingress(s).is_empty()
                })
                .count();
            if done < crowd {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Ok((done >= crowd).then_some(()))
        })
        .await?;
        println!(
            "  {crowd} Services: created in {:.1} s, all assigned {:.1} s after the first creation",
            create_time.as_secs_f64(),
            created.elapsed().as_secs_f64()
        );
        table.push(m.finish(&programs)?);

        // Nothing else disturbed: the good Services were never written
        // again, the route is still there.
        assert_eq!(
            snapshot(&admin, &good).await?,
            before,
            "a good Service was written"
        );
        wait_paths(&lab, &bird, vip, 1, CONVERGE)?;

        // Idle: with nothing changing, neither program may spin.
        let idle = Duration::from_secs(5);
        let (c0, s0) = programs.cpu()?;
        tokio::time::sleep(idle).await;
        let (c1_, s1) = programs.cpu()?;
        let (dc, ds) = (c1_.saturating_sub(c0), s1.saturating_sub(s0));
        println!(
            "  idle {idle:?}: controller {:.2} s CPU, speaker {:.2} s CPU",
            dc.as_secs_f64(),
            ds.as_secs_f64()
        );
        assert!(
            dc < idle / 2,
            "the controller spins when idle: {dc:?} in {idle:?}"
        );
        assert!(
            ds < idle / 2,
            "the speaker spins when idle: {ds:?} in {idle:?}"
        );
        programs.assert_up("the idle window");
        for (log, who) in [(&controller_log, "controller"), (&speaker_log, "speaker")] {
            let text = std::fs::read_to_string(log)?;
            assert!(!text.contains("panicked"), "the {who} panicked:\n{text}");
        }
        println!("{}", table.join("\n"));
        Ok(())
    });
    outcome.map_err(|e| format!("{e}\n{}", tails()).into())
}

/// Waits until `name` has an address and its pool annotation.
async fn wait_for_pool(admin: &Client, name: &str) -> TestResult<Service> {
    wait_for(&format!("{name} assigned"), CONVERGE, || async {
        let s = services(admin).get(name).await?;
        Ok(
            (annotation(&s, "metallb.io/ip-allocated-from-pool").is_some()
                && !ingress(&s).is_empty())
            .then_some(s),
        )
    })
    .await
}

fn start(
    lab: &Lab,
    host: &Host,
    log: &std::path::Path,
    program: &str,
    args: &[&str],
) -> TestResult<Arc<Daemon>> {
    let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    args.extend([
        "--metrics-addr".to_string(),
        "127.0.0.1:7472".to_string(),
        "--log-format".to_string(),
        "json".to_string(),
    ]);
    Ok(lab.start_daemon(DaemonSpec {
        name: format!(
            "{}/{}",
            host.name,
            program.rsplit('/').next().unwrap_or(program)
        ),
        netns: Some(&host.netns),
        program,
        args,
        output: log.to_path_buf(),
        logs: Vec::new(),
        lifetime: lab.lifetime(),
    })?)
}
