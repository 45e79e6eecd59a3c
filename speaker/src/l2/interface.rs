//! Everything one interface does for Layer-2 mode, pure: which addresses it
//! answers for, the conflict probe before an address is first claimed, the
//! gratuitous announcements on takeover, and the answers to requests. The
//! announcer's task per interface feeds it frames and time and carries out
//! what it returns.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ferrolb_bgp::fsm::Millis;

use super::gratuitous::{GratuitousConfig, GratuitousSchedule};
use super::probe::{Probe, ProbeConfig, ProbeOutcome};
use super::responder::{Counter, Outcome, Responder};
use super::wire::{Frame, MacAddr, parse_frame, solicited_node_mac};

/// How an address is to be claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// At once, with gratuitous announcements: another node of the cluster
    /// held it (failover), or the speaker just started and the cluster was
    /// already serving it.
    Takeover,
    /// New to the cluster: probe first; claim only if nobody answers.
    ProbeFirst,
}

/// What happened to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L2Event {
    /// Answered for from now on.
    Claimed(IpAddr),
    /// Another host answered the probe, or claims the address while we
    /// hold it: not (or no longer) answered for.
    Conflict { ip: IpAddr, mac: MacAddr },
}

/// A frame due to go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A conflict probe for an address not yet claimed.
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
    pub reply: Option<Frame>,
    pub events: Vec<L2Event>,
    /// Metrics to count, with the address.
    pub counters: Vec<(IpAddr, Counter)>,
}

/// One interface's Layer-2 state.
#[derive(Debug)]
pub struct InterfaceState {
    mac: MacAddr,
    responder: Responder,
    schedule: GratuitousSchedule,
    probe_config: ProbeConfig,
    probes: BTreeMap<IpAddr, Probe>,
    /// Addresses another host holds: neither probed again nor answered
    /// until they leave the plan.
    conflicts: BTreeMap<IpAddr, MacAddr>,
}

impl InterfaceState {
    pub fn new(mac: MacAddr, gratuitous: GratuitousConfig, probe: ProbeConfig) -> Self {
        InterfaceState {
            mac,
            responder: Responder::new(mac),
            schedule: GratuitousSchedule::new(mac, gratuitous),
            probe_config: probe,
            probes: BTreeMap::new(),
            conflicts: BTreeMap::new(),
        }
    }

    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// Makes the interface answer for exactly `wanted`. Returns the
    /// addresses claimed at once.
    pub fn set(&mut self, now: Millis, wanted: &BTreeMap<IpAddr, Claim>) -> Vec<L2Event> {
        let held: Vec<IpAddr> = self.responder.addresses().collect();
        for ip in held {
            if !wanted.contains_key(&ip) {
                self.responder.remove(ip);
                self.schedule.release(ip);
            }
        }
        self.probes.retain(|ip, _| wanted.contains_key(ip));
        self.conflicts.retain(|ip, _| wanted.contains_key(ip));
        let mut events = Vec::new();
        for (&ip, &claim) in wanted {
            if self.responder.owns(ip)
                || self.probes.contains_key(&ip)
                || self.conflicts.contains_key(&ip)
            {
                continue;
            }
            match claim {
                Claim::Takeover => {
                    self.claim(ip, now);
                    events.push(L2Event::Claimed(ip));
                }
                Claim::ProbeFirst => {
                    self.probes
                        .insert(ip, Probe::start(ip, self.mac, self.probe_config, now));
                }
            }
        }
        events
    }

    fn claim(&mut self, ip: IpAddr, now: Millis) {
        self.responder.add(ip);
        self.schedule.claim(ip, now);
    }

    /// Handles a received frame.
    pub fn handle(&mut self, bytes: &[u8]) -> Handled {
        let mut handled = Handled::default();
        if !self.probes.is_empty()
            && let Ok(frame) = parse_frame(bytes)
        {
            for probe in self.probes.values_mut() {
                if let Some(ProbeOutcome::Conflict { mac }) = probe.observe(&frame) {
                    let ip = probe.ip();
                    self.conflicts.insert(ip, mac);
                    handled.events.push(L2Event::Conflict { ip, mac });
                }
            }
            self.probes.retain(|_, p| p.outcome().is_none());
        }
        let outcome = self.responder.handle(bytes);
        if let Some((ip, counters)) = outcome.counters() {
            handled.counters.extend(counters.iter().map(|c| (ip, *c)));
        }
        match outcome {
            Outcome::Answer { reply, .. } => handled.reply = Some(reply),
            Outcome::ClaimedByOther { ip, mac } => {
                // Answering back would make the address flap between two
                // hosts: stop, and report it.
                self.responder.remove(ip);
                self.schedule.release(ip);
                self.conflicts.insert(ip, mac);
                handled.events.push(L2Event::Conflict { ip, mac });
            }
            Outcome::Ignored(_) | Outcome::Malformed(_) => {}
        }
        handled
    }

    /// Frames due at `now` (probes, announcements), and the addresses whose
    /// probe found them free.
    pub fn poll(&mut self, now: Millis) -> (Vec<Outgoing>, Vec<L2Event>) {
        let mut frames = Vec::new();
        let mut events = Vec::new();
        let mut free = Vec::new();
        for (ip, probe) in &mut self.probes {
            if let Some(frame) = probe.poll(now) {
                frames.push(Outgoing::Probe(frame));
            }
            if probe.outcome() == Some(ProbeOutcome::Free) {
                free.push(*ip);
            }
        }
        for ip in free {
            self.probes.remove(&ip);
            self.claim(ip, now);
            events.push(L2Event::Claimed(ip));
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
        self.probes
            .values()
            .filter_map(Probe::next_deadline)
            .chain(self.schedule.next_deadline())
            .min()
    }

    /// The multicast groups to receive: the solicited-node groups of the
    /// IPv6 addresses answered for or probed.
    pub fn multicast_macs(&self) -> BTreeSet<MacAddr> {
        let mut macs = self.responder.multicast_macs();
        macs.extend(self.probes.keys().filter_map(|ip| match ip {
            IpAddr::V6(v6) => Some(solicited_node_mac(*v6)),
            IpAddr::V4(_) => None,
        }));
        macs
    }

    /// The addresses answered for.
    pub fn owned(&self) -> BTreeSet<IpAddr> {
        self.responder.addresses().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::l2::wire::arp_reply;

    const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const OTHER: MacAddr = MacAddr([2, 0, 0, 0, 0, 9]);

    fn state() -> InterfaceState {
        InterfaceState::new(MAC, GratuitousConfig::default(), ProbeConfig::default())
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn a_takeover_answers_at_once_and_announces() {
        let mut s = state();
        let events = s.set(Millis(0), &[(ip(1), Claim::Takeover)].into());
        assert_eq!(events, [L2Event::Claimed(ip(1))]);
        let (frames, _) = s.poll(Millis(0));
        assert_eq!(frames.len(), 1, "the first gratuitous ARP goes out at once");
        assert_eq!(s.owned(), [ip(1)].into());
        s.set(Millis(5), &BTreeMap::new());
        assert!(s.owned().is_empty());
        assert_eq!(s.next_deadline(), None, "released: nothing more to send");
    }

    #[test]
    fn a_new_address_is_claimed_only_after_a_silent_probe() {
        let mut s = state();
        assert!(
            s.set(Millis(0), &[(ip(2), Claim::ProbeFirst)].into())
                .is_empty()
        );
        let mut now = Millis(0);
        let mut claimed = Vec::new();
        let mut probes = 0;
        while claimed.is_empty() && now < Millis(1000) {
            let (frames, events) = s.poll(now);
            probes += frames.len();
            claimed.extend(events);
            now = s.next_deadline().unwrap_or(Millis(1000));
        }
        assert_eq!(claimed, [L2Event::Claimed(ip(2))]);
        assert!(probes >= 3, "{probes}");
        assert!(now <= Millis(200), "claimed within the probe time: {now:?}");
    }

    #[test]
    fn an_answered_probe_is_a_conflict_and_nothing_is_claimed() {
        let mut s = state();
        s.set(Millis(0), &[(ip(3), Claim::ProbeFirst)].into());
        s.poll(Millis(0));
        let Some(IpAddr::V4(v4)) = Some(ip(3)) else {
            unreachable!()
        };
        let answer = arp_reply(OTHER, v4, MAC, Ipv4Addr::UNSPECIFIED).to_bytes();
        let handled = s.handle(&answer);
        assert_eq!(
            handled.events,
            [L2Event::Conflict {
                ip: ip(3),
                mac: OTHER
            }]
        );
        for t in (0..500).step_by(10) {
            assert!(s.poll(Millis(t)).1.is_empty());
        }
        assert!(s.owned().is_empty());
        // Re-setting the same plan does not probe again.
        s.set(Millis(600), &[(ip(3), Claim::ProbeFirst)].into());
        assert_eq!(s.next_deadline(), None);
    }
}
