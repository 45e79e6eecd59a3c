//! The seed guides' flows on a real Kubernetes cluster in the lab: one
//! cluster for the whole binary (building it costs a minute of a 2-core
//! machine), the flows in sequence, each cleaning up what it made. Every
//! flow runs even if an earlier one failed (except when the install fails);
//! the test fails at the end naming each failed flow. docs/kubernetes.md.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use interop_tests::cluster::{CHART_SELECTOR, Cluster, ClusterSpec, ECHO_IMAGE};
use interop_tests::{LabError, Probe, Result, scrape};

mod cluster_flows;

use cluster_flows::*;

#[test]
fn the_seed_guides_flows_pass_on_a_real_cluster() {
    let started = Instant::now();
    let mut cluster = Cluster::start(&ClusterSpec::new("seeds", 3)).expect("the cluster comes up");
    add_seed_003_subnet(&mut cluster).expect("seed 003's subnet");
    let routers = bgp::Routers::start(&mut cluster).expect("FRR and BIRD on the LAN");
    eprintln!(
        "cluster up in {:.1} s (control plane {:.1} s, nodes Ready {:.1} s later)",
        cluster.times.total.as_secs_f64(),
        cluster.times.control_plane.as_secs_f64(),
        cluster.times.nodes_ready.as_secs_f64()
    );
    let mut report = Report::default();
    if !report.run_always("seed 001: helm install, kubectl wait", || install(&cluster)) {
        panic!("{}", report.summary());
    }
    cluster
        .ensure_memberlist_secret(NS)
        .expect("the memberlist Secret");
    report.run(
        "seed 000: Layer 2, create deployment, expose, reach",
        || {
            reset(&cluster)?;
            seed_000_layer2(&cluster)
        },
    );
    report.run("seed 003: L2Advertisement with no spec, smoke test", || {
        reset(&cluster)?;
        seed_003_smoke(&cluster)
    });
    report.run("seed 003: an address in use is not announced", || {
        seed_003_address_in_use(&cluster)
    });
    report.run("seed 002: externalTrafficPolicy Local, one address", || {
        reset(&cluster)?;
        seed_002_local(&cluster)
    });
    report.run("seed 004: the loadBalancerIPs annotation", || {
        reset(&cluster)?;
        seed_004_annotation(&cluster)
    });
    report.run("failover: the owner node fails", || {
        reset(&cluster)?;
        failover(&mut cluster)
    });
    report.run(
        "bgp: ECMP from every eligible node, ETP Local follows the pods, a drained node withdraws",
        || {
            reset(&cluster)?;
            day2::ensure_installed(&cluster)?;
            bgp::flow(&cluster, &routers)
        },
    );
    report.run(
        "day 2: helm upgrade under traffic, uninstall, reinstall",
        || {
            reset(&cluster)?;
            day2::flow(&cluster, &routers)
        },
    );
    report.run(
        "seed 001 (Bitnami values): configInline, tolerations, resources",
        || {
            reset(&cluster)?;
            day2::bitnami(&cluster)
        },
    );
    report.run(
        "migration from MetalLB: addresses kept and announced",
        || {
            reset(&cluster)?;
            migration::flow(&cluster, &routers)
        },
    );
    drop(routers);
    let pids = cluster.pids();
    let namespaces = cluster.netns_names();
    drop(cluster);
    assert_gone(&pids, &namespaces);
    eprintln!(
        "{}\nwhole test: {:.1} s",
        report.summary(),
        started.elapsed().as_secs_f64()
    );
    assert!(report.all_passed(), "{}", report.summary());
}

const NS: &str = "metallb-system";

fn install(c: &Cluster) -> Result<String> {
    c.helm_install("metallb", NS, &[])?;
    let pods = c.wait_pods_ready(
        NS,
        CHART_SELECTOR,
        c.nodes().len() + 1,
        Duration::from_secs(240),
    )?;
    let speakers = c.kubectl.pods(NS, "app.kubernetes.io/component=speaker")?;
    let mut on: Vec<&str> = speakers.iter().map(|p| p.node.as_str()).collect();
    on.sort();
    let mut want: Vec<&str> = c.nodes().iter().map(|n| n.name.as_str()).collect();
    want.sort();
    check(
        on == want,
        format!("one speaker per node: {on:?}, want {want:?}"),
    )?;
    Ok(format!("{} pods ready", pods.len()))
}

fn seed_000_layer2(c: &Cluster) -> Result<String> {
    let pool = seed("000-ip-pool.yaml");
    c.kubectl.apply(&pool)?;
    c.kubectl
        .run(&["create", "deploy", "echo", &format!("--image={ECHO_IMAGE}")])?;
    c.kubectl.run(&[
        "expose",
        "deploy",
        "echo",
        "--type=LoadBalancer",
        "--port=80",
        "--target-port=8080",
    ])?;
    let ip = c.wait_ingress("default", "echo", Duration::from_secs(60))?;
    check(
        in_range(ip, "192.168.1.200", "192.168.1.210"),
        format!("EXTERNAL-IP {ip} is in pool-1"),
    )?;
    c.wait_pods_ready("default", "app=echo", 1, Duration::from_secs(120))?;
    let reply = c.wait_echo(ip, 80, Duration::from_secs(30))?;
    let owner = wait_owner(c, "default", "echo")?;
    check_answers_arp(c, ip, &owner)?;
    let members = check_membership_metrics(c)?;
    let out = format!(
        "{ip} answered by pod {} through {owner}; {members}",
        reply.pod
    );
    Ok(out)
}

/// Every speaker sees every node alive in its membership metrics, has
/// taken heartbeats in, and rejected none for a bad key (the chart's
/// memberlist Secret reached them all).
fn check_membership_metrics(c: &Cluster) -> Result<String> {
    let nodes = c.nodes().len() as f64;
    let mut heartbeats = Vec::new();
    for (node, text) in speaker_metrics(c)? {
        let alive = scrape::sum(&text, "ferrolb_membership_members{state=\"alive\"}");
        check(
            alive == nodes,
            format!("{node}: ferrolb_membership_members alive = {alive}, want {nodes}"),
        )?;
        let forged = scrape::sum(
            &text,
            "ferrolb_membership_datagrams_rejected_total{reason=\"unauthenticated\"}",
        );
        check(
            forged == 0.0,
            format!("{node}: {forged} membership datagrams with a bad MAC"),
        )?;
        let n = scrape::sum(
            &text,
            "ferrolb_membership_datagrams_received_total{kind=\"heartbeat\"}",
        );
        check(n > 0.0, format!("{node}: no heartbeat received"))?;
        heartbeats.push(n);
    }
    Ok(format!(
        "membership metrics: {nodes} alive on each, heartbeats in {heartbeats:?}"
    ))
}

fn seed_003_smoke(c: &Cluster) -> Result<String> {
    let pool = seed("003-metallb-pool.yaml");
    c.kubectl.apply(&pool)?;
    c.kubectl.run(&[
        "create",
        "deployment",
        "lb-test",
        &format!("--image={ECHO_IMAGE}"),
        "--replicas=1",
    ])?;
    c.kubectl.run(&[
        "expose",
        "deployment",
        "lb-test",
        "--type=LoadBalancer",
        "--port=80",
        "--target-port=8080",
    ])?;
    let ip = c.wait_ingress("default", "lb-test", Duration::from_secs(60))?;
    check(
        in_range(ip, "10.47.160.200", "10.47.160.210"),
        format!("EXTERNAL-IP {ip} is in production-pool"),
    )?;
    c.wait_pods_ready("default", "app=lb-test", 1, Duration::from_secs(120))?;
    let reply = c.wait_echo(ip, 80, Duration::from_secs(30))?;
    let owner = wait_owner(c, "default", "lb-test")?;
    check_answers_arp(c, ip, &owner)?;
    let table = c.kubectl.run(&["get", "svc", "lb-test"])?;
    Ok(format!(
        "{ip} answered by {} via {owner}\n{table}",
        reply.pod
    ))
}

fn seed_003_address_in_use(c: &Cluster) -> Result<String> {
    // lb-test holds 10.47.160.200 (the smoke test): the next Service gets
    // .201, which a host on the LAN already uses.
    let squatter = c
        .lab()
        .hosts()
        .iter()
        .find(|h| h.name == "squatter")
        .cloned();
    let squatter = squatter.ok_or_else(|| LabError::Invalid("no squatter host".into()))?;
    c.kubectl.run(&[
        "expose",
        "deployment",
        "lb-test",
        "--name=lb-squat",
        "--type=LoadBalancer",
        "--port=80",
        "--target-port=8080",
    ])?;
    let ip = c.wait_ingress("default", "lb-squat", Duration::from_secs(60))?;
    check(
        ip == "10.47.160.201".parse::<IpAddr>().expect("literal"),
        format!("lb-squat got {ip}, want 10.47.160.201"),
    )?;
    let said = c.wait_for(
        "an Event on lb-squat saying the address is in use",
        Duration::from_secs(60),
        |c| {
            let events = c.kubectl.events("default", "Service", "lb-squat")?;
            Ok(
                match events.iter().find(|e| mentions_conflict(&e.message)) {
                    Some(e) => Probe::Done(e.clone()),
                    None => Probe::Pending(format!("{events:?}")),
                },
            )
        },
    )?;
    // The client still reaches the host that owns the address.
    c.client
        .netns
        .exec("ping", ["-c", "3", "-i", "0.2", "-W", "1", &ip.to_string()])?;
    let mac = neighbour_mac(c, ip)?;
    check(
        mac == squatter.mac()?,
        format!(
            "the client's ARP entry for {ip} is {mac}, the squatter's is {}",
            squatter.mac()?
        ),
    )?;
    let metric = conflict_metric(c)?;
    check(
        metric > 0.0,
        format!("ferrolb_layer2_address_conflicts = {metric}"),
    )?;
    Ok(format!(
        "Event {} {}: {}; metric {metric}",
        said.type_, said.reason, said.message
    ))
}

fn seed_002_local(c: &Cluster) -> Result<String> {
    let config = seed("002-metallb-config.yaml");
    let deployment = seed("002-echo-deployment.yaml");
    let service = seed("002-echo-service.yaml");
    c.kubectl.apply(&config)?;
    c.kubectl.apply(&deployment)?;
    c.kubectl.apply(&service)?;
    let ip = c.wait_ingress("default", "echo-service", Duration::from_secs(60))?;
    check(
        ip == "192.168.1.10".parse::<IpAddr>().expect("literal"),
        format!("echo-service got {ip}"),
    )?;
    let pods = c.wait_pods_ready("default", "app=echo", 2, Duration::from_secs(120))?;
    let mut nodes: Vec<String> = pods.iter().map(|p| p.node.clone()).collect();
    nodes.sort();
    nodes.dedup();
    check(
        nodes.len() == 2,
        format!("podAntiAffinity spreads the pods: {pods:?}"),
    )?;
    let reply = c.wait_echo(ip, 80, Duration::from_secs(30))?;
    check(
        reply.client == IpAddr::V4(c.client.ipv4),
        format!(
            "the echo server saw {} (source preserved: want {})",
            reply.client, c.client.ipv4
        ),
    )?;
    let owner = wait_owner(c, "default", "echo-service")?;
    check(
        nodes.contains(&owner),
        format!("owner {owner} runs an endpoint ({nodes:?})"),
    )?;
    check_answers_arp(c, ip, &owner)?;
    // The owner's endpoint moves away: cordon it and delete its pod; the
    // replacement can only go to the third node.
    c.kubectl.run(&["cordon", &owner])?;
    let victim = pods
        .iter()
        .find(|p| p.node == owner)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    c.kubectl.run(&["delete", "pod", &victim])?;
    let moved = c.wait_for(
        "the address to move to a node with an endpoint",
        Duration::from_secs(120),
        |c| {
            let pods = c.kubectl.pods("default", "app=echo")?;
            let ready: Vec<String> = pods
                .iter()
                .filter(|p| p.ready)
                .map(|p| p.node.clone())
                .collect();
            let now = c.kubectl.l2_owner(NS, "default", "echo-service")?;
            Ok(match now {
                Some(n) if n != owner && ready.contains(&n) && ready.len() == 2 => Probe::Done(n),
                other => Probe::Pending(format!("owner {other:?}, ready endpoints on {ready:?}")),
            })
        },
    )?;
    c.kubectl.run(&["uncordon", &owner])?;
    let reply2 = c.wait_echo(ip, 80, Duration::from_secs(30))?;
    check_answers_arp(c, ip, &moved)?;
    check(
        reply2.client == IpAddr::V4(c.client.ipv4),
        format!("after the move the echo server saw {}", reply2.client),
    )?;
    Ok(format!(
        "{ip}: owner {owner} -> {moved}; the echo server saw {}",
        reply2.client
    ))
}

fn seed_004_annotation(c: &Cluster) -> Result<String> {
    let pool = seed("004-pool.yaml");
    let service = seed("004-service.yaml");
    c.kubectl.apply(&pool)?;
    c.kubectl.run(&[
        "create",
        "deployment",
        "nginx",
        &format!("--image={ECHO_IMAGE}"),
    ])?;
    c.kubectl.apply(&service)?;
    let why = c.wait_for(
        "an Event saying why nginx gets no address",
        Duration::from_secs(60),
        |c| {
            let events = c.kubectl.events("default", "Service", "nginx")?;
            Ok(
                match events
                    .iter()
                    .find(|e| e.type_ == "Warning" && e.message.contains("192.168.1.100"))
                {
                    Some(e) => Probe::Done(e.clone()),
                    None => Probe::Pending(format!("{events:?}")),
                },
            )
        },
    )?;
    check(
        c.kubectl.service("default", "nginx")?.ingress.is_empty(),
        "nginx stays <pending>".to_string(),
    )?;
    c.kubectl.run(&[
        "annotate",
        "service",
        "nginx",
        "--overwrite",
        "metallb.universe.tf/loadBalancerIPs=192.168.1.245",
    ])?;
    let ip = c.wait_ingress("default", "nginx", Duration::from_secs(60))?;
    check(
        ip == "192.168.1.245".parse::<IpAddr>().expect("literal"),
        format!("nginx got {ip}, asked for 192.168.1.245"),
    )?;
    c.wait_pods_ready("default", "app=nginx", 1, Duration::from_secs(120))?;
    c.wait_echo(ip, 80, Duration::from_secs(30))?;
    let deprecated = c.wait_for(
        "an Event saying the annotation is deprecated",
        Duration::from_secs(30),
        |c| {
            let events = c.kubectl.events("default", "Service", "nginx")?;
            Ok(
                match events.iter().find(|e| e.message.contains("deprecated")) {
                    Some(e) => Probe::Done(e.clone()),
                    None => Probe::Pending(format!("{events:?}")),
                },
            )
        },
    )?;
    Ok(format!(
        "pending: {} {}: {}; then {ip}; {}: {}",
        why.type_, why.reason, why.message, deprecated.reason, deprecated.message
    ))
}

fn failover(c: &mut Cluster) -> Result<String> {
    let runs: usize = std::env::var("FERROLB_CLUSTER_FAILOVER_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let times = measure_failovers(c, runs)?;
    Ok(describe_failovers(&times))
}
