//! The quick variant of `make bench-nodes` (`interop_tests::nodes`): three
//! `ferrolb run` nodes, the same steps at a few seconds each. It checks
//! that every step measured what it says, not how fast: every node's
//! namespace counted membership datagrams both ways and the speaker's CPU
//! time, every killed owner's address was answered by another node and
//! never by two, BIRD routed every Service over all three, and the lab
//! left no namespace behind. The figures belong to the benchmark.

use std::time::Duration;

use ferrolb_l2::membership::MembershipTiming;
use interop_tests::l2::Jitter;
use interop_tests::nodes::{self, Options, Plan};

#[test]
fn three_nodes_measure_membership_failover_and_bgp() -> interop_tests::Result<()> {
    // SAFETY: set before any thread of this test reads the environment;
    // FerroLb::start reads it in this process.
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
    let plan = Plan {
        options: Options {
            services: 3,
            ml_thread_priority: Some("normal".into()),
            // A slower heartbeat than the default: the flag reaches the
            // speakers, and failover works with every timer scaled.
            timing: MembershipTiming::with_heartbeat(Duration::from_millis(10))
                .map_err(|e| interop_tests::LabError::Invalid(e.to_string()))?,
            log_filter: None,
            bgp: true,
            lifetime: Duration::from_secs(300),
        },
        settle: Duration::from_secs(1),
        window: Duration::from_secs(2),
        failovers: 2,
    };
    let before = namespaces();
    let m = nodes::measure(3, &plan, &mut Jitter::new(18))?;
    assert!(m.settled, "three speakers never all saw each other");
    assert_eq!(m.l2.len(), 3, "{m:?}");
    for (i, r) in m.l2.iter().enumerate() {
        // Heartbeats alone are 200 a second each way at 10 ms: a window
        // of 2 s that counted none read the wrong namespace or the wrong
        // line; 400 (the default's) would mean `--ml-heartbeat` was lost.
        assert!(r.datagrams_out > 0.0 && r.datagrams_in > 0.0, "n{i}: {r:?}");
        assert!(r.datagrams_out < 300.0, "n{i}: {r:?}");
        assert!(r.bytes_out > 0.0 && r.bytes_in > 0.0, "n{i}: {r:?}");
        assert!(r.cpu_percent > 0.0, "n{i}: {r:?}");
    }
    assert!(m.rss_kib.iter().all(|k| *k > 0), "{:?}", m.rss_kib);
    assert_eq!(m.failovers.len(), 2);
    for f in &m.failovers {
        assert!(f.outage.is_some(), "nobody took over: {f:?}");
        assert_eq!(f.double_answers, 0, "two nodes answered: {f:?}");
    }
    assert!(m.ecmp.is_some(), "BIRD never routed over all three");
    assert_eq!(m.bgp.len(), 3);
    assert!(
        m.bird
            .is_some_and(|(r, rss)| r.cpu_percent >= 0.0 && rss > 0)
    );
    assert_eq!(namespaces(), before, "the lab left namespaces behind");
    Ok(())
}

/// The lab's namespaces of this process.
fn namespaces() -> Vec<String> {
    let mine = format!("-{}-", std::process::id());
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.contains(&mine))
                .collect()
        })
        .unwrap_or_default()
}
