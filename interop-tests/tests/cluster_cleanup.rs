//! A cluster leaves no process (daemon, pod, shim), namespace or cgroup
//! behind, even when the test panics in the middle of it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use interop_tests::cluster::{Cluster, ClusterSpec};

mod cluster_flows;

#[test]
fn a_panicking_test_leaves_nothing_of_its_cluster() {
    let mut traces = (Vec::new(), Vec::new(), Default::default());
    let result = catch_unwind(AssertUnwindSafe(|| {
        let cluster = Cluster::start(&ClusterSpec::new("cleanup", 1)).expect("cluster");
        // A pod runs, so there are shims and pod processes to clean up.
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
            .wait_pods_ready(
                "default",
                "app=echo",
                1,
                std::time::Duration::from_secs(120),
            )
            .expect("pod ready");
        let pids = cluster.pids();
        assert!(pids.len() > 8, "daemons, holder, shims and pods: {pids:?}");
        traces = (
            pids,
            cluster.netns_names(),
            cluster.lab().dir().to_path_buf(),
        );
        panic!("a test failing in the middle of a cluster");
    }));
    assert!(result.is_err());
    let (pids, namespaces, dir): (_, _, std::path::PathBuf) = traces;
    cluster_flows::assert_gone(&pids, &namespaces);
    assert!(dir.exists(), "the logs of a failed cluster are kept");
    std::fs::remove_dir_all(&dir).expect("remove the kept logs");
    assert!(!Path::new(&dir).exists());
}
