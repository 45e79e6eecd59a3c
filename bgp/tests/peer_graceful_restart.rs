//! Graceful restart as the restarting speaker (RFC 4724), through the real
//! session driver over loopback TCP, against a router played by the test
//! with the wire codec: the capability in our OPEN, the table before
//! End-of-RIB (never End-of-RIB before the table), and the two ways to stop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrolb_bgp::fsm::{Family, PeerAs};
use ferrolb_bgp::peer::{GracefulRestartConfig, Peer, PeerConfig, RouteAttributes};
use ferrolb_bgp::wire::{
    self, Afi, Asn, BgpId, Capability, Codec, GracefulRestart, GracefulRestartFamily, HoldTime,
    Message, Open, Safi,
};
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const NODE_AS: u32 = 64512;
const ROUTER_AS: u32 = 64500;
/// Every wait in these tests; none is expected to take more than a moment.
const PATIENCE: Duration = Duration::from_secs(10);

/// The router's end of one session.
struct Router {
    stream: TcpStream,
    buf: BytesMut,
    codec: Codec,
    send: Codec,
}

impl Router {
    /// Accepts the speaker's connection, reads its OPEN, answers with ours
    /// (with or without graceful restart) and a KEEPALIVE, and waits for
    /// the speaker's KEEPALIVE: the session is up. Returns the speaker's OPEN.
    async fn accept(listener: &TcpListener, graceful_restart: bool) -> (Router, Open) {
        let (stream, _) = tokio::time::timeout(PATIENCE, listener.accept())
            .await
            .expect("the speaker connects")
            .unwrap();
        let mut router = Router {
            stream,
            buf: BytesMut::new(),
            codec: Codec::default(),
            send: Codec::default(),
        };
        let Some(Message::Open(theirs)) = router.next().await else {
            panic!("the speaker's first message is its OPEN");
        };
        let mut caps = vec![
            Capability::MultiProtocol {
                afi: Afi::IPV4,
                safi: Safi::UNICAST,
            },
            Capability::MultiProtocol {
                afi: Afi::IPV6,
                safi: Safi::UNICAST,
            },
            Capability::FourOctetAs(Asn(ROUTER_AS)),
        ];
        if graceful_restart {
            caps.push(Capability::GracefulRestart(GracefulRestart {
                restart_state: false,
                notification: false,
                restart_time: 120,
                families: Vec::new(),
            }));
        }
        let ours = Open::new(
            Asn(ROUTER_AS),
            HoldTime::DEFAULT,
            BgpId::new(u32::from(Ipv4Addr::new(10, 0, 0, 1))).unwrap(),
            caps,
        );
        router.write(&Message::Open(ours.clone())).await;
        router.write(&Message::Keepalive).await;
        let negotiated = wire::negotiate(&ours, &theirs);
        router.codec = negotiated.receive;
        router.send = negotiated.send;
        assert_eq!(router.next().await, Some(Message::Keepalive));
        (router, theirs)
    }

    async fn write(&mut self, message: &Message) {
        let bytes = message.to_bytes(&self.send).unwrap();
        self.stream.write_all(&bytes).await.unwrap();
    }

    /// The next message; `None` when the speaker closed the connection.
    async fn next(&mut self) -> Option<Message> {
        tokio::time::timeout(PATIENCE, self.read())
            .await
            .expect("the speaker says something or closes")
    }

    async fn read(&mut self) -> Option<Message> {
        let framing = Codec {
            extended_message: true,
            ..Codec::default()
        };
        loop {
            if let Some(frame) = wire::take_frame(&mut self.buf, &framing).unwrap() {
                return Some(wire::decode_message(&frame, &self.codec).unwrap().message);
            }
            if self.stream.read_buf(&mut self.buf).await.unwrap_or(0) == 0 {
                return None;
            }
        }
    }

    /// Every message until the speaker closes the connection.
    async fn rest(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(m) = self.next().await {
            out.push(m);
        }
        out
    }
}

fn config(port: u16, gr: Option<GracefulRestartConfig>) -> PeerConfig {
    let id = BgpId::new(u32::from(Ipv4Addr::new(10, 0, 0, 11))).unwrap();
    let mut config = PeerConfig::new(
        "router",
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        NODE_AS,
        id,
        PeerAs::Exact(ROUTER_AS),
    );
    config.address = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
    config.graceful_restart = gr;
    config
}

fn table() -> BTreeMap<IpNet, RouteAttributes> {
    BTreeMap::from([(
        "198.51.100.10/32".parse().unwrap(),
        RouteAttributes::default(),
    )])
}

fn gr_capability(open: &Open) -> Option<&GracefulRestart> {
    open.capabilities.iter().find_map(|c| match c {
        Capability::GracefulRestart(gr) => Some(gr),
        _ => None,
    })
}

fn announced_v4(m: &Message) -> Vec<String> {
    match m {
        Message::Update(u) => u.nlri.iter().map(|n| n.prefix.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn withdrawn_v4(m: &Message) -> Vec<String> {
    match m {
        Message::Update(u) => u.withdrawn.iter().map(|n| n.prefix.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn end_of_rib(m: &Message) -> Option<wire::Family> {
    match m {
        Message::Update(u) => u.end_of_rib_family(),
        _ => None,
    }
}

/// A session up with the table sent and closed by End-of-RIB.
async fn up_with_table(gr: GracefulRestartConfig, router_gr: bool) -> (Peer, Router, Open) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = Peer::spawn(config(port, Some(gr)));
    peer.set_routes(table()).await;
    let (mut router, open) = Router::accept(&listener, router_gr).await;
    assert_eq!(
        announced_v4(&router.next().await.unwrap()),
        ["198.51.100.10/32"]
    );
    for _ in 0..2 {
        let eor = router.next().await;
        assert!(eor.as_ref().and_then(end_of_rib).is_some(), "{eor:?}");
    }
    (peer, router, open)
}

#[tokio::test]
async fn a_restarted_speaker_says_so_sends_its_table_then_end_of_rib_and_stops_silently() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let gr = GracefulRestartConfig {
        restart_time: 90,
        restarted_at: Some(Instant::now()),
    };
    let peer = Peer::spawn(config(port, Some(gr)));
    let (mut router, open) = Router::accept(&listener, true).await;

    let cap = gr_capability(&open).expect("graceful restart advertised");
    assert!(cap.restart_state, "R bit after a restart");
    assert!(!cap.notification, "no RFC 8538 N bit");
    assert_eq!(cap.restart_time, 90);
    let families: Vec<GracefulRestartFamily> = [Afi::IPV4, Afi::IPV6]
        .map(|afi| GracefulRestartFamily {
            afi,
            safi: Safi::UNICAST,
            forwarding_state: true,
        })
        .to_vec();
    assert_eq!(cap.families, families, "both families, forwarding kept");

    // The table is not known yet: an End-of-RIB now would make the router
    // drop every route it kept for us.
    let early = tokio::time::timeout(Duration::from_millis(500), router.read()).await;
    assert!(early.is_err(), "nothing before the table: {early:?}");

    peer.set_routes(table()).await;
    let first = router.next().await.unwrap();
    assert_eq!(announced_v4(&first), ["198.51.100.10/32"]);
    let eors: Vec<_> = [router.next().await, router.next().await]
        .iter()
        .map(|m| m.as_ref().and_then(end_of_rib))
        .collect();
    assert_eq!(
        eors,
        [
            Some(wire::Family::Ipv4Unicast),
            Some(wire::Family::Ipv6Unicast)
        ],
        "End-of-RIB per family, after the table"
    );

    // A planned restart: no withdrawal, no NOTIFICATION, just the close.
    let stopping = tokio::spawn(peer.stop_for_restart("upgrade"));
    assert_eq!(router.rest().await, Vec::<Message>::new());
    stopping.await.unwrap();
}

#[tokio::test]
async fn a_first_start_clears_the_restart_bit_and_a_plain_stop_withdraws() {
    let gr = GracefulRestartConfig {
        restart_time: GracefulRestartConfig::DEFAULT_RESTART_TIME,
        restarted_at: None,
    };
    let (peer, mut router, open) = up_with_table(gr, true).await;
    let cap = gr_capability(&open).expect("graceful restart advertised");
    assert!(!cap.restart_state, "no R bit on a first start");
    assert_eq!(cap.restart_time, 120);

    let stopping = tokio::spawn(peer.shutdown("node draining"));
    let rest = router.rest().await;
    stopping.await.unwrap();
    assert_eq!(withdrawn_v4(&rest[0]), ["198.51.100.10/32"], "{rest:?}");
    let Some(Message::Notification(n)) = rest.last() else {
        panic!("a NOTIFICATION last: {rest:?}");
    };
    assert_eq!((n.code, n.subcode), (6, 2));
}

#[tokio::test]
async fn a_restart_stop_withdraws_from_a_router_without_graceful_restart() {
    let gr = GracefulRestartConfig {
        restart_time: 120,
        restarted_at: None,
    };
    let (peer, mut router, _) = up_with_table(gr, false).await;

    // The router would keep nothing for us: withdraw and say goodbye, or
    // it would forward to us until its hold timer expires.
    let stopping = tokio::spawn(peer.stop_for_restart("upgrade"));
    let rest = router.rest().await;
    stopping.await.unwrap();
    assert_eq!(withdrawn_v4(&rest[0]), ["198.51.100.10/32"], "{rest:?}");
    assert!(
        matches!(rest.last(), Some(Message::Notification(n)) if (n.code, n.subcode) == (6, 2)),
        "{rest:?}"
    );
}

#[test]
fn the_capability_on_the_wire() {
    let gr = GracefulRestartConfig {
        restart_time: 120,
        restarted_at: None,
    };
    let families = [Family::IPV4_UNICAST, Family::IPV6_UNICAST];
    let mut buf = BytesMut::new();
    let restarted = gr.capability(&families, true);
    Message::Open(Open::new(
        Asn(NODE_AS),
        HoldTime::DEFAULT,
        BgpId::new(1).unwrap(),
        vec![restarted],
    ))
    .encode(&Codec::default(), &mut buf)
    .unwrap();
    // OPEN header (29 octets) then one optional parameter.
    let param = &buf[29..];
    assert_eq!(
        param,
        [
            0x02, 0x0c, // capabilities parameter, 12 octets
            0x40, 0x0a, // graceful restart, 10 octets
            0x80, 0x78, // R bit, restart time 120
            0x00, 0x01, 0x01, 0x80, // IPv4 unicast, F bit
            0x00, 0x02, 0x01, 0x80, // IPv6 unicast, F bit
        ]
    );
    let Capability::GracefulRestart(first_start) = gr.capability(&families, false) else {
        panic!("a graceful restart capability");
    };
    assert!(!first_start.restart_state);
    let long = GracefulRestartConfig {
        restart_time: 5000,
        restarted_at: None,
    };
    let Capability::GracefulRestart(cut) = long.capability(&families, false) else {
        panic!("a graceful restart capability");
    };
    assert_eq!(cut.restart_time, 4095, "12 bits");
}

#[test]
fn the_restart_state_lasts_at_most_the_restart_time() {
    let now = Instant::now();
    let gr = GracefulRestartConfig {
        restart_time: 120,
        restarted_at: Some(now),
    };
    assert!(gr.within_restart(now));
    assert!(gr.within_restart(now + Duration::from_secs(119)));
    assert!(!gr.within_restart(now + Duration::from_secs(120)));
    let first = GracefulRestartConfig {
        restarted_at: None,
        ..gr
    };
    assert!(!first.within_restart(now));
}
