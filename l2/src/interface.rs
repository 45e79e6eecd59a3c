//! Everything one interface does for Layer-2 mode, pure: which addresses it
//! answers for, the conflict probe before an address is first claimed, the
//! gratuitous announcements on takeover, the answers to requests, and what
//! it does when another host claims an address ([`conflict`](super::conflict)).
//! The announcer's task per interface feeds it frames, time and the
//! cluster members' MACs, and carries out what it returns.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ferrolb_bgp::fsm::Millis;

use super::conflict::{Claimant, ConflictConfig};
use super::gratuitous::{GratuitousConfig, GratuitousSchedule};
use super::probe::{Probe, ProbeConfig, ProbeOutcome};
use super::responder::{Counter, Outcome, Responder};
use super::wire::{Frame, MacAddr, NdpMessage, Payload, parse_frame, solicited_node_mac};

/// How an address is to be claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Quickly, with gratuitous announcements: another node of the cluster
    /// held it (failover), or the speaker just started and the cluster was
    /// already serving it. One probe and a short listen
    /// ([`ProbeConfig::takeover_wait`]) come first: a foreign host that took
    /// the address (or held it while the cluster was in conflict with it)
    /// answers it, and the announcements would turn its neighbours away.
    Takeover,
    /// New to the cluster: probe first; claim only if nobody answers.
    ProbeFirst,
}

/// What happened to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L2Event {
    /// Answered for from now on.
    Claimed(IpAddr),
    /// Another host claimed the address; one announcement went out to
    /// take the neighbours back, and the address is still answered for.
    Defended {
        ip: IpAddr,
        mac: MacAddr,
        by: Claimant,
    },
    /// A foreign host holds the address (it answered the probe, or kept
    /// claiming it): not answered for while it holds it; probed again
    /// after the hold-down.
    Conflict { ip: IpAddr, mac: MacAddr },
    /// The host that held the address no longer answers a probe (or turned
    /// out to be a member): answered for again.
    Reclaimed { ip: IpAddr, holder: MacAddr },
}

/// A frame due to go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A conflict probe for an address not (or not yet) answered for, or
    /// one checking a foreign claim.
    Probe(Frame),
    /// A gratuitous ARP / unsolicited NA for a claimed address.
    Announcement(IpAddr, Frame),
}

impl Outgoing {
    pub fn frame(&self) -> &Frame {
        match self {
            Outgoing::Probe(f) | Outgoing::Announcement(_, f) => f,
        }
    }
}

/// What to do after a received frame.
#[derive(Debug, Default)]
pub struct Handled {
    /// An answer for an address, to send.
    pub reply: Option<(IpAddr, Frame)>,
    pub events: Vec<L2Event>,
    /// Metrics to count, with the address.
    pub counters: Vec<(IpAddr, Counter)>,
}

/// Where an address the plan gives this interface stands.
#[derive(Debug)]
enum Phase {
    /// Probed before its first claim.
    Probing(Probe),
    /// A takeover's short listen after one probe, before it is answered.
    Checking(Probe),
    /// Answered for; `verify` probes whether a foreign host that claimed it
    /// holds it (its answer would be the second conflicting frame).
    Answering { verify: Option<Probe> },
    /// Given way to `holder` until `until`.
    HeldDown { holder: MacAddr, until: Millis },
    /// Probed again after a hold-down.
    Reprobing { holder: MacAddr, probe: Probe },
}

#[derive(Debug)]
struct Address {
    phase: Phase,
    /// The last conflicting frame from a foreign host (RFC 5227 §2.4's
    /// recorded time).
    last_conflict: Option<Millis>,
    /// The last defense against a member's claim.
    last_member_defense: Option<Millis>,
    /// A defense against a member's claim held back by
    /// `member_defend_interval`, due then.
    member_defense_due: Option<Millis>,
}

impl Address {
    fn new(phase: Phase) -> Address {
        Address {
            phase,
            last_conflict: None,
            last_member_defense: None,
            member_defense_due: None,
        }
    }
}

/// One interface's Layer-2 state.
#[derive(Debug)]
pub struct InterfaceState {
    mac: MacAddr,
    responder: Responder,
    schedule: GratuitousSchedule,
    probe_config: ProbeConfig,
    conflict_config: ConflictConfig,
    /// The MACs the other speakers of the cluster answer from.
    members: BTreeSet<MacAddr>,
    addresses: BTreeMap<IpAddr, Address>,
    /// Addresses that left the plan while a foreign host held them: the
    /// holder, and when. The plan can drop an address for a moment (a
    /// fence closing on a loaded node); back within `defend_interval`, it
    /// is probed before it is answered again, not announced over the host
    /// that holds it.
    departed: BTreeMap<IpAddr, (MacAddr, Millis)>,
}

impl InterfaceState {
    pub fn new(
        mac: MacAddr,
        gratuitous: GratuitousConfig,
        probe: ProbeConfig,
        conflict: ConflictConfig,
    ) -> Self {
        InterfaceState {
            mac,
            responder: Responder::new(mac),
            schedule: GratuitousSchedule::new(mac, gratuitous),
            probe_config: probe,
            conflict_config: conflict,
            members: BTreeSet::new(),
            addresses: BTreeMap::new(),
            departed: BTreeMap::new(),
        }
    }

    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    pub fn conflict_config(&self) -> ConflictConfig {
        self.conflict_config
    }

    /// Makes the interface answer for exactly `wanted` (but for addresses a
    /// foreign host holds). New addresses are claimed by [`poll`](Self::poll)
    /// once their probe (or a takeover's short check) finds them free.
    pub fn set(&mut self, now: Millis, wanted: &BTreeMap<IpAddr, Claim>) {
        let gone: Vec<IpAddr> = self
            .addresses
            .keys()
            .filter(|ip| !wanted.contains_key(ip))
            .copied()
            .collect();
        let interval = self.conflict_config.defend_interval;
        self.departed.retain(|_, (_, at)| now.since(*at) < interval);
        for ip in gone {
            if let Some(Address {
                phase: Phase::HeldDown { holder, .. } | Phase::Reprobing { holder, .. },
                ..
            }) = self.addresses.remove(&ip)
            {
                self.departed.insert(ip, (holder, now));
            }
            self.responder.remove(ip);
            self.schedule.release(ip);
        }
        for (&ip, &claim) in wanted {
            if self.addresses.contains_key(&ip) {
                continue;
            }
            let probe = Probe::start(ip, self.mac, self.probe_config, now);
            let phase = match (self.departed.remove(&ip), claim) {
                (Some((holder, _)), _) => Phase::Reprobing { holder, probe },
                // Almost at once, for a fast failover; a slower foreign
                // host is found by the probe that runs once the address is
                // answered (`poll`).
                (None, Claim::Takeover) => Phase::Checking(Probe::start(
                    ip,
                    self.mac,
                    self.probe_config.takeover(),
                    now,
                )),
                (None, Claim::ProbeFirst) => Phase::Probing(probe),
            };
            self.addresses.insert(ip, Address::new(phase));
        }
    }

    /// The MACs the cluster's other speakers answer from: their claims are
    /// never conflicts. An address held down for one of them is answered
    /// again at once.
    pub fn set_members(&mut self, now: Millis, members: BTreeSet<MacAddr>) -> Vec<L2Event> {
        self.members = members;
        let freed: Vec<(IpAddr, MacAddr)> = self
            .addresses
            .iter()
            .filter_map(|(ip, a)| match a.phase {
                Phase::HeldDown { holder, .. } | Phase::Reprobing { holder, .. }
                    if self.members.contains(&holder) =>
                {
                    Some((*ip, holder))
                }
                _ => None,
            })
            .collect();
        freed
            .into_iter()
            .map(|(ip, holder)| self.reclaim(ip, holder, now))
            .collect()
    }

    fn answer(&mut self, ip: IpAddr, now: Millis) {
        self.responder.add(ip);
        self.schedule.claim(ip, now);
    }

    fn reclaim(&mut self, ip: IpAddr, holder: MacAddr, now: Millis) -> L2Event {
        self.answer(ip, now);
        if let Some(a) = self.addresses.get_mut(&ip) {
            a.phase = Phase::Answering { verify: None };
        }
        L2Event::Reclaimed { ip, holder }
    }

    fn give_way(&mut self, ip: IpAddr, holder: MacAddr, now: Millis) {
        self.responder.remove(ip);
        self.schedule.release(ip);
        let until = now.after(self.conflict_config.hold_down);
        if let Some(a) = self.addresses.get_mut(&ip) {
            a.phase = Phase::HeldDown { holder, until };
        }
    }

    /// Handles a received frame that arrived at `now`.
    pub fn handle(&mut self, now: Millis, bytes: &[u8]) -> Handled {
        let mut handled = Handled::default();
        if let Ok(frame) = parse_frame(bytes)
            && !self.sent_by_member(&frame)
        {
            handled.events.extend(self.observe_probes(now, &frame));
        }
        let outcome = self.responder.handle(bytes);
        if let Some((ip, counters)) = outcome.counters() {
            handled.counters.extend(counters.iter().map(|c| (ip, *c)));
        }
        match outcome {
            Outcome::Answer { ip, reply } => handled.reply = Some((ip, reply)),
            Outcome::ClaimedByOther { ip, mac } => {
                handled.events.extend(self.claimed_by_other(now, ip, mac));
            }
            Outcome::Ignored(_) | Outcome::Malformed(_) => {}
        }
        handled
    }

    /// Whether a frame comes from another speaker of the cluster.
    fn sent_by_member(&self, frame: &Frame) -> bool {
        let claimed = match &frame.payload {
            Payload::Arp(arp) => Some(arp.sender_mac),
            Payload::Ndp(_, NdpMessage::Advert(na)) => na.target_mac,
            Payload::Ndp(_, NdpMessage::Solicit(ns)) => ns.source_mac,
        };
        self.members.contains(&frame.ethernet.source)
            || claimed.is_some_and(|m| self.members.contains(&m))
    }

    /// Feeds a foreign frame to the probes of addresses not answered for.
    fn observe_probes(&mut self, now: Millis, frame: &Frame) -> Vec<L2Event> {
        let mut found = Vec::new();
        for (ip, a) in &mut self.addresses {
            let (probe, first) = match &mut a.phase {
                Phase::Probing(p) | Phase::Checking(p) => (p, true),
                Phase::Reprobing { probe, .. } => (probe, false),
                _ => continue,
            };
            if let Some(ProbeOutcome::Conflict { mac }) = probe.observe(frame) {
                a.last_conflict = Some(now);
                found.push((*ip, mac, first));
            }
        }
        let mut events = Vec::new();
        for (ip, mac, first) in found {
            self.give_way(ip, mac, now);
            // A host still holding the address at a re-probe was reported
            // when the interface gave way.
            if first {
                events.push(L2Event::Conflict { ip, mac });
            }
        }
        events
    }

    /// RFC 5227 §2.4 for an answered address another host (`mac`) claims.
    fn claimed_by_other(&mut self, now: Millis, ip: IpAddr, mac: MacAddr) -> Vec<L2Event> {
        let interval = self.conflict_config.defend_interval;
        let recent = |t: Option<Millis>| t.is_some_and(|t| now.since(t) < interval);
        let Some(a) = self.addresses.get_mut(&ip) else {
            return Vec::new();
        };
        if self.members.contains(&mac) {
            // The plan decides between members; a defense brings back the
            // neighbours that followed the claim.
            let spacing = self.conflict_config.member_defend_interval;
            if let Some(last) = a.last_member_defense
                && now.since(last) < spacing
            {
                a.member_defense_due = Some(last.after(spacing));
                return Vec::new();
            }
            a.last_member_defense = Some(now);
            a.member_defense_due = None;
            self.schedule.defend(ip, now);
            return vec![L2Event::Defended {
                ip,
                mac,
                by: Claimant::Member,
            }];
        }
        let keeps_claiming = recent(a.last_conflict);
        a.last_conflict = Some(now);
        if keeps_claiming {
            self.give_way(ip, mac, now);
            return vec![L2Event::Conflict { ip, mac }];
        }
        a.phase = Phase::Answering {
            verify: Some(Probe::start(ip, self.mac, self.probe_config, now)),
        };
        self.schedule.defend(ip, now);
        vec![L2Event::Defended {
            ip,
            mac,
            by: Claimant::Foreign,
        }]
    }

    /// Frames due at `now` (probes, announcements), and the addresses
    /// claimed or reclaimed because their probe found them free.
    pub fn poll(&mut self, now: Millis) -> (Vec<Outgoing>, Vec<L2Event>) {
        let mut frames = Vec::new();
        let mut free = Vec::new();
        for (ip, a) in &mut self.addresses {
            if a.member_defense_due.is_some_and(|due| due <= now) {
                a.member_defense_due = None;
                if matches!(a.phase, Phase::Answering { .. }) {
                    a.last_member_defense = Some(now);
                    self.schedule.defend(*ip, now);
                }
            }
            if let Phase::HeldDown { holder, until } = a.phase
                && until <= now
            {
                let probe = Probe::start(*ip, self.mac, self.probe_config, now);
                a.phase = Phase::Reprobing { holder, probe };
            }
            let (probe, holder) = match &mut a.phase {
                Phase::Probing(p) | Phase::Checking(p) => (p, None),
                Phase::Reprobing { probe, holder } => (probe, Some(*holder)),
                Phase::Answering { verify: Some(p) } => {
                    frames.extend(p.poll(now).map(Outgoing::Probe));
                    // Its answers come as claims (see `claimed_by_other`):
                    // silence to the end means nobody holds the address.
                    if p.outcome().is_some() {
                        a.phase = Phase::Answering { verify: None };
                    }
                    continue;
                }
                _ => continue,
            };
            frames.extend(probe.poll(now).map(Outgoing::Probe));
            if probe.outcome() == Some(ProbeOutcome::Free) {
                free.push((*ip, holder));
            }
        }
        let mut events = Vec::new();
        for (ip, holder) in free {
            events.push(match holder {
                Some(holder) => self.reclaim(ip, holder, now),
                None => {
                    self.answer(ip, now);
                    if let Some(a) = self.addresses.get_mut(&ip) {
                        // A takeover checked for one probe's answer only:
                        // the full probe runs on while it is answered.
                        let verify = matches!(a.phase, Phase::Checking(_))
                            .then(|| Probe::start(ip, self.mac, self.probe_config, now));
                        a.phase = Phase::Answering { verify };
                    }
                    L2Event::Claimed(ip)
                }
            });
        }
        frames.extend(
            self.schedule
                .poll(now)
                .into_iter()
                .map(|a| Outgoing::Announcement(a.ip, a.frame)),
        );
        (frames, events)
    }

    /// When [`poll`](Self::poll) next has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.addresses
            .values()
            .filter_map(|a| match &a.phase {
                Phase::Probing(p)
                | Phase::Checking(p)
                | Phase::Reprobing { probe: p, .. }
                | Phase::Answering { verify: Some(p) } => p.next_deadline(),
                Phase::HeldDown { until, .. } => Some(*until),
                Phase::Answering { verify: None } => None,
            })
            .chain(self.addresses.values().filter_map(|a| a.member_defense_due))
            .chain(self.schedule.next_deadline())
            .min()
    }

    /// The multicast groups to receive: the solicited-node groups of the
    /// IPv6 addresses answered for or probed.
    pub fn multicast_macs(&self) -> BTreeSet<MacAddr> {
        let mut macs = self.responder.multicast_macs();
        let probed = self.addresses.iter().filter(|(_, a)| {
            matches!(
                a.phase,
                Phase::Probing(_) | Phase::Checking(_) | Phase::Reprobing { .. }
            )
        });
        macs.extend(probed.filter_map(|(ip, _)| match ip {
            IpAddr::V6(v6) => Some(solicited_node_mac(*v6)),
            IpAddr::V4(_) => None,
        }));
        macs
    }

    /// The addresses answered for.
    pub fn owned(&self) -> BTreeSet<IpAddr> {
        self.responder.addresses().collect()
    }

    /// The addresses a foreign host holds, with its MAC: wanted, not
    /// answered for.
    pub fn in_conflict(&self) -> BTreeMap<IpAddr, MacAddr> {
        self.addresses
            .iter()
            .filter_map(|(ip, a)| match a.phase {
                Phase::HeldDown { holder, .. } | Phase::Reprobing { holder, .. } => {
                    Some((*ip, holder))
                }
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use super::*;
    use crate::wire::{arp_announcement, arp_reply};

    const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const OTHER: MacAddr = MacAddr([2, 0, 0, 0, 0, 9]);
    const MEMBER: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    fn state() -> InterfaceState {
        InterfaceState::new(
            MAC,
            GratuitousConfig::default(),
            ProbeConfig::default(),
            ConflictConfig::default(),
        )
    }

    fn v4(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(192, 0, 2, last)
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(v4(last))
    }

    /// A gratuitous ARP for `ip(last)` from `mac`.
    fn claim(mac: MacAddr, last: u8) -> Vec<u8> {
        arp_announcement(mac, v4(last)).to_bytes()
    }

    /// `mac`'s answer to our probe for `ip(last)`.
    fn probe_answer(mac: MacAddr, last: u8) -> Vec<u8> {
        arp_reply(mac, v4(last), MAC, Ipv4Addr::UNSPECIFIED).to_bytes()
    }

    /// Polls at every deadline up to `until`; returns the frames and events.
    fn run_until(
        s: &mut InterfaceState,
        from: Millis,
        until: Millis,
    ) -> (Vec<Outgoing>, Vec<L2Event>) {
        let (mut frames, mut events) = s.poll(from);
        while let Some(next) = s.next_deadline().filter(|d| *d <= until) {
            let (f, e) = s.poll(next);
            frames.extend(f);
            events.extend(e);
        }
        (frames, events)
    }

    fn count_probes(frames: &[Outgoing]) -> usize {
        frames
            .iter()
            .filter(|f| matches!(f, Outgoing::Probe(_)))
            .count()
    }

    fn count_announcements(frames: &[Outgoing]) -> usize {
        frames.len() - count_probes(frames)
    }

    /// `s` gave way on `ip(1)` to `OTHER`, and said so in `events`.
    fn assert_gave_way_to_other(s: &InterfaceState, events: &[L2Event]) {
        let conflict = L2Event::Conflict {
            ip: ip(1),
            mac: OTHER,
        };
        assert_eq!(events, [conflict]);
        assert!(s.owned().is_empty());
        assert_eq!(s.in_conflict(), [(ip(1), OTHER)].into());
    }

    /// A state answering for `ip(1)` since time 0, its burst sent.
    fn answering() -> InterfaceState {
        let mut s = state();
        s.set(Millis(0), &[(ip(1), Claim::Takeover)].into());
        run_until(&mut s, Millis(0), Millis(1000));
        s
    }

    #[test]
    fn a_takeover_listens_after_one_probe_then_answers_and_announces() {
        let mut s = state();
        s.set(Millis(0), &[(ip(1), Claim::Takeover)].into());
        let (frames, events) = s.poll(Millis(0));
        assert_eq!(count_probes(&frames), 1, "{frames:?}");
        assert_eq!(count_announcements(&frames), 0, "nothing before the check");
        assert!(events.is_empty() && s.owned().is_empty());
        let (frames, events) = run_until(&mut s, Millis(0), Millis(5));
        assert_eq!(events, [L2Event::Claimed(ip(1))]);
        assert_eq!(
            count_announcements(&frames),
            1,
            "the first gratuitous ARP goes out as the check ends"
        );
        // So does the full probe: a slower foreign host is still found.
        assert_eq!(count_probes(&frames), 1);
        assert_eq!(s.owned(), [ip(1)].into());
        s.set(Millis(6), &BTreeMap::new());
        assert!(s.owned().is_empty());
        assert_eq!(s.next_deadline(), None, "released: nothing more to send");
    }

    /// The seed-003 flake: a takeover (a node that just started, or an
    /// owner change) of an address a foreign host holds announced at once,
    /// and the host's neighbours followed the announcement to us.
    #[test]
    fn a_takeover_of_an_address_a_foreign_host_holds_never_announces() {
        let mut s = state();
        s.set(Millis(0), &[(ip(1), Claim::Takeover)].into());
        let (mut frames, _) = s.poll(Millis(0));
        let handled = s.handle(Millis(1), &probe_answer(OTHER, 1));
        assert_gave_way_to_other(&s, &handled.events);
        frames.extend(run_until(&mut s, Millis(1), Millis(1000)).0);
        assert_eq!(count_announcements(&frames), 0, "{frames:?}");
    }

    #[test]
    fn a_new_address_is_claimed_only_after_a_silent_probe() {
        let mut s = state();
        s.set(Millis(0), &[(ip(2), Claim::ProbeFirst)].into());
        let (frames, events) = run_until(&mut s, Millis(0), Millis(1000));
        assert_eq!(events, [L2Event::Claimed(ip(2))]);
        assert_eq!(count_probes(&frames), 3);
        assert_eq!(
            count_announcements(&frames),
            3,
            "the takeover burst follows"
        );
    }

    #[test]
    fn an_answered_first_probe_holds_down_then_probes_again() {
        let mut s = state();
        s.set(Millis(0), &[(ip(3), Claim::ProbeFirst)].into());
        s.poll(Millis(0));
        let handled = s.handle(Millis(1), &probe_answer(OTHER, 3));
        let conflict = L2Event::Conflict {
            ip: ip(3),
            mac: OTHER,
        };
        assert_eq!(handled.events, [conflict]);
        assert_eq!(s.in_conflict(), [(ip(3), OTHER)].into());
        // Re-setting the same plan changes nothing.
        s.set(Millis(600), &[(ip(3), Claim::ProbeFirst)].into());
        let hold_down = Millis(1).after(ConflictConfig::default().hold_down);
        assert_eq!(s.next_deadline(), Some(hold_down));
        let (frames, events) = run_until(
            &mut s,
            Millis(600),
            hold_down.after(Duration::from_millis(35)),
        );
        assert!(events.is_empty() && s.owned().is_empty());
        assert_eq!(count_probes(&frames), 2, "re-probing after the hold-down");
        // Still held: held down again, not reported again.
        let handled = s.handle(
            hold_down.after(Duration::from_millis(40)),
            &probe_answer(OTHER, 3),
        );
        assert!(handled.events.is_empty());
        assert_eq!(s.in_conflict(), [(ip(3), OTHER)].into());
    }

    #[test]
    fn one_foreign_claim_is_defended_and_the_address_kept() {
        let mut s = answering();
        let handled = s.handle(Millis(2000), &claim(OTHER, 1));
        assert_eq!(
            handled.events,
            [L2Event::Defended {
                ip: ip(1),
                mac: OTHER,
                by: Claimant::Foreign
            }]
        );
        let (frames, events) = run_until(&mut s, Millis(2000), Millis(60_000));
        assert!(events.is_empty());
        assert_eq!(count_announcements(&frames), 1, "one defense, not a burst");
        assert_eq!(
            count_probes(&frames),
            3,
            "a probe: does the claimer hold it?"
        );
        assert_eq!(s.owned(), [ip(1)].into());
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn a_foreign_host_that_answers_the_probe_after_its_claim_holds_the_address() {
        let mut s = answering();
        s.handle(Millis(2000), &claim(OTHER, 1));
        s.poll(Millis(2000));
        let handled = s.handle(Millis(2001), &probe_answer(OTHER, 1));
        assert_gave_way_to_other(&s, &handled.events);
    }

    #[test]
    fn a_second_foreign_claim_within_the_defend_interval_gives_way_until_a_silent_reprobe() {
        let mut s = answering();
        s.handle(Millis(2000), &claim(OTHER, 1));
        run_until(&mut s, Millis(2000), Millis(3000));
        let handled = s.handle(Millis(9000), &claim(OTHER, 1));
        assert_gave_way_to_other(&s, &handled.events);
        // The host is gone: the re-probe after the hold-down is unanswered.
        let back = Millis(9000).after(ConflictConfig::default().hold_down);
        let (frames, events) = run_until(&mut s, Millis(9000), back.after(Duration::from_secs(1)));
        assert_eq!(
            events,
            [L2Event::Reclaimed {
                ip: ip(1),
                holder: OTHER
            }]
        );
        assert_eq!(count_probes(&frames), 3);
        assert_eq!(count_announcements(&frames), 3, "taken back with a burst");
        assert_eq!(s.owned(), [ip(1)].into());
        assert!(s.in_conflict().is_empty());
    }

    #[test]
    fn foreign_claims_further_apart_than_the_defend_interval_are_each_defended() {
        let mut s = answering();
        for at in [2_000, 12_000, 22_001] {
            let handled = s.handle(Millis(at), &claim(OTHER, 1));
            assert!(
                matches!(handled.events[..], [L2Event::Defended { .. }]),
                "{at}: {:?}",
                handled.events
            );
            run_until(&mut s, Millis(at), Millis(at + 1000));
        }
        assert_eq!(s.owned(), [ip(1)].into());
    }

    #[test]
    fn a_members_claims_never_silence_the_owner_and_the_owner_has_the_last_word() {
        let mut s = answering();
        s.set_members(Millis(1000), [MEMBER].into());
        let mut defenses: Vec<u64> = Vec::new();
        let mut now = 2_000;
        // A member claims every 100 ms for 38 s, and answers our probes.
        while now <= 42_000 {
            if now <= 40_000 && now % 100 == 0 {
                for event in s.handle(Millis(now), &claim(MEMBER, 1)).events {
                    assert!(
                        matches!(
                            event,
                            L2Event::Defended {
                                by: Claimant::Member,
                                ..
                            }
                        ),
                        "{event:?}"
                    );
                }
                s.handle(Millis(now), &probe_answer(MEMBER, 1));
            }
            let (frames, events) = s.poll(Millis(now));
            assert!(events.is_empty() && count_probes(&frames) == 0);
            defenses.extend(frames.iter().map(|_| now));
            let next = s.next_deadline().map_or(now + 100, |d| d.0.min(now + 100));
            now = next.max(now + 1);
        }
        assert!(
            defenses.windows(2).all(|w| w[1] - w[0] >= 1000),
            "{defenses:?}"
        );
        assert_eq!(defenses.first(), Some(&2_000), "the first at once");
        assert!(
            defenses.last().is_some_and(|last| *last >= 40_000),
            "the last word: {defenses:?}"
        );
        assert_eq!(s.owned(), [ip(1)].into());
    }

    #[test]
    fn a_member_answering_the_first_probe_does_not_stop_the_claim() {
        let mut s = state();
        s.set_members(Millis(0), [MEMBER].into());
        s.set(Millis(0), &[(ip(2), Claim::ProbeFirst)].into());
        s.poll(Millis(0));
        assert!(
            s.handle(Millis(1), &probe_answer(MEMBER, 2))
                .events
                .is_empty()
        );
        let (_, events) = run_until(&mut s, Millis(1), Millis(1000));
        assert_eq!(events, [L2Event::Claimed(ip(2))]);
    }

    #[test]
    fn a_holder_learnt_to_be_a_member_gives_the_address_back_at_once() {
        let mut s = answering();
        s.handle(Millis(2000), &claim(OTHER, 1));
        s.handle(Millis(2100), &claim(OTHER, 1));
        assert!(s.owned().is_empty());
        let events = s.set_members(Millis(2200), [OTHER].into());
        assert_eq!(
            events,
            [L2Event::Reclaimed {
                ip: ip(1),
                holder: OTHER
            }]
        );
        assert_eq!(s.owned(), [ip(1)].into());
    }

    #[test]
    fn an_address_back_in_the_plan_soon_after_it_was_held_is_probed_before_it_is_answered() {
        let mut s = answering();
        s.handle(Millis(2000), &claim(OTHER, 1));
        s.handle(Millis(2100), &claim(OTHER, 1));
        s.set(Millis(2200), &BTreeMap::new());
        assert!(s.in_conflict().is_empty());
        assert_eq!(s.next_deadline(), None);
        // Back (a fence that closed for a moment): not announced over the
        // host, probed first; the host still answers.
        let takeover: BTreeMap<IpAddr, Claim> = [(ip(1), Claim::Takeover)].into();
        s.set(Millis(2300), &takeover);
        let (frames, _) = s.poll(Millis(2300));
        assert_eq!(frames.len(), 1, "a probe, no announcement: {frames:?}");
        assert!(
            s.handle(Millis(2301), &probe_answer(OTHER, 1))
                .events
                .is_empty()
        );
        assert_eq!(s.in_conflict(), [(ip(1), OTHER)].into());
        // Gone and back again after the defend interval: the host is
        // forgotten; a takeover checks briefly, and its probe finds the
        // host again.
        s.set(Millis(2400), &BTreeMap::new());
        s.set(Millis(12_400), &takeover);
        s.poll(Millis(12_400));
        let handled = s.handle(Millis(12_401), &probe_answer(OTHER, 1));
        assert_gave_way_to_other(&s, &handled.events);
    }

    #[test]
    fn a_foreign_host_slower_than_the_takeover_check_is_found_by_the_full_probe() {
        let mut s = state();
        s.set(Millis(0), &[(ip(1), Claim::Takeover)].into());
        run_until(&mut s, Millis(0), Millis(5));
        assert_eq!(s.owned(), [ip(1)].into());
        let first = s.handle(Millis(6), &probe_answer(OTHER, 1));
        assert!(matches!(first.events[..], [L2Event::Defended { .. }]));
        s.poll(Millis(6));
        let second = s.handle(Millis(7), &probe_answer(OTHER, 1));
        assert_gave_way_to_other(&s, &second.events);
    }
}
