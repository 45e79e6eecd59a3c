//! Records the BGP messages real routers send, as golden vectors for the
//! codec's tests (`bgp/tests/vectors/captured/`): a passive listener on a
//! lab node accepts the router's connection, answers its OPEN with ours and
//! a KEEPALIVE, and saves every message the router sends within a few
//! seconds, one hex file per message.
//!
//! `cargo run -p interop-tests --example capture_bgp_vectors` (as root).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrolb_bgp::wire::{
    self, Afi, Asn, BgpId, Capability, Codec, HoldTime, Message, Open, Safi, take_frame,
};
use interop_tests::{Announcement, Bird, Frr, Gobgp, Host, Lab, Neighbor, Router, RouterConfig};

const NODE_AS: u32 = 4_200_000_001;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bgp/tests/vectors/captured");
    std::fs::create_dir_all(&out)?;
    for router in ["frr", "bird", "gobgp"] {
        let mut lab = Lab::new(&format!("cap{router}"))?;
        let r = lab.add_host("r")?;
        let n = lab.add_host("n")?;
        // 4-octet AS, IPv4 and IPv6 unicast on the session, and a route
        // with attributes where the router can originate one.
        let config = RouterConfig::new(64500, r.ipv4).neighbor(
            Neighbor::new(n.ipv4.into(), NODE_AS)
                .families(&[interop_tests::Family::Ipv4, interop_tests::Family::Ipv6]),
        );
        let listener = listen(&n)?;
        let _router: Box<dyn Router> = match router {
            "frr" => Box::new(Frr::start(&lab, &r, &config)?),
            "bird" => Box::new(Bird::start(&lab, &r, &config)?),
            _ => {
                let g = Gobgp::start(&lab, &r, &config)?;
                let mut route = Announcement::new("198.51.100.10/32".parse()?);
                route
                    .communities
                    .push(interop_tests::Community::new(65000, 1));
                route.large_communities.push("64500:1:2".parse()?);
                route.med = Some(10);
                g.announce(&route)?;
                Box::new(g)
            }
        };
        let messages = listener.join().map_err(|_| "capture thread panicked")??;
        for (i, m) in messages.iter().enumerate() {
            let kind = match wire::decode_message(
                m,
                &Codec {
                    four_octet_as: true,
                    ..Codec::default()
                },
            ) {
                Ok(d) => match d.message {
                    Message::Open(_) => "open",
                    Message::Update(_) => "update",
                    Message::Keepalive => "keepalive",
                    Message::Notification(_) => "notification",
                    Message::RouteRefresh(_) => "route-refresh",
                },
                Err(_) => "undecodable",
            };
            let hex: String = m.iter().map(|b| format!("{b:02x}")).collect();
            std::fs::write(out.join(format!("{router}-{i}-{kind}.hex")), hex + "\n")?;
        }
        println!("{router}: {} messages", messages.len());
    }
    Ok(())
}

/// Accepts one connection on the node's port 179 and records what arrives.
fn listen(
    node: &Host,
) -> interop_tests::Result<std::thread::JoinHandle<interop_tests::Result<Vec<Vec<u8>>>>> {
    let addr = SocketAddr::new(node.ipv4.into(), 179);
    let id = BgpId::new(u32::from(node.ipv4))
        .ok_or_else(|| interop_tests::LabError::Invalid("id 0".into()))?;
    node.netns.spawn(move || {
        let io = |e| interop_tests::LabError::io("capture", e);
        let listener = TcpListener::bind(addr).map_err(io)?;
        let (mut stream, _) = listener.accept().map_err(io)?;
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(io)?;
        let caps = vec![
            Capability::MultiProtocol {
                afi: Afi(1),
                safi: Safi(1),
            },
            Capability::MultiProtocol {
                afi: Afi(2),
                safi: Safi(1),
            },
            Capability::RouteRefresh,
            Capability::FourOctetAs(Asn(NODE_AS)),
        ];
        let open = Message::Open(Open::new(Asn(NODE_AS), HoldTime::DEFAULT, id, caps));
        let codec = Codec {
            four_octet_as: true,
            ..Codec::default()
        };
        let mut hello = BytesMut::new();
        for m in [open, Message::Keepalive] {
            hello.extend_from_slice(
                &m.to_bytes(&codec)
                    .map_err(|e| interop_tests::LabError::Invalid(e.to_string()))?,
            );
        }
        stream.write_all(&hello).map_err(io)?;
        let mut buf = BytesMut::new();
        let mut messages = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(4);
        let framing = Codec {
            extended_message: true,
            ..Codec::default()
        };
        while Instant::now() < deadline {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(io(e)),
            }
            while let Ok(Some(frame)) = take_frame(&mut buf, &framing) {
                // Keep the session alive while we listen.
                if frame.len() == 19 && frame[18] == 4 {
                    let _ = stream.write_all(&frame);
                }
                messages.push(frame.to_vec());
            }
        }
        Ok(messages)
    })
}
