//! A cluster leaves no process (daemon, pod, shim), namespace or cgroup
//! behind even when its test is told to stop (SIGTERM from nextest's
//! timeout or a CI runner), which runs no destructor. The destructor's
//! own path (a test that ends, or panics) is `cluster_seeds`' last check;
//! a panicking lab keeping its logs is `lab_cleanup`'s.

use std::time::Duration;

use interop_tests::cluster::{Cluster, ClusterSpec};
use interop_tests::held::{self, Held};

mod cluster_flows;

/// Set in the child process of the test below.
const HOLDER: &str = "FERROLB_TEST_HOLD_A_CLUSTER";

/// Run by `a_cluster_told_to_stop_leaves_nothing` in a child process: a
/// one-node cluster with a pod (so there are shims and pod processes),
/// says what it holds, and waits to be told to stop.
#[test]
#[ignore = "a helper, run in a child process by a_cluster_told_to_stop_leaves_nothing"]
fn holds_a_cluster_until_told_to_stop() {
    if std::env::var_os(HOLDER).is_none() {
        return;
    }
    let cluster = Cluster::start(&ClusterSpec::new("cleansig", 1)).expect("cluster");
    cluster
        .kubectl
        .run(&[
            "create",
            "deployment",
            "echo",
            &format!("--image={}", interop_tests::cluster::ECHO_IMAGE),
        ])
        .expect("deployment");
    cluster
        .wait_pods_ready("default", "app=echo", 1, Duration::from_secs(120))
        .expect("pod ready");
    assert!(interop_tests::on_signal::watching(), "signals watched");
    held::hold(
        &cluster.netns_names(),
        &cluster.pids(),
        Duration::from_secs(300),
    );
}

#[test]
fn a_cluster_told_to_stop_leaves_nothing() {
    let mut held = Held::start(
        "holds_a_cluster_until_told_to_stop",
        HOLDER,
        Duration::from_secs(240),
    );
    assert!(
        held.pids.len() > 8,
        "daemons, holder, shims and pods: {:?}",
        held.pids
    );
    assert!(!held.namespaces.is_empty());
    // The pods and shims go first; the daemons within `timeout`'s
    // forwarding of the signal (5 s before its SIGKILL).
    let status = held.stop(Duration::from_secs(30), Duration::from_secs(15));
    assert_eq!(status.code(), Some(128 + 15), "ended as by SIGTERM");
    cluster_flows::assert_gone(&held.pids, &held.namespaces);
}
