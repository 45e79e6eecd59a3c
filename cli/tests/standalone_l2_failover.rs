//! FerroLB's Layer-2 mode (`ferrolb run` on three nodes) under the failover
//! harness of `interop_tests::l2`: the subject works for every kind of
//! failure and never lets two nodes answer; a node cut off from the other
//! speakers but not from the client stops answering before anyone takes
//! over; an address another host already holds is never announced. No
//! timing is asserted: the figures belong to `make bench-l2`.

use std::time::{Duration, Instant};

use interop_tests::l2::ferrolb::{CLAIMED, CONFLICT, RELEASED, claims};
use interop_tests::l2::measure::analyze;
use interop_tests::l2::{
    Failure, FerroLbL2, Jitter, L2Lan, L2Subject, RunOptions, run_failovers, settle,
};
use interop_tests::{Family, LabError, Probe};

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

/// Cuts `node` off from the other nodes, or heals the cut: blackhole
/// routes both ways between their addresses. The speakers' membership
/// talks node address to node address; the client's traffic to the VIP and
/// every ARP frame are untouched. (This lab's kernel has no nftables and no
/// tc actions to drop just the membership's port.)
fn partition(lan: &L2Lan, node: usize, cut: bool) -> interop_tests::Result<()> {
    let verb = if cut { "add" } else { "del" };
    let cut_off = lan.node(node)?;
    for other in lan.nodes().iter().filter(|o| o.name != cut_off.name) {
        for (from, to) in [(cut_off, other), (other, cut_off)] {
            from.netns
                .ip(["route", verb, "blackhole", &format!("{}/32", to.ipv4)])?;
        }
    }
    Ok(())
}

/// Watches the client for `span`, then returns what it saw since `since`.
fn watch(lan: &L2Lan, since: Instant, span: Duration) -> interop_tests::l2::Outcome {
    std::thread::sleep(span);
    let now = Instant::now();
    // No node is "the failed one": every reply counts.
    analyze(
        &lan.prober().pings_since(since),
        &lan.prober().neighbour_since(since),
        usize::MAX,
        since,
        now,
        Duration::from_millis(30),
    )
}

#[test]
fn a_node_cut_off_from_the_speakers_but_not_the_client_never_answers_alongside_another()
-> interop_tests::Result<()> {
    use_this_build();
    let lan = L2Lan::new("fl2part", Family::Ipv4, 3)?;
    let mut ferrolb = FerroLbL2::new();
    ferrolb.start(&lan)?;
    let owner = settle(&lan, &ferrolb, Duration::from_secs(20))?;
    let logs = |ferrolb: &FerroLbL2| ferrolb.logs(&lan);

    // The owner still reaches the client, but no other speaker: alone it
    // is a minority, so it must stop before the others take over.
    let cut_at = Instant::now();
    partition(&lan, owner, true)?;
    let cut = watch(&lan, cut_at, Duration::from_secs(2));
    assert_eq!(cut.dual_answers, 0, "{cut:?}\n{}", logs(&ferrolb));
    assert!(
        cut.owner.is_some_and(|o| o != owner) && cut.steady_for >= Duration::from_secs(1),
        "another node answers steadily: {cut:?}\n{}",
        logs(&ferrolb)
    );
    // One move of the client's entry, to the new owner: no flapping.
    assert_eq!(cut.neighbour_flips, 0, "{cut:?}\n{}", logs(&ferrolb));
    assert!(!claims(
        &ferrolb.speaker(owner).map(|s| s.log()).unwrap_or_default(),
        lan.vip()
    ));

    // Healed: the cut node comes back; the address may move back to it
    // (its hash wins), once, and never with two answering.
    let healed_at = Instant::now();
    partition(&lan, owner, false)?;
    let healed = watch(&lan, healed_at, Duration::from_secs(2));
    assert_eq!(healed.dual_answers, 0, "{healed:?}\n{}", logs(&ferrolb));
    assert!(
        healed.neighbour_flips == 0 && healed.steady_for >= Duration::from_secs(1),
        "at most one move after the heal, then steady: {healed:?}\n{}",
        logs(&ferrolb)
    );
    let owner = settle(&lan, &ferrolb, Duration::from_secs(20))?;

    // A node that does not own the address, cut off: it fences itself,
    // the others carry on, the client's entry never moves. (Lost probes
    // are not counted: a loaded machine may drop one for other reasons.)
    let bystander = (owner + 1) % lan.nodes().len();
    let cut_at = Instant::now();
    partition(&lan, bystander, true)?;
    let quiet = watch(&lan, cut_at, Duration::from_secs(1));
    partition(&lan, bystander, false)?;
    assert!(
        quiet.owner == Some(owner)
            && quiet.dual_answers == 0
            && lan.prober().neighbour_since(cut_at).is_empty(),
        "{quiet:?}\n{}",
        logs(&ferrolb)
    );
    settle(&lan, &ferrolb, Duration::from_secs(20))?;
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
