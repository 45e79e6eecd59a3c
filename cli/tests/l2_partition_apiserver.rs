//! Issue 18, scenario 6 on Kubernetes: Layer-2 partition and heal with
//! three `ferrolb-speaker` processes (the `ferrolb` binary under that
//! name, as in the container image) against the test kube-apiserver, the
//! membership made of their Pods, the controller assigning the address.
//! The cuts, and what they must never cause, are `l2_partition`'s: the
//! owner cut off from the other speakers both ways, then a bystander,
//! then the four one-way cuts; the API server stays reachable from every
//! node throughout (its relay runs on each namespace's loopback).
//!
//! On top, once healed: the speakers' ServiceL2Status objects name the
//! one node that answers, and no other (asserted, waited for).

#[path = "../../interop-tests/tests/cluster_support/mod.rs"]
mod cluster;

mod l2_partition;

use std::path::Path;
use std::time::Duration;

use cluster::lab_nodes::{layer2_cluster, log_tails, multicall_programs, start_program};
use cluster::*;
use ferrolb_crds::api::ServiceL2Status;
use interop_tests::ferrolb::FerroLb;
use interop_tests::forward::Forward;
use interop_tests::l2::{FerroLbL2, L2Lan, L2Subject, WhoHas};
use interop_tests::{Family, LabError};
use kube::api::{Api, ListParams};
use l2_partition::Watched;

#[test]
fn k8s_partitions_and_one_way_cuts_never_let_two_nodes_answer_ipv4() -> TestResult {
    partitions(Family::Ipv4, "k8spart4")
}

#[test]
fn k8s_partitions_and_one_way_cuts_never_let_two_nodes_answer_ipv6() -> TestResult {
    partitions(Family::Ipv6, "k8spart6")
}

fn partitions(family: Family, tag: &str) -> TestResult {
    let lan = L2Lan::new(tag, family, 3)?;
    // The speakers' logs come with each failure of the scenario itself.
    let controller_log = lan.lab().dir().join("controller.log");
    let rt = runtime()?;
    let cluster = rt.block_on(async {
        let cluster = Cluster::start().await?;
        let admin = cluster.admin.clone();
        layer2_cluster(&admin, lan.nodes(), &lan.vip().to_string()).await?;
        let mut web = lb_service("web", &[], 80);
        if let Some(spec) = web.spec.as_mut() {
            // The pool holds only the VIP: a Service of its family.
            let name = if family == Family::Ipv4 {
                "IPv4"
            } else {
                "IPv6"
            };
            spec.ip_families = Some(vec![name.to_string()]);
        }
        create(&admin, web).await?;
        set_endpoint(&admin, "web", "n1", true).await?;
        TestResult::<Cluster>::Ok(cluster)
    })?;
    let outcome = scenario(&lan, &cluster, &rt, &controller_log);
    outcome.map_err(|e| format!("{e}\n{}", log_tails(&[controller_log], 25)).into())
}

fn scenario(
    lan: &L2Lan,
    cluster: &Cluster,
    rt: &tokio::runtime::Runtime,
    controller_log: &Path,
) -> TestResult {
    let bin = multicall_programs(lan.lab(), Path::new(env!("CARGO_BIN_EXE_ferrolb")))?;
    let args = cluster.controller_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let controller = start_program(
        lan.lab(),
        &bin,
        "ferrolb-controller",
        None,
        controller_log,
        &args,
    )?;
    let api = format!("127.0.0.1:{}", cluster.server.port()).parse()?;
    let _relays = lan
        .nodes()
        .iter()
        .map(|n| Forward::start(&n.netns, api))
        .collect::<Result<Vec<_>, _>>()?;
    // Each node's speaker as its Pod runs it; every life logs to its own
    // file in the node's state directory.
    let speaker_args: Vec<Vec<String>> = lan
        .nodes()
        .iter()
        .map(|n| cluster.speaker_args(&n.name))
        .collect();
    let mut speakers = FerroLbL2::new().with_launcher(
        "FerroLB (ferrolb-speaker on the test API server, L2)",
        move |lan: &L2Lan, id, log_name: &str| {
            let node = lan.node(id)?;
            let log = lan.lab().state_dir(node, "speaker")?.join(log_name);
            let args: Vec<&str> = speaker_args[id].iter().map(String::as_str).collect();
            let daemon = start_program(lan.lab(), &bin, "ferrolb-speaker", Some(node), &log, &args)
                .map_err(|e| {
                    LabError::Invalid(format!("cannot start the speaker on {}: {e}", node.name))
                })?;
            Ok(FerroLb::adopt(daemon, log))
        },
    );
    speakers.start(lan)?;
    // Started outside the runtime: it owns a runtime of its own.
    let who_has = WhoHas::start(lan)?;

    let lab = Watched {
        lan,
        subject: &speakers,
        who_has: &who_has,
    };
    l2_partition::partitioned_owner_and_bystander(lab)?;
    l2_partition::one_way_cuts(lab)?;

    let owner = l2_partition::owner(lan, &speakers)?;
    let owner = lan.name(owner).to_string();
    rt.block_on(wait_l2_status(&cluster.admin, &owner))?;
    assert!(!controller.has_exited(), "the controller exited");
    println!("load average: {}", interop_tests::procfs::load_average());
    Ok(())
}

/// Waits until the ServiceL2Status objects that name a node name `owner`
/// alone, exactly once.
async fn wait_l2_status(admin: &kube::Client, owner: &str) -> TestResult {
    let api: Api<ServiceL2Status> = Api::namespaced(admin.clone(), NS);
    let last = std::cell::RefCell::new(Vec::new());
    let found = wait_for(
        &format!("the ServiceL2Status objects to name {owner} alone"),
        Duration::from_secs(30),
        || async {
            let nodes: Vec<String> = api
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter_map(|o| o.status)
                .filter(|s| !s.node.is_empty() && !s.interfaces.is_empty())
                .map(|s| s.node)
                .collect();
            let done = nodes == [owner];
            *last.borrow_mut() = nodes;
            Ok(done.then_some(()))
        },
    )
    .await;
    found.map_err(|e| format!("{e}: last seen naming {:?}", last.borrow()).into())
}
