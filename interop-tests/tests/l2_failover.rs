//! The Layer-2 failover harness works: with keepalived (VRRPv3, 100 ms
//! adverts) on three nodes, cutting the owner's link or stopping its
//! keepalived moves the VIP, the client's probes are answered again by
//! another node, and the report says so. No timing is asserted: the
//! figures belong to the benchmark (`make bench-l2`).

use std::time::Duration;

use interop_tests::l2::{
    Cell, Failure, Jitter, Keepalived, L2Lan, L2Subject, RunOptions, run_failovers, settle, table,
};
use interop_tests::traffic::arp_who_has;
use interop_tests::{Family, Probe};

fn options(runs: usize) -> RunOptions {
    RunOptions {
        runs,
        hold: Duration::from_millis(500),
        settle_timeout: Duration::from_secs(20),
    }
}

#[test]
fn keepalived_failovers_are_measured() -> interop_tests::Result<()> {
    let lan = L2Lan::new("l2fail", Family::Ipv4, 3)?;
    let mut keepalived = Keepalived::new(Duration::from_millis(100));
    keepalived.start(&lan)?;
    let mut jitter = Jitter::new(7);
    let mut cells = Vec::new();
    for failure in [Failure::LinkCut, Failure::Stop] {
        let runs = run_failovers(&lan, &mut keepalived, failure, &options(2), &mut jitter)?;
        for run in &runs {
            let o = &run.outcome;
            assert!(run.completed, "{failure:?}: no steady new owner: {run:?}");
            let owner = o.owner.expect("a completed run has an owner");
            assert_ne!(owner, run.failed, "{failure:?}: the VIP did not move");
            assert!(o.outage.is_some_and(|d| d > Duration::ZERO), "{run:?}");
            assert!(o.steady >= o.outage, "{run:?}");
        }
        cells.push(Cell {
            subject: keepalived.name(),
            failure,
            runs,
        });
    }
    // The VIP is held by one node again and the client hears only it.
    settle(&lan, &keepalived, Duration::from_secs(20))?;
    let report = table(&cells);
    let rows: Vec<&str> = report.lines().collect();
    assert_eq!(rows.len(), 4, "{report}");
    for (row, failure) in rows[2..].iter().zip(["link cut", "SIGTERM"]) {
        assert!(
            row.starts_with(&format!("| keepalived (advert 0.1 s) | {failure} | 2/2 | ")),
            "{report}"
        );
        assert!(!row.contains("never"), "{report}");
    }
    Ok(())
}

#[test]
fn without_a_subject_the_harness_fails_clearly() -> interop_tests::Result<()> {
    let lan = L2Lan::new("l2none", Family::Ipv4, 3)?;
    // keepalived configured but never started: nobody holds the VIP.
    let mut keepalived = Keepalived::new(Duration::from_millis(100));
    let mut quick = options(1);
    quick.settle_timeout = Duration::from_secs(2);
    let err = run_failovers(
        &lan,
        &mut keepalived,
        Failure::LinkCut,
        &quick,
        &mut Jitter::new(1),
    )
    .expect_err("a failover without a subject cannot be measured");
    let text = err.to_string();
    assert!(
        text.contains("one node to own 172.31.255.200") && text.contains("claimed by []"),
        "{text}"
    );
    Ok(())
}

/// What a subject that answers ARP itself (FerroLB) needs from the lab:
/// every node takes the VIP's traffic, none answers ARP for it.
#[test]
fn nodes_can_accept_the_vip_without_answering_arp() -> interop_tests::Result<()> {
    let lan = L2Lan::new("l2strict", Family::Ipv4, 3)?;
    lan.accept_vip_everywhere()?;
    let vip = interop_tests::l2::lan::VIP4;
    assert_eq!(arp_who_has(lan.client(), vip)?, None);
    // Point the client at n2 by hand, as an ARP responder would.
    let n2 = &lan.nodes()[1];
    lan.client().netns.ip([
        "neigh",
        "replace",
        &vip.to_string(),
        "lladdr",
        &n2.mac()?,
        "dev",
        "eth0",
    ])?;
    lan.lab()
        .wait_for("n2 to answer the probes", Duration::from_secs(10), || {
            let since = std::time::Instant::now() - Duration::from_millis(200);
            let pings = lan.prober().pings_since(since);
            let by_n2 = pings
                .iter()
                .filter(|p| p.replies.iter().any(|(n, _)| *n == 1))
                .count();
            Ok(if by_n2 >= 10 {
                Probe::Done(())
            } else {
                Probe::Pending(format!("{by_n2} of {} answered by n2", pings.len()))
            })
        })?;
    Ok(())
}
