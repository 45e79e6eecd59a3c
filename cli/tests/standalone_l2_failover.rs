//! FerroLB's Layer-2 mode (`ferrolb run` on three nodes) under the failover
//! harness of `interop_tests::l2`: the subject works for every kind of
//! failure and never lets two nodes answer; an address another host
//! already holds is never announced. No timing is asserted: the figures
//! belong to `make bench-l2`. Partitions (a node cut off from the other
//! speakers but not from the client) are `standalone_l2_partition.rs`.

use std::time::Duration;

use interop_tests::l2::ferrolb::{CLAIMED, CONFLICT, RELEASED};
use interop_tests::l2::{
    Failure, FerroLbL2, Jitter, L2Lan, L2Subject, RunOptions, run_failovers, settle,
};
use interop_tests::{Family, LabError, Probe, scrape};

fn use_this_build() {
    // SAFETY: set before any thread of this test reads the environment;
    // FerroLb::start reads it in this process.
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
}

fn options(runs: usize) -> RunOptions {
    RunOptions {
        runs,
        hold: Duration::from_millis(500),
        settle_timeout: Duration::from_secs(20),
    }
}

/// Runs the harness and checks every run moved the VIP with no dual answer.
fn failovers(family: Family, tag: &str, kinds: &[Failure]) -> interop_tests::Result<()> {
    use_this_build();
    let lan = L2Lan::new(tag, family, 3)?;
    let mut ferrolb = FerroLbL2::new();
    ferrolb.start(&lan)?;
    let mut jitter = Jitter::new(11);
    for &failure in kinds {
        let runs = run_failovers(&lan, &mut ferrolb, failure, &options(2), &mut jitter)
            .map_err(|e| LabError::Invalid(format!("{e}\n{}", ferrolb.logs(&lan))))?;
        for run in &runs {
            let o = &run.outcome;
            let context = || format!("{failure:?}: {run:?}\n{}", ferrolb.logs(&lan));
            assert!(run.completed, "no steady new owner: {}", context());
            assert_ne!(o.owner, Some(run.failed), "{}", context());
            assert_eq!(o.dual_answers, 0, "two nodes answered: {}", context());
            assert!(o.steady >= o.outage, "{}", context());
        }
    }
    settle(&lan, &ferrolb, Duration::from_secs(20))?;
    check_metrics(&lan, &ferrolb, kinds.contains(&Failure::Kill))
}

/// Every `ferrolb run --metrics-addr` serves its configuration, its
/// allocator and its membership on `/metrics`: the configuration loaded,
/// the pool's one address in use, all three members alive again,
/// heartbeats taken in, none with a bad MAC; after a crash, the suspicion
/// and the death verdict were counted.
fn check_metrics(lan: &L2Lan, ferrolb: &FerroLbL2, crashed: bool) -> interop_tests::Result<()> {
    let (mut suspicions, mut deaths) = (0.0, 0.0);
    for id in 0..lan.nodes().len() {
        let text = ferrolb.metrics(lan, id)?;
        let sample = |s: &str| scrape::sum(&text, s);
        let context = || format!("{}:\n{text}", lan.name(id));
        for (name, want) in [
            ("metallb_k8s_client_config_loaded_bool", 1.0),
            (
                "metallb_allocator_addresses_in_use_total{pool=\"lan\"}",
                1.0,
            ),
            ("metallb_allocator_addresses_total{pool=\"lan\"}", 1.0),
        ] {
            assert_eq!(sample(name), want, "{name} on {}", context());
        }
        assert_eq!(
            sample("ferrolb_membership_members{state=\"alive\"}"),
            3.0,
            "{}",
            context()
        );
        assert!(
            sample("ferrolb_membership_datagrams_received_total{kind=\"heartbeat\"}") > 0.0,
            "{}",
            context()
        );
        assert_eq!(
            sample("ferrolb_membership_datagrams_rejected_total{reason=\"unauthenticated\"}"),
            0.0,
            "{}",
            context()
        );
        suspicions += sample("ferrolb_membership_suspicions_total");
        deaths += sample("ferrolb_membership_deaths_total");
    }
    if crashed {
        assert!(
            suspicions >= 1.0 && deaths >= 1.0,
            "a speaker was killed: suspicions {suspicions}, deaths {deaths}"
        );
    }
    Ok(())
}

#[test]
fn ferrolb_failovers_ipv4() -> interop_tests::Result<()> {
    failovers(Family::Ipv4, "fl2v4", &Failure::ALL)
}

#[test]
fn ferrolb_failovers_ipv6() -> interop_tests::Result<()> {
    failovers(Family::Ipv6, "fl2v6", &[Failure::LinkCut, Failure::Kill])
}

/// The slowest heartbeat (1 s: every membership timer 200 times the
/// default's) works end to end: every fence opens after its scaled settle
/// time, and one owner answers alone, steadily. The answer gate, which
/// shuts when the membership thread has not turned for a while, scales
/// with the timing (it was 400 ms whatever the heartbeat; SWIM's gossip
/// timer happened to turn the thread more often than that).
#[test]
fn a_slow_heartbeat_answers_steadily() -> interop_tests::Result<()> {
    use_this_build();
    let lan = L2Lan::new("fl2slow", Family::Ipv4, 3)?;
    // Every timer is 200 times the default's: settle 20 s.
    let mut ferrolb = FerroLbL2::new()
        .with_args(&["--ml-heartbeat", "1s"])
        .with_rejoin_within(Duration::from_secs(60));
    ferrolb.start(&lan)?;
    settle(&lan, &ferrolb, Duration::from_secs(20))
        .map_err(|e| LabError::Invalid(format!("{e}\n{}", ferrolb.logs(&lan))))?;
    // Answered alone for a while longer, across many turns.
    std::thread::sleep(Duration::from_secs(3));
    settle(&lan, &ferrolb, Duration::from_secs(1))?;
    Ok(())
}

/// A node started with another `--ml-heartbeat` than the others is named
/// in their logs: they suspect it between its heartbeats, and nothing
/// else would say why.
#[test]
fn a_node_at_another_heartbeat_is_named_in_the_others_logs() -> interop_tests::Result<()> {
    use_this_build();
    let lan = L2Lan::new("fl2pace", Family::Ipv4, 3)?;
    let mut ferrolb = FerroLbL2::new()
        .with_args_on(2, &["--ml-heartbeat", "20ms"])
        .with_rejoin_within(Duration::from_secs(60));
    ferrolb.start(&lan)?;
    let named = lan.lab().wait_for(
        "a warning about n2's pace on n0 or n1",
        Duration::from_secs(40),
        || {
            let logs: String = [0, 1]
                .into_iter()
                .filter_map(|id| ferrolb.speaker(id).map(|s| s.log()))
                .collect();
            Ok(
                match logs
                    .lines()
                    .find(|l| l.contains("heart-beats at another pace"))
                {
                    Some(line) => Probe::Done(line.to_string()),
                    None => Probe::Pending("no warning yet".into()),
                },
            )
        },
    )?;
    assert!(named.contains(lan.name(2)), "{named}");
    assert!(named.contains("20"), "{named}");
    // And in their metrics, for an alert (the chart's
    // FerroLBLayer2HeartbeatMismatch); n2 finds both others apart.
    for (id, apart) in [(0, 1.0), (1, 1.0), (2, 2.0)] {
        let gauge = "ferrolb_membership_members_at_another_pace";
        lan.lab().wait_for(
            &format!("{gauge} {apart} on {}", lan.name(id)),
            Duration::from_secs(25),
            || {
                let found = scrape::sum(&ferrolb.metrics(&lan, id)?, gauge);
                Ok(if found == apart {
                    Probe::Done(())
                } else {
                    Probe::Pending(format!("{found}"))
                })
            },
        )?;
    }
    Ok(())
}

#[test]
fn an_address_another_host_holds_is_never_announced() -> interop_tests::Result<()> {
    conflict(Family::Ipv4, "fl2conf4")
}

#[test]
fn an_ipv6_address_another_host_holds_is_never_announced() -> interop_tests::Result<()> {
    conflict(Family::Ipv6, "fl2conf6")
}

fn conflict(family: Family, tag: &str) -> interop_tests::Result<()> {
    use_this_build();
    let mut lan = L2Lan::new(tag, family, 3)?;
    // A host outside the cluster already uses the VIP; its kernel answers
    // ARP (defends the address against DAD) for it.
    let squatter = lan.lab_mut().add_host_at("o", 50)?;
    let vip = lan.vip();
    let prefix = if vip.is_ipv4() { 24 } else { 64 };
    squatter.netns.ip([
        "addr",
        "add",
        &format!("{vip}/{prefix}"),
        "dev",
        "eth0",
        "nodad",
    ])?;
    let mut ferrolb = FerroLbL2::new();
    // Speakers first, the Service later: the address is new to the
    // cluster, so its owner probes before claiming it.
    ferrolb.start_with(&lan, false)?;
    ferrolb.add_service(&lan)?;
    let conflict = lan.lab().wait_for(
        "a speaker to report the conflict",
        Duration::from_secs(20),
        || {
            let found = (0..lan.nodes().len()).find(|&id| {
                ferrolb
                    .speaker(id)
                    .is_some_and(|s| s.log().contains(CONFLICT))
            });
            Ok(match found {
                Some(id) => Probe::Done(id),
                None => Probe::Pending("no conflict logged".into()),
            })
        },
    );
    conflict.map_err(|e| LabError::Invalid(format!("{e}\n{}", ferrolb.logs(&lan))))?;
    // Give a wrongly claiming node time to show itself.
    std::thread::sleep(Duration::from_millis(500));
    for id in 0..lan.nodes().len() {
        let log = ferrolb.speaker(id).map(|s| s.log()).unwrap_or_default();
        let claimed = log.lines().any(|l| {
            l.contains(CLAIMED) && !l.contains(RELEASED) && l.contains(&format!("ip={vip}"))
        });
        assert!(!claimed, "{} answered for {vip}:\n{log}", lan.name(id));
    }
    assert_eq!(
        lan.resolve_vip()?,
        Some(squatter.mac()?.to_lowercase()),
        "only the other host answers for {vip}:\n{}",
        ferrolb.logs(&lan)
    );
    Ok(())
}
