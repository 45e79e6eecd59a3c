//! The AF_PACKET socket with the responder, the gratuitous schedule and
//! the probe, against the Linux kernel and the usual tools (arping,
//! ndisc6, ping) in a client namespace on the same link.
//!
//! Needs root (network namespaces, raw sockets), `arping` (Habets) and
//! `ndisc6` (scripts/install-deps.sh installs them).

mod l2_netns;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::time::Duration;

use ferrolb_bgp::fsm::Millis;
use ferrolb_l2::gratuitous::{GratuitousConfig, GratuitousSchedule};
use ferrolb_l2::probe::{Probe, ProbeConfig, ProbeOutcome};
use ferrolb_l2::responder::{Ignored, Outcome, Responder};
use ferrolb_l2::socket::{PacketSocket, SocketError};
use ferrolb_l2::wire::{MacAddr, ParseError, parse_frame};
use l2_netns::{CLIENT_MAC, Lan, NODE_MAC};
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until, timeout};

const OWNED_V4: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 10);
const OWNED_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x77, 0, 0, 0, 0, 0, 0x10);

/// Every test gives up after this long, whatever hangs.
const TEST_BOUND: Duration = Duration::from_secs(60);

fn mac(s: &str) -> MacAddr {
    s.parse().expect("a MAC")
}

/// What the node saw while serving.
#[derive(Debug, Default)]
struct Seen {
    answered: Vec<IpAddr>,
    ignored: Vec<Ignored>,
    malformed: Vec<ParseError>,
    claimed: Vec<(IpAddr, MacAddr)>,
    announced: Vec<IpAddr>,
}

/// The node's serving loop: answers with `responder`, announces with
/// `schedule`, until `stop` fires or its sender drops.
async fn serve(
    socket: PacketSocket,
    responder: Responder,
    mut schedule: GratuitousSchedule,
    mut stop: oneshot::Receiver<()>,
) -> Seen {
    let start = Instant::now();
    let now = || Millis::from_duration(start.elapsed());
    let mut seen = Seen::default();
    let mut buf = [0u8; 2048];
    loop {
        let deadline = schedule
            .next_deadline()
            .map_or(start + TEST_BOUND, |at| start + Duration::from_millis(at.0));
        tokio::select! {
            _ = &mut stop => return seen,
            received = socket.recv(&mut buf) => {
                let n = received.expect("recv");
                match responder.handle(buf.get(..n).unwrap_or_default()) {
                    Outcome::Answer { ip, reply } => {
                        socket.send(&reply.to_bytes()).await.expect("send");
                        seen.answered.push(ip);
                    }
                    Outcome::Ignored(why) => seen.ignored.push(why),
                    Outcome::Malformed(e) => seen.malformed.push(e),
                    Outcome::ClaimedByOther { ip, mac } => seen.claimed.push((ip, mac)),
                }
            }
            () = sleep_until(deadline) => {
                for announcement in schedule.poll(now()) {
                    socket.send(&announcement.frame.to_bytes()).await.expect("send");
                    seen.announced.push(announcement.ip);
                }
            }
        }
    }
}

/// A serving node in the background; dropping it stops the loop.
struct Node {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Seen>>,
}

impl Node {
    /// Opens the socket on the node's eth0 and serves `owned`, claiming
    /// `announce` at once.
    fn start(lan: &Lan, owned: &[IpAddr], announce: &[IpAddr]) -> Node {
        let (stop, stopped) = oneshot::channel();
        let (ready, is_ready) = mpsc::channel();
        let owned = owned.to_vec();
        let announce = announce.to_vec();
        let thread = lan.node.start(async move {
            let socket = PacketSocket::open("eth0").expect("open eth0");
            let mut responder = Responder::new(socket.mac());
            for ip in owned {
                responder.add(ip);
            }
            for group in responder.multicast_macs() {
                socket.join(group).expect("join the solicited-node group");
            }
            let mut schedule = GratuitousSchedule::new(socket.mac(), GratuitousConfig::default());
            for ip in announce {
                schedule.claim(ip, Millis(0));
            }
            let _ = ready.send(socket.mac());
            serve(socket, responder, schedule, stopped).await
        });
        let mac = is_ready
            .recv_timeout(Duration::from_secs(10))
            .expect("the node's socket opens");
        assert_eq!(
            mac,
            self::mac(NODE_MAC),
            "the socket reads the interface MAC"
        );
        Node {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Seen {
        drop(self.stop.take());
        let thread = self.thread.take().expect("thread");
        thread.join().expect("the node's loop")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Client on 10.77.0.2/24 and fd00:77::2/64.
fn lan_with_client(tag: &str) -> Lan {
    let lan = Lan::new(tag);
    lan.client
        .ip(&["addr", "add", "10.77.0.2/24", "dev", "eth0"]);
    lan.client
        .ip(&["addr", "add", "fd00:77::2/64", "dev", "eth0", "nodad"]);
    lan
}

/// `arping` from the client: the MAC that answered, if any.
fn arping(lan: &Lan, ip: &str) -> Option<String> {
    let out = lan.client.exec(
        10,
        "arping",
        &["-r", "-c", "1", "-w", "2", "-i", "eth0", ip],
    );
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// `ndisc6` from the client: the MAC that answered, if any.
fn ndisc6(lan: &Lan, ip: &str) -> Option<String> {
    let out = lan.client.exec(
        10,
        "ndisc6",
        &["-q", "-1", "-r", "2", "-w", "500", ip, "eth0"],
    );
    let text = String::from_utf8_lossy(&out.stdout).trim().to_lowercase();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn bounded<T>(f: impl FnOnce() -> T + Send + 'static) -> T
where
    T: Send + 'static,
{
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(f());
    });
    result
        .recv_timeout(TEST_BOUND)
        .expect("the test finishes in time")
}

#[test]
fn arp_and_ndp_are_answered_for_owned_addresses_only() {
    bounded(|| {
        let lan = lan_with_client("ans");
        let node = Node::start(&lan, &[OWNED_V4.into(), OWNED_V6.into()], &[]);

        assert_eq!(arping(&lan, "10.77.0.10").as_deref(), Some(NODE_MAC));
        assert_eq!(arping(&lan, "10.77.0.11"), None, "not owned: no answer");
        // A request on VLAN 7 is for the VLAN's interface, not this one.
        let tagged = lan.client.exec(
            10,
            "arping",
            &[
                "-V",
                "7",
                "-r",
                "-c",
                "1",
                "-w",
                "1",
                "-i",
                "eth0",
                "10.77.0.10",
            ],
        );
        assert!(tagged.stdout.is_empty(), "answered on VLAN 7: {tagged:?}");
        assert_eq!(ndisc6(&lan, "fd00:77::10").as_deref(), Some(NODE_MAC));
        assert_eq!(ndisc6(&lan, "fd00:77::11"), None, "not owned: no answer");

        // The kernel's own resolution (ping's) takes our answers too. Nothing
        // answers the echo itself: the node's kernel does not have the address.
        lan.client
            .exec(5, "ping", &["-c", "1", "-W", "1", "10.77.0.10"]);
        lan.client
            .exec(5, "ping", &["-6", "-c", "1", "-W", "1", "fd00:77::10"]);
        assert_eq!(
            lan.client.neighbour("10.77.0.10").as_deref(),
            Some(NODE_MAC)
        );
        assert_eq!(
            lan.client.neighbour("fd00:77::10").as_deref(),
            Some(NODE_MAC)
        );

        let seen = node.finish();
        assert!(seen.malformed.is_empty(), "{:?}", seen.malformed);
        assert!(seen.claimed.is_empty(), "{:?}", seen.claimed);
        assert!(seen.answered.contains(&OWNED_V4.into()), "{seen:?}");
        assert!(seen.answered.contains(&OWNED_V6.into()), "{seen:?}");
        assert!(
            seen.answered
                .iter()
                .all(|ip| *ip == IpAddr::from(OWNED_V4) || *ip == IpAddr::from(OWNED_V6)),
            "{seen:?}"
        );
        // The kernel filter keeps IPv4, echo requests, MLD and router
        // solicitations away from us.
        assert!(!seen.ignored.contains(&Ignored::Unrelated), "{seen:?}");
        assert!(!seen.ignored.contains(&Ignored::OwnFrame), "{seen:?}");
    });
}

#[test]
fn gratuitous_announcements_move_the_clients_neighbour_entries() {
    bounded(|| {
        let lan = lan_with_client("gra");
        let old_owner = "02:00:5e:00:00:99";
        for ip in ["10.77.0.10", "fd00:77::10"] {
            lan.client.ip(&[
                "neigh", "replace", ip, "lladdr", old_owner, "dev", "eth0", "nud", "stale",
            ]);
            assert_eq!(lan.client.neighbour(ip).as_deref(), Some(old_owner));
        }
        // Past the 1 s locktime, as after any real failover.
        std::thread::sleep(Duration::from_millis(1100));

        let owned = [IpAddr::from(OWNED_V4), IpAddr::from(OWNED_V6)];
        let node = Node::start(&lan, &owned, &owned);
        let moved = |ip| lan.client.neighbour(ip).as_deref() == Some(NODE_MAC);
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while !(moved("10.77.0.10") && moved("fd00:77::10")) {
            assert!(
                std::time::Instant::now() < deadline,
                "client still has {:?} and {:?}",
                lan.client.neighbour("10.77.0.10"),
                lan.client.neighbour("fd00:77::10")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The burst goes on: three announcements per address, 100 ms apart.
        std::thread::sleep(Duration::from_millis(400));
        let seen = node.finish();
        for ip in owned {
            assert_eq!(
                seen.announced.iter().filter(|a| **a == ip).count(),
                3,
                "{seen:?}"
            );
        }
    });
}

/// Runs a probe for `ip` from the node and returns its outcome.
fn probe_from_node(lan: &Lan, ip: IpAddr) -> ProbeOutcome {
    lan.node.block_on(async move {
        let socket = PacketSocket::open("eth0").expect("open eth0");
        let start = Instant::now();
        let now = || Millis::from_duration(start.elapsed());
        let mut probe = Probe::start(ip, socket.mac(), ProbeConfig::default(), now());
        let mut buf = [0u8; 2048];
        let run = async {
            while let Some(at) = probe.next_deadline() {
                tokio::select! {
                    received = socket.recv(&mut buf) => {
                        let n = received.expect("recv");
                        if let Ok(frame) = parse_frame(buf.get(..n).unwrap_or_default()) {
                            probe.observe(&frame);
                        }
                    }
                    () = sleep_until(start + Duration::from_millis(at.0)) => {
                        if let Some(frame) = probe.poll(now()) {
                            socket.send(&frame.to_bytes()).await.expect("send");
                        }
                    }
                }
            }
            probe.outcome().expect("a finished probe has an outcome")
        };
        let outcome = timeout(Duration::from_secs(5), run)
            .await
            .expect("probe ends");
        let took = start.elapsed();
        assert!(took < Duration::from_millis(500), "probe took {took:?}");
        outcome
    })
}

#[test]
fn probes_find_addresses_the_kernel_of_another_host_holds() {
    bounded(|| {
        let lan = lan_with_client("prb");
        let client = ProbeOutcome::Conflict {
            mac: mac(CLIENT_MAC),
        };
        // The client's kernel answers our ARP probe and defends its address
        // against our DAD solicitation: it accepted both frames.
        assert_eq!(
            probe_from_node(&lan, "10.77.0.2".parse().expect("ip")),
            client
        );
        assert_eq!(
            probe_from_node(&lan, "fd00:77::2".parse().expect("ip")),
            client
        );
        assert_eq!(
            probe_from_node(&lan, "10.77.0.30".parse().expect("ip")),
            ProbeOutcome::Free
        );
        assert_eq!(
            probe_from_node(&lan, "fd00:77::30".parse().expect("ip")),
            ProbeOutcome::Free
        );
    });
}

#[test]
fn solicited_node_groups_are_joined_and_left() {
    bounded(|| {
        let lan = Lan::new("mca");
        let groups = lan.node.block_on(async {
            let socket = PacketSocket::open("eth0").expect("open eth0");
            let group = ferrolb_l2::wire::solicited_node_mac(OWNED_V6);
            let maddr = || {
                let out = std::process::Command::new("ip")
                    .args(["maddr", "show", "dev", "eth0"])
                    .output()
                    .expect("ip maddr");
                String::from_utf8_lossy(&out.stdout).into_owned()
            };
            socket.join(group).expect("join");
            let joined = maddr();
            socket.leave(group).expect("leave");
            (joined, maddr())
        });
        assert!(groups.0.contains("33:33:ff:00:00:10"), "{}", groups.0);
        assert!(!groups.1.contains("33:33:ff:00:00:10"), "{}", groups.1);
    });
}

#[test]
fn opening_names_the_interface_problem() {
    bounded(|| {
        let lan = Lan::new("err");
        let (missing, loopback) = lan.node.block_on(async {
            (
                PacketSocket::open("nosuch0").map(|_| ()),
                PacketSocket::open("lo").map(|_| ()),
            )
        });
        assert!(
            matches!(missing, Err(SocketError::NoInterface { .. })),
            "{missing:?}"
        );
        assert!(
            matches!(
                loopback,
                Err(SocketError::NotEthernet {
                    hardware_type: 772,
                    ..
                })
            ),
            "{loopback:?}"
        );
    });
}

/// `recv_stamped` gives the kernel's receive time, not the time the
/// frame was read: frames read 300 ms after they arrived carry stamps
/// from when they were sent.
#[test]
fn received_frames_carry_the_kernels_arrival_time() {
    use std::time::SystemTime;
    bounded(|| {
        let lan = lan_with_client("stamp");
        let (opened, is_open) = mpsc::channel();
        let (sent, were_sent) = mpsc::channel::<(SystemTime, SystemTime)>();
        let node = lan.node.start(async move {
            let socket = PacketSocket::open("eth0").expect("open eth0");
            socket.stamp_arrivals();
            let _ = opened.send(());
            let (from, to) = were_sent.recv().expect("the client sent");
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut buf = [0u8; 2048];
            let mut stamps = Vec::new();
            for _ in 0..3 {
                let (_, stamp) = socket.recv_stamped(&mut buf).await.expect("recv");
                stamps.push((stamp, SystemTime::now()));
            }
            (from, to, stamps)
        });
        is_open
            .recv_timeout(Duration::from_secs(10))
            .expect("the node's socket opens");
        lan.client.block_on(async move {
            let socket = PacketSocket::open("eth0").expect("open the client's eth0");
            let request =
                ferrolb_l2::wire::arp_request(socket.mac(), Ipv4Addr::new(10, 77, 0, 2), OWNED_V4);
            let from = SystemTime::now();
            for _ in 0..3 {
                socket.send(&request.to_bytes()).await.expect("send");
            }
            let _ = sent.send((from, SystemTime::now()));
        });
        let (from, to, stamps) = node.join().expect("the node's thread");
        for (stamp, read) in &stamps {
            let stamp = stamp.expect("a kernel stamp");
            assert!(
                stamp >= from - Duration::from_millis(1) && stamp <= to + Duration::from_millis(50),
                "stamped {stamp:?}, sent within [{from:?}, {to:?}]"
            );
            let waited = read.duration_since(stamp).expect("read after arrival");
            assert!(
                waited >= Duration::from_millis(250),
                "read {waited:?} after its arrival"
            );
        }
    });
}
