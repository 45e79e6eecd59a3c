//! Issue 18, scenario 6: Layer-2 partition and heal, for any shell that
//! runs FerroLB's speakers on the Layer-2 lab: `ferrolb run`
//! (standalone_l2_partition.rs) and `ferrolb-speaker` against the test
//! API server (l2_partition_apiserver.rs). Three nodes; the membership's
//! traffic between nodes is cut (both ways, or one way only) while every
//! node still reaches the client, then healed. The client asks who has
//! the address (an ARP request, or a Neighbor Solicitation) every few
//! milliseconds and records every MAC that answers each request: unlike
//! its UDP probes, which go to the one MAC its neighbour entry holds,
//! this sees two nodes answering at once.
//!
//! Asserted (docs/l2-mode.md, "Fencing: never two owners"): no request is
//! ever answered by two nodes (the documented bound on two owners is 0 ms
//! with the default timing); after the heal exactly one node answers, the
//! one the speakers' logs name, and the address is answered again within
//! the failover harness's allowance (3 s, far above the ~60 ms failover
//! and the 100 ms settle; the machine is shared). The figures (silences,
//! moves, time to one owner) are printed for docs/reliability.md.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use interop_tests::l2::{FerroLbL2, L2Lan, L2Subject, NodeId, Seen, WhoHas, settle};
use interop_tests::{Family, LabError};

/// The speakers of a shell on the lab's nodes, as the partition checks
/// read them: who claims the address ([`L2Subject::claimants`]) and what
/// each logged.
pub trait Speakers: L2Subject {
    /// What the speaker on `node` logged so far, while one runs.
    fn speaker_log(&self, node: NodeId) -> Option<String>;
    /// Every speaker's log, for a failure message.
    fn logs(&self, lan: &L2Lan) -> String;
}

/// The lab the cuts are made in: the LAN, the speakers on its nodes, and
/// the client asking who has the address.
pub struct Watched<'a, S> {
    pub lan: &'a L2Lan,
    pub subject: &'a S,
    pub who_has: &'a WhoHas,
}

impl<S> Clone for Watched<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Watched<'_, S> {}

impl Speakers for FerroLbL2 {
    fn speaker_log(&self, node: NodeId) -> Option<String> {
        self.speaker(node).map(|s| s.log())
    }
    fn logs(&self, lan: &L2Lan) -> String {
        FerroLbL2::logs(self, lan)
    }
}

/// What a speaker logs when its fence closes.
const FENCED: &str = "fenced: too few members reachable";

/// How long a cut lasts, and how long the client is watched after a heal.
const CUT_FOR: Duration = Duration::from_secs(2);
const WATCH_AFTER_HEAL: Duration = Duration::from_secs(2);
/// The failover harness's allowance for a new owner to answer
/// (`FerroLbL2::failover_timeout`): a loaded machine, not the design.
const ANSWERED_WITHIN: Duration = Duration::from_secs(3);
/// After a heal, one node must have answered every request alone for this
/// long by the end of the watch.
const STEADY_FOR: Duration = Duration::from_secs(1);

/// Drops, or lets through again, everything node `from` sends to node
/// `to`: a blackhole route in `from`'s namespace for `to`'s address. The
/// membership (UDP and TCP on 7946) talks node address to node address, so
/// `to` stops hearing `from` while `from` still hears `to` (its answers to
/// `to` are dropped too: a TCP probe from `to` gets no SYN-ACK). The
/// client's traffic to the VIP and every ARP/NDP frame are untouched. (This
/// lab's kernel has no nftables and no tc actions to drop just the
/// membership's port.)
fn drop_link(lan: &L2Lan, from: NodeId, to: NodeId, cut: bool) -> interop_tests::Result<()> {
    let verb = if cut { "add" } else { "del" };
    let to = lan.node(to)?.ipv4;
    lan.node(from)?
        .netns
        .ip(["route", verb, "blackhole", &format!("{to}/32")])?;
    Ok(())
}

/// A cut: the directed links (from, to) it drops.
type Cut = Vec<(NodeId, NodeId)>;

/// The cut to make around the owner of the moment.
type CutAround = fn(&L2Lan, NodeId) -> Cut;

/// `node` cut off from every other node, both ways.
fn isolate(lan: &L2Lan, node: NodeId) -> Cut {
    others(lan, node)
        .flat_map(|o| [(node, o), (o, node)])
        .collect()
}

fn others(lan: &L2Lan, node: NodeId) -> impl Iterator<Item = NodeId> {
    (0..lan.nodes().len()).filter(move |o| *o != node)
}

/// Cuts `cut`, watches the client for [`CUT_FOR`], heals, watches for
/// [`WATCH_AFTER_HEAL`]; what the client saw during the cut and after the
/// heal. The cut is healed whatever happens.
pub fn cut_and_heal(
    lan: &L2Lan,
    subject: &impl Speakers,
    who_has: &WhoHas,
    cut: &Cut,
) -> interop_tests::Result<(Seen, Seen)> {
    let at_cut = fences_closed(lan, subject);
    let cut_at = Instant::now();
    let cutting = cut
        .iter()
        .try_for_each(|&(from, to)| drop_link(lan, from, to, true));
    if cutting.is_ok() {
        std::thread::sleep(CUT_FOR);
    }
    let healed_at = Instant::now();
    let at_heal = fences_closed(lan, subject);
    // Heal every link, even after a failed cut; the cut's error, if any,
    // is the one reported (a link it never cut has no route to delete).
    let healing: Vec<_> = cut
        .iter()
        .map(|&(from, to)| drop_link(lan, from, to, false))
        .collect();
    cutting?;
    healing
        .into_iter()
        .collect::<interop_tests::Result<Vec<()>>>()?;
    std::thread::sleep(WATCH_AFTER_HEAL);
    let asked = who_has.since(cut_at);
    let entry = lan.prober().neighbour_since(cut_at);
    let entry_moves =
        |from: Instant, to: Instant| entry.iter().filter(|c| c.at >= from && c.at < to).count();
    let end = Instant::now();
    let at_end = fences_closed(lan, subject);
    Ok((
        Seen {
            entry_moves: entry_moves(cut_at, healed_at),
            fence_closures: at_heal - at_cut,
            ..Seen::of(&asked, cut_at, healed_at)
        },
        Seen {
            entry_moves: entry_moves(healed_at, end),
            fence_closures: at_end - at_heal,
            ..Seen::of(&asked, healed_at, end)
        },
    ))
}

/// How many times the speakers' fences have closed so far, from their
/// logs: a figure, not asserted (a speaker descheduled long enough on
/// this shared machine closes its fence too, by design).
fn fences_closed(lan: &L2Lan, subject: &impl Speakers) -> usize {
    (0..lan.nodes().len())
        .filter_map(|id| subject.speaker_log(id))
        .map(|log| log.lines().filter(|l| l.contains(FENCED)).count())
        .sum()
}

/// What every cut must show: no request answered twice, during the cut or
/// after the heal; after the heal the address answered again within
/// [`ANSWERED_WITHIN`], then by one node alone, the one whose speaker
/// claims it.
pub fn check_heal(
    lan: &L2Lan,
    subject: &impl Speakers,
    what: &str,
    during: &Seen,
    after: &Seen,
) -> interop_tests::Result<NodeId> {
    let context = || {
        format!(
            "{what}\nduring the cut: {}\nafter the heal: {}\n{}",
            during.line(lan),
            after.line(lan),
            subject.logs(lan)
        )
    };
    assert_eq!(during.dual, 0, "two nodes answered: {}", context());
    assert_eq!(after.dual, 0, "two nodes answered: {}", context());
    // The address moves at most once during the cut and once after the
    // heal: no flapping between nodes. A fence that closes after the heal
    // (a speaker descheduled for long enough, or the cascade of hearsay
    // sweeps the returning node's notices can start: docs/l2-mode.md,
    // Limits) sends its addresses to another node and back: counted, and
    // allowed two moves each.
    assert!(
        during.entry_moves <= 1 && after.entry_moves <= 1 + 2 * after.fence_closures,
        "the client's entry flapped: {}",
        context()
    );
    assert!(
        after.longest_silence <= ANSWERED_WITHIN,
        "unanswered too long after the heal: {}",
        context()
    );
    let owner = after.owner.filter(|_| after.steady_for >= STEADY_FOR);
    let Some(owner) = owner else {
        panic!("no one node answers steadily after the heal: {}", context());
    };
    assert_eq!(
        subject.claimants(lan)?,
        vec![owner],
        "the node answering is not the only one claiming: {}",
        context()
    );
    eprintln!(
        "{what}:\n  during the cut: {}\n  after the heal: {}",
        during.line(lan),
        after.line(lan)
    );
    Ok(owner)
}

pub fn owner(lan: &L2Lan, subject: &impl Speakers) -> interop_tests::Result<NodeId> {
    settle(lan, subject, Duration::from_secs(20))
        .map_err(|e| LabError::Invalid(format!("{e}\n{}", subject.logs(lan))))
}

/// (a) The owner cut off from the other speakers, not from the client:
/// alone it is a minority, fences itself, and another node takes over
/// with never two answering; healed, it comes back (its hash wins) with
/// never two answering. Then a node that owns nothing is cut off: the
/// owner answers throughout.
pub fn partitioned_owner_and_bystander(lab: Watched<impl Speakers>) -> interop_tests::Result<()> {
    let (lan, subject, who_has) = (lab.lan, lab.subject, lab.who_has);
    let first = owner(lan, subject)?;
    let family = Family::of(lan.vip());
    let (during, after) = cut_and_heal(lan, subject, who_has, &isolate(lan, first))?;
    let what = format!("{family:?}: the owner {} cut off", lan.name(first));
    check_heal(lan, subject, &what, &during, &after)?;
    assert_moved(lan, subject, &what, first, &during);

    let owner = owner(lan, subject)?;
    let bystander = (owner + 1) % lan.nodes().len();
    let (during, after) = cut_and_heal(lan, subject, who_has, &isolate(lan, bystander))?;
    let what = format!("{family:?}: the bystander {} cut off", lan.name(bystander));
    check_heal(lan, subject, &what, &during, &after)?;
    // Nobody but the owner answered, during the cut or after, and the
    // client's entry never moved; after the heal, unless a fence closed
    // (see `check_heal`).
    for (seen, closed) in [(&during, 0), (&after, after.fence_closures)] {
        let owner_alone = seen.moves.iter().all(|(_, who)| *who == Some(owner));
        assert!(
            (owner_alone && seen.entry_moves == 0)
                || (closed > 0 && seen.entry_moves <= 2 * closed),
            "{what}: another node answered: {}\n{}",
            seen.line(lan),
            subject.logs(lan)
        );
    }
    Ok(())
}

/// What a cut must leave the address with while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum During {
    /// Only no request answered twice (a cut that leaves the owner a
    /// quorum keeps it answering; the figures say so).
    NoDual,
    /// Another node answers steadily: the owner hears nobody (every other
    /// node's datagrams to it dropped), fences itself and tells the
    /// others, which hold it out of the candidates (issue 17, the deaf
    /// owner: before, the address stayed dark for the whole cut).
    MovesAndIsAnswered,
}

/// Another node than `before` answered steadily during the cut.
fn assert_moved(lan: &L2Lan, subject: &impl Speakers, what: &str, before: NodeId, during: &Seen) {
    let took_over = during.owner.filter(|o| *o != before);
    assert!(
        took_over.is_some() && during.steady_for >= STEADY_FOR / 2,
        "no other node answered steadily during the cut: {what}: {}\n{}",
        during.line(lan),
        subject.logs(lan)
    );
}

/// (b) Cuts in one direction only ("A hears B, B does not hear A"), each
/// healed before the next: between the owner and one other node, each
/// way, and between the owner and every other node, each way.
pub fn one_way_cuts(lab: Watched<impl Speakers>) -> interop_tests::Result<()> {
    let (lan, subject, who_has) = (lab.lan, lab.subject, lab.who_has);
    let family = Family::of(lan.vip());
    let cuts: [(&str, During, CutAround); 4] = [
        (
            "the owner's datagrams to one node dropped",
            During::NoDual,
            |lan, o| vec![(o, (o + 1) % lan.nodes().len())],
        ),
        (
            "one node's datagrams to the owner dropped",
            During::NoDual,
            |lan, o| vec![((o + 1) % lan.nodes().len(), o)],
        ),
        (
            "the owner's datagrams to every node dropped",
            During::NoDual,
            |lan, o| others(lan, o).map(|x| (o, x)).collect(),
        ),
        (
            "every node's datagrams to the owner dropped",
            During::MovesAndIsAnswered,
            |lan, o| others(lan, o).map(|x| (x, o)).collect(),
        ),
    ];
    for (name, expect, cut) in cuts {
        let before = owner(lan, subject)?;
        let (during, after) = cut_and_heal(lan, subject, who_has, &cut(lan, before))?;
        let what = format!("{family:?}: {name} (owner {})", lan.name(before));
        check_heal(lan, subject, &what, &during, &after)?;
        if expect == During::MovesAndIsAnswered {
            assert_moved(lan, subject, &what, before, &during);
        }
    }
    Ok(())
}
