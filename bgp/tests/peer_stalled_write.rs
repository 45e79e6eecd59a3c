//! A peer that stops reading while our table is on its way (its process
//! frozen, its link gone behind a switch): the real session driver over
//! loopback TCP against a router played by the test, which completes the
//! handshake with a 3 s hold time and then never reads nor sends again.
//! The session must go down about a hold time later, as for a peer that
//! stops sending KEEPALIVEs, and not sit Established in a blocked write
//! (on loopback a live socket that never reads is never given up by TCP).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrolb_bgp::fsm::{PeerAs, State};
use ferrolb_bgp::peer::{Peer, PeerConfig, RouteAttributes};
use ferrolb_bgp::wire::{self, Afi, Asn, BgpId, Capability, Codec, HoldTime, Message, Open, Safi};
use ipnet::{IpNet, Ipv4Net};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

const NODE_AS: u32 = 64512;
const ROUTER_AS: u32 = 64500;
const HOLD: u16 = 3;
/// Routes with a MED each: one UPDATE per route, tens of megabytes in
/// all, far more than any socket buffer takes.
const ROUTES: u32 = 200_000;

fn table() -> BTreeMap<IpNet, RouteAttributes> {
    (0..ROUTES)
        .map(|i| {
            let addr = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)) + i);
            let prefix = IpNet::V4(Ipv4Net::new(addr, 32).unwrap());
            (prefix, RouteAttributes::default().with_med(i))
        })
        .collect()
}

async fn read_message(stream: &mut tokio::net::TcpStream, buf: &mut BytesMut) -> Message {
    loop {
        if let Some(frame) = wire::take_frame(buf, &Codec::default()).unwrap() {
            return wire::decode_message(&frame, &Codec::default())
                .unwrap()
                .message;
        }
        assert!(
            stream.read_buf(buf).await.unwrap() > 0,
            "the speaker closed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_mid_table_is_dropped_after_the_hold_time() {
    // A small receive window, so the speaker's writes block early.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    let listener = socket.listen(1).unwrap();

    let id = BgpId::new(u32::from(Ipv4Addr::new(10, 0, 0, 11))).unwrap();
    let mut config = PeerConfig::new(
        "router",
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        NODE_AS,
        id,
        PeerAs::Exact(ROUTER_AS),
    );
    config.address = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
    let peer = Peer::spawn(config);
    peer.set_routes(table()).await;

    let (mut stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the speaker connects")
        .unwrap();
    let mut buf = BytesMut::new();
    let Message::Open(_) = read_message(&mut stream, &mut buf).await else {
        panic!("an OPEN first");
    };
    let ours = Open::new(
        Asn(ROUTER_AS),
        HoldTime::new(HOLD).unwrap(),
        BgpId::new(u32::from(Ipv4Addr::new(10, 0, 0, 1))).unwrap(),
        vec![
            Capability::MultiProtocol {
                afi: Afi::IPV4,
                safi: Safi::UNICAST,
            },
            Capability::FourOctetAs(Asn(ROUTER_AS)),
        ],
    );
    for m in [Message::Open(ours), Message::Keepalive] {
        stream
            .write_all(&m.to_bytes(&Codec::default()).unwrap())
            .await
            .unwrap();
    }
    // Established as soon as our KEEPALIVE arrives; the table follows.
    let up = Instant::now();

    // The router is frozen from here on: it holds the socket open and
    // neither reads nor sends. The session must have been up and be down
    // again about a hold time after the table started to go out. A debug
    // build takes seconds to encode it on a loaded machine: 60 s is far
    // above both, and TCP's own give-up never comes on loopback.
    let mut status = peer.watch();
    let left = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let now = status.borrow_and_update().clone();
            if now.established_count >= 1 && now.state != State::Established {
                return;
            }
            status.changed().await.unwrap();
        }
    })
    .await;
    assert!(
        left.is_ok(),
        "not down {:?} after the peer stopped reading: {:?}",
        up.elapsed(),
        peer.status()
    );
    let after = up.elapsed();
    assert!(
        after >= Duration::from_secs(HOLD.into()) - Duration::from_millis(500),
        "a slow reader is not dropped before a hold time: {after:?}"
    );
    println!("session down {after:?} after it came up (hold time {HOLD} s)");
    let error = peer.status().last_error.unwrap_or_default();
    assert!(error.contains("took no data"), "{error}");
    // And the driver answers again: a shutdown completes.
    tokio::time::timeout(Duration::from_secs(10), peer.shutdown("test over"))
        .await
        .expect("shutdown completes");
    drop(stream);
}
