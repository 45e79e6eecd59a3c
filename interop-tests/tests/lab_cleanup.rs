//! A finished lab leaves no namespace and no process behind, whether the
//! test returns or panics.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use interop_tests::held::{self, Held};
use interop_tests::{Bird, Frr, Gobgp, Lab, Neighbor, RouterConfig};
use nix::unistd::Pid;

struct Traces {
    namespaces: Vec<String>,
    pids: Vec<Pid>,
    dir: std::path::PathBuf,
}

/// A lab with every kind of daemon, returning what it created.
fn busy_lab(tag: &str, then_panic: bool) -> Traces {
    let mut traces = Traces {
        namespaces: vec![],
        pids: vec![],
        dir: Default::default(),
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut lab = Lab::new(tag).expect("lab");
        let r1 = lab.add_host("r1").expect("r1");
        let r2 = lab.add_host("r2").expect("r2");
        let n1 = lab.add_host("n1").expect("n1");
        let config = |asn, me: &interop_tests::Host| {
            RouterConfig::new(asn, me.ipv4).neighbor(Neighbor::new(n1.ipv4.into(), 64512))
        };
        let _frr = Frr::start(&lab, &r1, &config(64500, &r1)).expect("frr");
        let _bird = Bird::start(&lab, &r2, &config(64501, &r2)).expect("bird");
        let _gobgp = Gobgp::start(&lab, &n1, &config(64512, &n1)).expect("gobgp");
        traces.namespaces = lab.netns_names();
        traces.pids = lab.daemon_pids();
        traces.dir = lab.dir().to_path_buf();
        assert_eq!(traces.pids.len(), 5, "zebra, bgpd, bfdd, bird, gobgpd");
        if then_panic {
            panic!("a test failing in the middle of a lab");
        }
    }));
    assert_eq!(result.is_err(), then_panic);
    traces
}

fn assert_gone(traces: &Traces) {
    for ns in &traces.namespaces {
        assert!(
            !Path::new("/run/netns").join(ns).exists(),
            "namespace {ns} left behind"
        );
    }
    for pid in &traces.pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} left behind"
        );
    }
}

#[test]
fn a_finished_lab_leaves_no_namespace_and_no_process() {
    let traces = busy_lab("cleanok", false);
    assert_gone(&traces);
    assert!(
        !traces.dir.exists(),
        "state directory of a passing lab is removed"
    );
}

#[test]
fn a_panicking_test_still_cleans_up_and_keeps_the_logs() {
    let traces = busy_lab("cleanpanic", true);
    assert_gone(&traces);
    assert!(
        traces.dir.exists(),
        "logs of a failed lab are kept for debugging"
    );
    std::fs::remove_dir_all(&traces.dir).expect("remove kept logs");
}

#[test]
fn a_missing_daemon_is_named_not_skipped() {
    let err =
        interop_tests::prereq::require_program("/usr/lib/frr/no-such-bgpd", "frr").unwrap_err();
    assert!(err.to_string().contains("no-such-bgpd"), "{err}");
    assert!(err.to_string().contains("apt-get install frr"), "{err}");
}

#[test]
fn a_daemon_that_dies_at_start_fails_at_once_with_its_own_words() {
    let mut lab = Lab::new("diesatonce").expect("lab");
    let r = lab.add_host("r").expect("r");
    // A quote in the password breaks bird.conf.
    let config = RouterConfig::new(64500, r.ipv4)
        .neighbor(Neighbor::new("172.31.255.9".parse().expect("literal"), 64512).password("a\"b"));
    let started = std::time::Instant::now();
    let err = match Bird::start(&lab, &r, &config) {
        Ok(_) => panic!("BIRD accepted a broken configuration"),
        Err(e) => e.to_string(),
    };
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.contains("syntax error"), "{err}");
}

/// Set in the child process of the test below.
const HOLDER: &str = "FERROLB_TEST_HOLD_A_LAB";

/// Run by `a_test_told_to_stop_tears_its_lab_down` in a child process:
/// builds a lab, says what it holds, and waits to be told to stop.
#[test]
#[ignore = "a helper, run in a child process by a_test_told_to_stop_tears_its_lab_down"]
fn holds_a_lab_until_told_to_stop() {
    if std::env::var_os(HOLDER).is_none() {
        return;
    }
    let mut lab = Lab::new("cleansig").expect("lab");
    let r1 = lab.add_host("r1").expect("r1");
    let r2 = lab.add_host("r2").expect("r2");
    let config = |asn, me: &interop_tests::Host| {
        RouterConfig::new(asn, me.ipv4).neighbor(Neighbor::new(r1.ipv4.into(), 64512))
    };
    let _frr = Frr::start(&lab, &r1, &config(64500, &r1)).expect("frr");
    let _bird = Bird::start(&lab, &r2, &config(64501, &r2)).expect("bird");
    assert!(interop_tests::on_signal::watching(), "signals watched");
    held::hold(
        &lab.netns_names(),
        &lab.daemon_pids(),
        std::time::Duration::from_secs(120),
    );
}

/// SIGTERM (nextest's timeout, a CI runner giving up) runs no destructor:
/// the lab's namespaces and daemons are torn down by the handler instead.
#[test]
fn a_test_told_to_stop_tears_its_lab_down() {
    use std::time::Duration;

    let mut held = Held::start(
        "holds_a_lab_until_told_to_stop",
        HOLDER,
        Duration::from_secs(60),
    );
    assert_eq!(held.namespaces.len(), 3, "switch, r1, r2");
    assert_eq!(held.pids.len(), 4, "zebra, bgpd, bfdd, bird");
    // The namespaces go at once; the daemons within `timeout`'s
    // forwarding of the signal (5 s before its SIGKILL).
    let status = held.stop(Duration::from_secs(20), Duration::from_secs(10));
    assert_eq!(status.code(), Some(128 + 15), "ended as by SIGTERM");
    assert_gone(&Traces {
        namespaces: held.namespaces.clone(),
        pids: held.pids.clone(),
        dir: Default::default(),
    });
}
