//! The dashboard and the alerts can never drift from the binaries: every
//! metric name that a query of charts/ferrolb/dashboards/ferrolb.json or of
//! the chart's PrometheusRule (rendered by Helm) reads is a series that
//! the real `ferrolb-controller` and `ferrolb-speaker` serve on `/metrics`.
//! Both run in lab namespaces against the real test API server, in a
//! cluster where every series exists: a BGP session (BIRD) with a BFD
//! profile, an address announced by BGP, one answered by ARP (and asked
//! for), one another host already holds (a conflict), one refused, and two
//! speaker nodes (the Layer-2 membership).
//! A name removed from a binary makes the wait time out naming it.
//! (In this package for `CARGO_BIN_EXE_ferrolb-speaker`; the controller is
//! the workspace's build of it, as in the chart test.)

#[path = "../../interop-tests/tests/cluster_support/mod.rs"]
mod cluster;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use cluster::lab_nodes::{
    apply, create_node, create_speaker_pod, log_tails, speaker_service_account,
};
use cluster::*;
use interop_tests::daemon::DaemonSpec;
use interop_tests::ferrolb::workspace_binary;
use interop_tests::forward::Forward;
use interop_tests::helm::{Helm, Release, chart_dir, of_kind};
use interop_tests::promql::metric_names;
use interop_tests::scrape;
use interop_tests::traffic::arp_who_has;
use interop_tests::{Bird, Host, Lab, RouterConfig};
use kube::Client;
use kube::api::PostParams;
use serde_json::{Value, json};

const NODE_AS: u32 = 64512;
const ROUTER_AS: u32 = 64500;
/// Every series needs a few passes: sessions, ARP probes, a conflict found.
const CONVERGE: Duration = Duration::from_secs(60);

/// Every `expr` anywhere in a dashboard (panels, rows, nested panels).
fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// The metric names the dashboard's queries and the default alerts read.
fn referenced() -> TestResult<BTreeSet<String>> {
    let path = chart_dir().join("dashboards/ferrolb.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut queries = Vec::new();
    exprs(&dashboard, &mut queries);
    let docs = Helm::new()?
        .render(&Release::new("ferrolb", NS).set("prometheus.prometheusRule.enabled=true"))?;
    let rules = of_kind(&docs, "PrometheusRule");
    let rules = rules.first().ok_or("no PrometheusRule rendered")?;
    exprs(&rules["spec"], &mut queries);
    let names: BTreeSet<String> = queries.iter().flat_map(|q| metric_names(q)).collect();
    // A tokenizer that found nothing would make the check pass vacuously.
    assert!(names.len() >= 15, "{names:?} from {queries:#?}");
    Ok(names)
}

/// The series names a `/metrics` text holds (sample lines, not comments).
fn served(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

fn lan_address(lab: &Lab, index: u32) -> TestResult<Ipv4Addr> {
    let lan = lab.ipv4_lan();
    Ok(Ipv4Addr::from(u32::from(lan.network()) + index))
}

#[test]
fn every_metric_the_dashboard_and_the_alerts_read_is_served() -> TestResult {
    let wanted = referenced()?;
    let mut lab = Lab::new("drift")?;
    let r1 = lab.add_host("r1")?;
    let c1 = lab.add_host_at("c1", 5)?;
    let n1 = lab.add_host_at("n1", 11)?;
    // A second node: the Layer-2 membership runs only with another member.
    let n2 = lab.add_host_at("n2", 12)?;
    let answered = lan_address(&lab, 200)?;
    let held = lan_address(&lab, 201)?;
    // r1 already uses `held`: n1's probe finds the conflict.
    r1.netns.ip([
        "addr",
        "add",
        &format!("{held}/32"),
        "dev",
        interop_tests::lab::LAN_IFACE,
    ])?;
    let _bird = Bird::start(
        &lab,
        &r1,
        &RouterConfig::facing_speakers(ROUTER_AS, &r1, &[&n1, &n2], NODE_AS),
    )?;
    let controller_log = lab.state_dir(&c1, "controller")?.join("controller.log");
    let speaker_log = lab.state_dir(&n1, "speaker")?.join("speaker.log");
    let speaker2_log = lab.state_dir(&n2, "speaker")?.join("speaker.log");
    let tails = || {
        log_tails(
            &[
                controller_log.clone(),
                speaker_log.clone(),
                speaker2_log.clone(),
            ],
            20,
        )
    };
    let outcome = block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        configure(&admin, &r1, answered, held).await?;
        for node in [&n1, &n2] {
            create_node(&admin, node).await?;
            create_speaker_pod(&admin, node).await?;
        }
        for (name, ip) in [
            ("web", None),
            ("lan", Some(IpAddr::V4(answered))),
            ("held", Some(IpAddr::V4(held))),
            // In no pool: refused (AllocationFailed).
            ("refused", Some("203.0.113.7".parse()?)),
        ] {
            let mut svc = lb_service(name, &[], 80);
            if let (Some(ip), Some(spec)) = (ip, svc.spec.as_mut()) {
                spec.load_balancer_ip = Some(ip.to_string());
            }
            services(&admin)
                .create(&PostParams::default(), &svc)
                .await?;
            ready_endpoint(&admin, name, &n1.name).await?;
        }

        let server = format!("127.0.0.1:{}", cluster.server.port()).parse()?;
        let _forwards = [
            Forward::start(&c1.netns, server)?,
            Forward::start(&n1.netns, server)?,
            Forward::start(&n2.netns, server)?,
        ];
        let controller = workspace_binary("ferrolb-controller", "ferrolb-controller")?;
        let _controller = start(
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
        )?;
        let _speaker = start(
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
        )?;
        let _speaker2 = start(
            &lab,
            &n2,
            &speaker2_log,
            env!("CARGO_BIN_EXE_ferrolb-speaker"),
            &[
                "--kubeconfig",
                &cluster.speaker_kubeconfig.display().to_string(),
                "--node-name",
                &n2.name,
                "--namespace",
                NS,
                "--bgp-listen",
                "off",
            ],
        )?;

        let scrape = |host: &Host| {
            scrape::metrics(host)
                .map(|t| served(&t))
                .unwrap_or_default()
        };
        let mut missing = BTreeSet::new();
        let found = wait_for("every referenced metric served", CONVERGE, || {
            // A client asks for the answered address: the ARP counters.
            let _ = arp_who_has(&r1, answered);
            let serving: BTreeSet<String> = [&c1, &n1, &n2].into_iter().flat_map(scrape).collect();
            missing = wanted.difference(&serving).cloned().collect();
            let done = missing.is_empty().then_some(serving);
            async move { Ok(done) }
        })
        .await;
        if found.is_err() {
            return Err(format!(
                "the dashboard or the alerts read metrics the binaries do not serve: {missing:?}"
            )
            .into());
        }
        // The assignment counters count: three given, one refused.
        let text = scrape::metrics(&c1)?;
        for want in [
            "ferrolb_controller_address_assignments_total 3",
            "ferrolb_controller_address_assignment_failures_total 1",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
        Ok(())
    });
    outcome.map_err(|e| format!("{e}\n{}", tails()).into())
}

/// A daemon in `host`'s namespace, serving its metrics on the namespace's
/// loopback and logging JSON to `log`.
fn start(
    lab: &Lab,
    host: &Host,
    log: &std::path::Path,
    program: &str,
    args: &[&str],
) -> TestResult<std::sync::Arc<interop_tests::daemon::Daemon>> {
    let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    args.extend([
        "--metrics-addr".to_string(),
        scrape::METRICS_ADDR.to_string(),
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

/// Pools (one announced by BGP to r1 with a BFD profile, one by Layer 2)
/// and the memberlist key.
async fn configure(admin: &Client, r1: &Host, answered: Ipv4Addr, held: Ipv4Addr) -> TestResult {
    speaker_service_account(admin).await?;
    for object in [
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "memberlist", "namespace": NS},
               "stringData": {"secretkey": "lab-shared-key"}}),
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
               "metadata": {"name": "public", "namespace": NS},
               "spec": {"addresses": ["198.51.100.0/24"]}}),
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
               "metadata": {"name": "lan", "namespace": NS},
               "spec": {"addresses": [format!("{answered}/32"), format!("{held}/32")]}}),
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "BFDProfile",
               "metadata": {"name": "fast", "namespace": NS},
               "spec": {"receiveInterval": 300, "transmitInterval": 300}}),
        json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
               "metadata": {"name": "r1", "namespace": NS},
               "spec": {"myASN": NODE_AS, "peerASN": ROUTER_AS, "bfdProfile": "fast",
                        "peerAddress": r1.ipv4.to_string(), "holdTime": "9s"}}),
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
               "metadata": {"name": "public", "namespace": NS},
               "spec": {"ipAddressPools": ["public"]}}),
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
               "metadata": {"name": "lan", "namespace": NS},
               "spec": {"ipAddressPools": ["lan"]}}),
    ] {
        apply(admin, NS, &object).await?;
    }
    Ok(())
}

/// One ready endpoint of Service `service` on `node` (a v1beta1
/// EndpointSlice, as Kubernetes 1.20 writes it).
async fn ready_endpoint(admin: &Client, service: &str, node: &str) -> TestResult {
    apply(
        admin,
        APPS,
        &json!({
            "apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{service}-1"), "namespace": APPS,
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": true},
                           "topology": {"kubernetes.io/hostname": node}}],
            "ports": [{"port": 80, "protocol": "TCP"}]
        }),
    )
    .await
}
