//! A finished lab leaves no namespace and no process behind, whether the
//! test returns or panics.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

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
    println!("namespaces {}", lab.netns_names().join(" "));
    let pids: Vec<String> = lab.daemon_pids().iter().map(|p| p.to_string()).collect();
    println!("pids {}", pids.join(" "));
    println!("ready");
    std::thread::sleep(std::time::Duration::from_secs(120));
}

/// SIGTERM (nextest's timeout, a CI runner giving up) runs no destructor:
/// the lab's namespaces and daemons are torn down by the handler instead.
#[test]
fn a_test_told_to_stop_tears_its_lab_down() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    /// Tells the child to stop however this test ends.
    struct Held(std::process::Child);
    impl Drop for Held {
        fn drop(&mut self) {
            let pid = Pid::from_raw(self.0.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = self.0.wait();
        }
    }

    let child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "holds_a_lab_until_told_to_stop",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLDER, "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("child test process");
    let mut child = Held(child);
    let stdout = child.0.stdout.take().expect("piped stdout");
    // Read on a thread, so that a child that never gets ready fails the
    // test after a bound instead of hanging it.
    let (lines, held) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let mut traces = Traces {
        namespaces: vec![],
        pids: vec![],
        dir: Default::default(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = held.recv_timeout(left) else {
            panic!("the child never held its lab");
        };
        // libtest's "test ... " may start the first line.
        let after = |marker: &str| line.find(marker).map(|i| &line[i + marker.len()..]);
        if let Some(names) = after("namespaces ") {
            traces.namespaces = names.split_whitespace().map(str::to_string).collect();
        } else if let Some(pids) = after("pids ") {
            traces.pids = pids
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .map(Pid::from_raw)
                .collect();
        } else if line.ends_with("ready") {
            break;
        }
    }
    assert_eq!(traces.namespaces.len(), 3, "switch, r1, r2");
    assert_eq!(traces.pids.len(), 4, "zebra, bgpd, bfdd, bird");

    let pid = Pid::from_raw(child.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.0.kill();
            panic!("the child did not exit within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(128 + 15), "ended as by SIGTERM");
    // The namespaces go at once; the daemons within `timeout`'s
    // forwarding of the signal (5 s before its SIGKILL).
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && traces
            .pids
            .iter()
            .any(|p| Path::new(&format!("/proc/{p}")).exists())
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_gone(&traces);
}
