//! A client that asks who has the VIP (an ARP request, or a Neighbor
//! Solicitation) every few milliseconds from a packet socket, and records
//! every MAC that answers each request. Unlike the UDP probes of
//! [`super::prober`], which go to the one MAC the client's neighbour entry
//! holds, it sees two nodes answering at once (issue 18's partition and
//! outage scenarios).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrolb_l2::socket::PacketSocket;
use ferrolb_l2::wire::{
    ArpOp, ArpPacket, ETHERTYPE_ARP, EthernetHeader, Frame, MacAddr, NdpMessage, Payload,
    neighbor_solicit, parse_frame,
};

use super::{L2Lan, NodeId};
use crate::LabError;
use crate::lab::{Host, LAN_IFACE};

/// How often the client asks who has the address.
pub const ASK_EVERY: Duration = Duration::from_millis(5);
/// A request sent less than this before the end of a window is not judged:
/// its answers may still be on the way.
pub const IN_FLIGHT: Duration = Duration::from_millis(30);

/// One request of the client and the answers it drew: the node whose MAC
/// answered (`None`: a MAC of no node) and when.
#[derive(Debug, Clone)]
pub struct Asked {
    pub sent: Instant,
    pub answers: Vec<(Option<NodeId>, Instant)>,
}

impl Asked {
    /// The distinct answerers, in order of first answer.
    pub fn answerers(&self) -> Vec<Option<NodeId>> {
        let mut who = Vec::new();
        for (node, _) in &self.answers {
            if !who.contains(node) {
                who.push(*node);
            }
        }
        who
    }
}

/// The client asking who has the VIP every [`ASK_EVERY`] from a packet
/// socket in its namespace. Dropping it stops it.
pub struct WhoHas {
    log: Arc<Mutex<Vec<Asked>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl WhoHas {
    pub fn start(lan: &L2Lan) -> crate::Result<WhoHas> {
        let nodes = (0..lan.nodes().len())
            .map(|id| lan.mac(id).map(MacAddr))
            .collect::<crate::Result<Vec<_>>>()?;
        WhoHas::start_on(lan.client(), nodes, lan.vip())
    }

    /// Asks from `client` who has `vip`; an answer from `nodes[i]`'s MAC
    /// is node `i`'s.
    pub fn start_on(client: &Host, nodes: Vec<MacAddr>, vip: IpAddr) -> crate::Result<WhoHas> {
        let mac: MacAddr = client
            .mac()?
            .parse()
            .map_err(|e| LabError::Invalid(format!("the client's MAC: {e:?}")))?;
        let request = match vip {
            IpAddr::V4(vip) => arp_request(mac, client.ipv4, vip),
            IpAddr::V6(vip) => neighbor_solicit(mac, client.ipv6, vip),
        }
        .to_bytes();
        let log = Arc::new(Mutex::new(Vec::new()));
        let runtime = client.netns.runtime(1)?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let asking = log.clone();
        runtime.spawn(async move {
            // Opened here: a packet socket belongs to the namespace of the
            // thread that opens it, and this runtime's threads are the
            // client's.
            let socket = match PacketSocket::open(LAN_IFACE) {
                Ok(socket) => Arc::new(socket),
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            socket.stamp_arrivals();
            let _ = ready_tx.send(Ok(()));
            let receiver = tokio::spawn(receive(socket.clone(), vip, mac, nodes, asking.clone()));
            let mut ticks = tokio::time::interval(ASK_EVERY);
            // After a stall keep the spacing rather than send a burst.
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                ticks.tick().await;
                if receiver.is_finished() {
                    eprintln!("who-has client: the receiver stopped");
                    return;
                }
                if let Ok(mut log) = asking.lock() {
                    log.push(Asked {
                        sent: Instant::now(),
                        answers: Vec::new(),
                    });
                }
                // A request that cannot leave is a request nobody answers.
                let _ = socket.send(&request).await;
            }
        });
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => Ok(WhoHas {
                log,
                runtime: Some(runtime),
            }),
            Ok(Err(e)) => Err(LabError::Invalid(format!(
                "the who-has client cannot open its socket: {e}"
            ))),
            Err(_) => Err(LabError::Invalid("the who-has client did not start".into())),
        }
    }

    /// The requests sent at or after `since`, with their answers so far.
    pub fn since(&self, since: Instant) -> Vec<Asked> {
        let Ok(log) = self.log.lock() else {
            return Vec::new();
        };
        let start = log.partition_point(|a| a.sent < since);
        log[start..].to_vec()
    }
}

impl Drop for WhoHas {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// "Who has `vip`? Tell `ip`", broadcast, as the kernel asks.
fn arp_request(mac: MacAddr, ip: Ipv4Addr, vip: Ipv4Addr) -> Frame {
    Frame {
        ethernet: EthernetHeader {
            destination: MacAddr::BROADCAST,
            source: mac,
            vlan: None,
            ether_type: ETHERTYPE_ARP,
        },
        payload: Payload::Arp(ArpPacket {
            op: ArpOp::Request,
            sender_mac: mac,
            sender_ip: ip,
            target_mac: MacAddr::ZERO,
            target_ip: vip,
        }),
    }
}

/// The MAC that answers the client for `vip` in `frame`: an ARP reply from
/// `vip`, or a solicited NA for it, sent to the client. Gratuitous ARPs,
/// unsolicited NAs and answers to other hosts' probes are not answers to
/// the client's requests.
fn answer_of(frame: &Frame, vip: IpAddr, client: MacAddr) -> Option<MacAddr> {
    if frame.ethernet.destination != client {
        return None;
    }
    match (&frame.payload, vip) {
        (Payload::Arp(arp), IpAddr::V4(vip)) => {
            (arp.op == ArpOp::Reply && arp.sender_ip == vip).then_some(arp.sender_mac)
        }
        (Payload::Ndp(_, NdpMessage::Advert(na)), IpAddr::V6(vip)) => (na.solicited
            && na.target == vip)
            .then(|| na.target_mac.unwrap_or(frame.ethernet.source)),
        _ => None,
    }
}

async fn receive(
    socket: Arc<PacketSocket>,
    vip: IpAddr,
    client: MacAddr,
    nodes: Vec<MacAddr>,
    log: Arc<Mutex<Vec<Asked>>>,
) {
    let mut buf = [0u8; 1514];
    loop {
        let (len, stamp) = match socket.recv_stamped(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                eprintln!("who-has client: receiving: {e}");
                return;
            }
        };
        let at = arrived_at(stamp);
        let Some(mac) = buf
            .get(..len)
            .and_then(|bytes| parse_frame(bytes).ok())
            .and_then(|frame| answer_of(&frame, vip, client))
        else {
            continue;
        };
        let node = nodes.iter().position(|n| *n == mac);
        // An answer belongs to the latest request sent before it arrived:
        // ARP and NDP carry no sequence number. Two MACs on one request
        // are then two nodes answering within one request interval (5 ms),
        // far below anything the membership's timers can separate: the
        // test counts it as two owners, with no allowance.
        if let Ok(mut log) = log.lock() {
            let i = log.partition_point(|a| a.sent <= at);
            if let Some(asked) = i.checked_sub(1).and_then(|i| log.get_mut(i)) {
                asked.answers.push((node, at));
            }
        }
    }
}

/// The kernel's receive time of a frame as an `Instant`: this task may
/// run long after the frame arrived on a loaded machine, and an answer
/// judged at that later time could be laid on a later request, beside
/// that request's own answer from another node (a double answer that
/// never was). Without a stamp, now.
fn arrived_at(stamp: Option<std::time::SystemTime>) -> Instant {
    let now = Instant::now();
    let ago = stamp.and_then(|s| std::time::SystemTime::now().duration_since(s).ok());
    ago.and_then(|ago| now.checked_sub(ago)).unwrap_or(now)
}

/// What the client saw over one window.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub asked: usize,
    /// Requests answered by two nodes or more.
    pub dual: usize,
    /// Requests nobody answered.
    pub unanswered: usize,
    /// The longest time from the window's start, or from an answered
    /// request, to the next answered request (or the window's end): the
    /// longest the address went unanswered, to within one request.
    pub longest_silence: Duration,
    /// Every stretch of unanswered requests: (from the window's start to
    /// the last answered request before it, how long until the next one).
    pub silences: Vec<(Duration, Duration)>,
    /// Each change of the one node answering, from the window's start:
    /// (when, who).
    pub moves: Vec<(Duration, Option<NodeId>)>,
    /// The node answering every request alone at the end of the window.
    pub owner: Option<NodeId>,
    /// From the window's start to the first answer of that final stretch.
    pub steady_from: Option<Duration>,
    /// How long that stretch has lasted at the window's end.
    pub steady_for: Duration,
    /// Changes of the client kernel's own neighbour entry for the VIP
    /// (from `L2Lan`'s prober): one per move of the address, more is
    /// flapping.
    pub entry_moves: usize,
    /// Speakers' fences that closed (their "fenced" log lines).
    pub fence_closures: usize,
}

impl Seen {
    /// Judges the requests sent in `[from, to)`; `to` is at most now.
    pub fn of(asked: &[Asked], from: Instant, to: Instant) -> Seen {
        let judged: Vec<&Asked> = asked
            .iter()
            .filter(|a| a.sent >= from && a.sent < to && a.sent + IN_FLIGHT <= Instant::now())
            .collect();
        let mut seen = Seen {
            asked: judged.len(),
            ..Seen::default()
        };
        let mut last_answered = from;
        // A silence needs a request nobody answered: a client descheduled
        // on the loaded machine sends nothing, and says nothing about the
        // address.
        let mut missed = false;
        let mut current: Option<Option<NodeId>> = None;
        for a in &judged {
            let who = a.answerers();
            match who.as_slice() {
                [] => seen.unanswered += 1,
                [one] => {
                    if current != Some(*one) {
                        seen.moves
                            .push((a.sent.saturating_duration_since(from), *one));
                        current = Some(*one);
                    }
                }
                _ => seen.dual += 1,
            }
            if who.is_empty() {
                missed = true;
            } else {
                if missed {
                    seen.silent(from, last_answered, a.sent);
                }
                last_answered = a.sent;
                missed = false;
            }
        }
        if missed {
            let end = judged.last().map_or(from, |a| a.sent);
            seen.silent(from, last_answered, end);
        }
        // The final stretch: from the last request answered by another
        // node, or by two, every answer is the same node's. A request
        // lost on the loaded machine does not end it (silences are
        // judged on their own).
        let owner_of = |a: &Asked| match a.answerers().as_slice() {
            [Some(one)] => Some(*one),
            _ => None,
        };
        seen.owner = judged
            .iter()
            .rev()
            .find(|a| !a.answers.is_empty())
            .and_then(|a| owner_of(a));
        if let Some(owner) = seen.owner {
            let broken = judged
                .iter()
                .rposition(|a| !a.answers.is_empty() && owner_of(a) != Some(owner));
            let start = judged[broken.map_or(0, |i| i + 1)..]
                .iter()
                .find_map(|a| a.answers.first())
                .map(|(_, at)| *at);
            if let Some(start) = start {
                seen.steady_from = Some(start.saturating_duration_since(from));
                seen.steady_for = to.min(Instant::now()).saturating_duration_since(start);
            }
        }
        seen
    }

    /// Notes a silence: from `last` (an answered request, or the window's
    /// start) to `next`, with requests nobody answered between.
    fn silent(&mut self, from: Instant, last: Instant, next: Instant) {
        let length = next.saturating_duration_since(last);
        self.longest_silence = self.longest_silence.max(length);
        self.silences
            .push((last.saturating_duration_since(from), length));
    }

    /// A line for the figures: silences, moves, double answers.
    pub fn line(&self, lan: &L2Lan) -> String {
        let moves: Vec<String> = self
            .moves
            .iter()
            .map(|(at, who)| {
                let name = who.map_or("a stranger", |n| lan.name(n));
                format!("{name} at {} ms", at.as_millis())
            })
            .collect();
        let silences: Vec<String> = self
            .silences
            .iter()
            .map(|(at, length)| format!("{} ms at {}", length.as_millis(), at.as_millis()))
            .collect();
        format!(
            "{} requests, {} unanswered, longest silence {} ms (silences: {}), {} answered twice; \
             answered by: {}; one owner ({}) from {} ms, for {} ms; \
             the client's entry moved {} times; {} fences closed",
            self.asked,
            self.unanswered,
            self.longest_silence.as_millis(),
            silences.join(", "),
            self.dual,
            moves.join(", "),
            self.owner.map_or("none", |n| lan.name(n)),
            self.steady_from.map_or(-1, |d| d.as_millis() as i128),
            self.steady_for.as_millis(),
            self.entry_moves,
            self.fence_closures,
        )
    }
}

/// The window's arithmetic, without a lab.
#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn an_answer_is_placed_when_the_kernel_received_it() {
        let before = Instant::now();
        let stamp = std::time::SystemTime::now() - 40 * MS;
        let at = arrived_at(Some(stamp));
        let after = Instant::now();
        assert!(
            at + 39 * MS <= after && at + 41 * MS >= before,
            "{:?}",
            after - at
        );
        assert!(arrived_at(None) >= after, "no stamp: now");
    }

    /// Requests every 5 ms from `t0`, `who[i]` answering request i 1 ms
    /// after it left.
    fn asked(t0: Instant, who: &[&[NodeId]]) -> Vec<Asked> {
        who.iter()
            .enumerate()
            .map(|(i, nodes)| {
                let sent = t0 + 5 * MS * i as u32;
                Asked {
                    sent,
                    answers: nodes.iter().map(|n| (Some(*n), sent + MS)).collect(),
                }
            })
            .collect()
    }

    #[test]
    fn counts_silences_moves_and_double_answers() {
        let t0 = Instant::now() - Duration::from_secs(1);
        let a = asked(t0, &[&[0], &[], &[], &[1], &[1, 0], &[1], &[1]]);
        let seen = Seen::of(&a, t0, t0 + 35 * MS);
        assert_eq!((seen.asked, seen.unanswered, seen.dual), (7, 2, 1));
        assert_eq!(seen.longest_silence, 15 * MS);
        assert_eq!(seen.silences, vec![(Duration::ZERO, 15 * MS)]);
        assert_eq!(
            seen.moves,
            vec![(Duration::ZERO, Some(0)), (15 * MS, Some(1))]
        );
        assert_eq!(seen.owner, Some(1));
        // The stretch starts after the double answer: request 5's answer.
        assert_eq!(seen.steady_from, Some(26 * MS));
        assert_eq!(seen.steady_for, 9 * MS);
    }

    #[test]
    fn silence_at_either_end_counts() {
        let t0 = Instant::now() - Duration::from_secs(1);
        let a = asked(t0, &[&[], &[], &[2], &[], &[], &[]]);
        let seen = Seen::of(&a, t0, t0 + 30 * MS);
        assert_eq!(seen.longest_silence, 15 * MS);
        assert_eq!(
            seen.silences,
            vec![(Duration::ZERO, 10 * MS), (10 * MS, 15 * MS)]
        );
        // Request 2's answer, with nothing else answered since.
        assert_eq!(seen.owner, Some(2));
        assert_eq!(seen.steady_from, Some(11 * MS));
    }

    #[test]
    fn a_client_that_sent_nothing_heard_no_silence() {
        let t0 = Instant::now() - Duration::from_secs(1);
        let mut a = asked(t0, &[&[1], &[1], &[1], &[1], &[1], &[1]]);
        // Descheduled: requests 1 to 4 never left.
        a.drain(1..5);
        let seen = Seen::of(&a, t0, t0 + 30 * MS);
        assert_eq!((seen.asked, seen.unanswered), (2, 0));
        assert!(seen.silences.is_empty());
        assert_eq!(seen.longest_silence, Duration::ZERO);
    }

    #[test]
    fn a_lost_request_does_not_end_the_stretch_another_node_does() {
        let t0 = Instant::now() - Duration::from_secs(1);
        let a = asked(t0, &[&[0], &[1], &[0], &[], &[0]]);
        let seen = Seen::of(&a, t0, t0 + 25 * MS);
        assert_eq!(seen.owner, Some(0));
        // From request 2's answer (sent at 10 ms), past the lost request 3.
        assert_eq!(seen.steady_from, Some(11 * MS));
        assert_eq!(seen.steady_for, 14 * MS);
        assert_eq!(seen.silences, vec![(10 * MS, 10 * MS)]);
    }
}
