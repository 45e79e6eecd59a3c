//! Issue 18's soak, short: the controller and three speakers (the
//! `ferrolb` binary under both names) against the real API server and
//! BIRD and FRR, under two minutes of churn at a lower rate (the full run
//! is `make soak`, docs/reliability.md).
//!
//! Must never happen (asserted): a BGP session reset that no edit of that
//! router's BGPPeer explains, an edit that did not restart each node's
//! session with that router (else the attribution proves nothing), a
//! router's table differing from the one the API's final state calls
//! for, a live Service without an address, a component exiting, or a
//! component's open descriptors growing by more than
//! [`MAX_FD_GROWTH`] after warm-up.

#[path = "../../interop-tests/tests/cluster_support/mod.rs"]
mod cluster;
#[path = "../../interop-tests/tests/cluster_support/soak.rs"]
mod soak;

use std::path::PathBuf;
use std::time::Duration;

use cluster::TestResult;
use soak::{Config, Programs};

/// Descriptors a component may open for good during the churn: a few API
/// connections come and go; a leak per Service or per session grows
/// without bound.
const MAX_FD_GROWTH: usize = 16;

#[test]
fn churn_leaves_the_tables_right_and_resets_only_edited_sessions() -> TestResult {
    let config = Config {
        tag: "soak",
        duration: Duration::from_secs(100),
        warmup: Duration::from_secs(30),
        rate: 5.0,
        flip_rate: 2.0,
        live: 40,
        edit_every: Duration::from_secs(30),
        sample_every: Duration::from_secs(2),
        frr: true,
        programs: Programs::Multicall(PathBuf::from(env!("CARGO_BIN_EXE_ferrolb"))),
        converge: Duration::from_secs(60),
    };
    let report = soak::run(&config)?;
    report.print();

    assert!(
        report.ops.created > 40 && report.ops.updated > 0 && report.ops.deleted > 0,
        "the churn did not churn: {:?}",
        report.ops
    );
    assert!(report.exited.is_empty(), "exited: {:?}", report.exited);
    assert!(
        report.unexplained_resets().is_empty(),
        "session resets no BGPPeer edit explains: {:?}",
        report.unexplained_resets()
    );
    assert!(!report.edits.is_empty(), "no BGPPeer was edited");
    for edit in &report.edits {
        let caused = report
            .resets
            .iter()
            .filter(|r| r.edit == Some(edit.at))
            .count();
        assert_eq!(
            caused, 3,
            "the edit of {}'s peer at {:?} restarted {caused} sessions, not one per node: {:?}",
            edit.router, edit.at, report.resets
        );
    }
    assert!(
        report.tables_match(),
        "tables differ from the expected one: {:?}",
        report.tables
    );
    assert!(
        report.tables.iter().all(|t| t.expected > 0),
        "nothing was expected: the comparison proves nothing"
    );
    assert!(
        report.unassigned.is_empty(),
        "unassigned: {:?}",
        report.unassigned
    );
    for t in report.trends() {
        assert!(
            t.fds_last <= t.fds_first + MAX_FD_GROWTH,
            "{} went from {} to {} open descriptors after warm-up",
            t.process,
            t.fds_first,
            t.fds_last
        );
    }
    Ok(())
}
