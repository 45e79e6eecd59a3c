//! A BGP speaker in its own process, for the convergence benchmark
//! (`bgp-convergence`): it announces N distinct /32s from 100.64.0.0 with
//! one attribute set to one router, and stays until SIGTERM or SIGINT, so
//! the benchmark can read its peak RSS and CPU time from /proc.
//!
//! Two modes:
//! - default: FerroLB's session driver (`ferrolb_bgp::peer::Peer`), exactly
//!   as the speaker runs it;
//! - `--replay`: the replay limit. OPEN/KEEPALIVE by hand, then UPDATEs
//!   encoded before connecting and packed to the negotiated maximum size
//!   are written in one go, as fast as TCP takes them, then End-of-RIB.
//!
//! Run it inside the node's namespace (`ip netns exec NS bgp-announce ...`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use clap::Parser;
use ferrolb_bgp::fsm::PeerAs;
use ferrolb_bgp::peer::{Peer, PeerConfig, RouteAttributes};
use ferrolb_bgp::wire::{
    self, AsPath, Asn, BgpId, Capability, Codec, Message, Nlri, Open, Origin, PathAttribute, pack,
};
use ipnet::{IpNet, Ipv4Net};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser, Debug)]
#[command(about = "Announce N /32s to one BGP router until SIGTERM")]
struct Args {
    /// The router's address.
    #[arg(long)]
    peer: IpAddr,
    /// The router's AS.
    #[arg(long)]
    peer_as: u32,
    /// Our AS.
    #[arg(long, default_value_t = 64512)]
    local_as: u32,
    /// Our BGP identifier (and the NEXT_HOP in replay mode).
    #[arg(long)]
    router_id: Ipv4Addr,
    /// How many /32s, from 100.64.0.0 up.
    #[arg(long)]
    routes: u32,
    /// Replay pre-encoded, packed UPDATEs instead of running a session.
    #[arg(long)]
    replay: bool,
}

/// The N benchmark prefixes: 100.64.0.0/32, 100.64.0.1/32, ...
fn prefixes(n: u32) -> impl Iterator<Item = Ipv4Net> {
    (0..n).map(|i| Ipv4Net::from(Ipv4Addr::from(0x6440_0000 + i)))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // One thread, like a small speaker: the benchmark measures CPU and
    // memory, not parallelism.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bgp-announce: cannot build a runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = if args.replay {
        runtime.block_on(replay(&args))
    } else {
        runtime.block_on(session(&args))
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bgp-announce: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error>;

async fn stop_signal() -> Result<&'static str, AnyError> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

async fn session(args: &Args) -> Result<(), AnyError> {
    let id = BgpId::new(u32::from(args.router_id)).ok_or("router id 0.0.0.0")?;
    let mut config = PeerConfig::new(
        "router",
        args.peer,
        args.local_as,
        id,
        PeerAs::Exact(args.peer_as),
    );
    config.families = vec![ferrolb_bgp::fsm::Family::IPV4_UNICAST];
    config.backoff.cap = Duration::from_secs(2);
    let attrs = RouteAttributes::default();
    let routes: BTreeMap<IpNet, RouteAttributes> = prefixes(args.routes)
        .map(|p| (IpNet::V4(p), attrs.clone()))
        .collect();
    let peer = Peer::spawn(config);
    peer.set_routes(routes).await;
    let why = stop_signal().await?;
    println!("status before stopping: {:?}", peer.status());
    peer.shutdown(why).await;
    Ok(())
}

/// Reads one whole message, buffering what follows.
async fn read_message(
    stream: &mut tokio::net::tcp::OwnedReadHalf,
    buf: &mut BytesMut,
    codec: &Codec,
) -> Result<Bytes, AnyError> {
    loop {
        if let Some(frame) = wire::take_frame(buf, codec)? {
            return Ok(frame);
        }
        if stream.read_buf(buf).await? == 0 {
            return Err("the router closed the connection".into());
        }
    }
}

async fn replay(args: &Args) -> Result<(), AnyError> {
    let id = BgpId::new(u32::from(args.router_id)).ok_or("router id 0.0.0.0")?;
    let our_open = Open::new(
        Asn(args.local_as),
        wire::HoldTime::new(90).ok_or("hold time")?,
        id,
        vec![
            Capability::MultiProtocol {
                afi: wire::Afi(1),
                safi: wire::Safi(1),
            },
            Capability::FourOctetAs(Asn(args.local_as)),
            Capability::ExtendedMessage,
        ],
    );
    // Encoded before connecting, for both message sizes the router may
    // allow; the OPEN exchange picks one.
    let nlri: Vec<Nlri<Ipv4Net>> = prefixes(args.routes)
        .map(|prefix| Nlri {
            path_id: None,
            prefix,
        })
        .collect();
    let attributes = [
        PathAttribute::Origin(Origin::Igp),
        PathAttribute::AsPath(AsPath::sequence([Asn(args.local_as)])),
        PathAttribute::NextHop(args.router_id),
    ];
    let encode = |extended_message: bool| -> Result<(Bytes, usize), AnyError> {
        let codec = Codec {
            four_octet_as: true,
            extended_message,
            ..Codec::default()
        };
        let mut out = BytesMut::new();
        let messages = pack::announce_ipv4(&codec, &attributes, &nlri)?;
        for m in &messages {
            out.extend_from_slice(m);
        }
        let eor = Message::Update(wire::Update::end_of_rib(wire::Family::Ipv4Unicast));
        eor.encode(&codec, &mut out)?;
        Ok((out.freeze(), messages.len() + 1))
    };
    let packed = [encode(false)?, encode(true)?];
    drop(nlri);

    let stop = stop_signal();
    tokio::pin!(stop);
    let stream = loop {
        tokio::select! {
            why = &mut stop => { println!("stopped by {} before connecting", why?); return Ok(()); }
            r = TcpStream::connect(SocketAddr::new(args.peer, 179)) => match r {
                Ok(s) => break s,
                Err(e) => {
                    eprintln!("connect: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    };
    let (mut reader, mut writer) = stream.into_split();
    let mut buf = BytesMut::new();
    writer
        .write_all(&Message::Open(our_open.clone()).to_bytes(&Codec::default())?)
        .await?;
    let frame = read_message(&mut reader, &mut buf, &Codec::default()).await?;
    let their_open = wire::decode_open(&frame)?.ok_or("the router's first message is no OPEN")?;
    let negotiated = wire::negotiate(&our_open, &their_open);
    let keepalive = Message::Keepalive.to_bytes(&negotiated.send)?;
    writer.write_all(&keepalive).await?;
    // The router's KEEPALIVE confirms the OPEN: Established.
    loop {
        let frame = read_message(&mut reader, &mut buf, &negotiated.receive).await?;
        match wire::decode_message(&frame, &negotiated.receive)?.message {
            Message::Keepalive => break,
            Message::Notification(n) => return Err(format!("router sent {n:?}").into()),
            _ => {}
        }
    }
    let started = Instant::now();
    let (bytes, updates) = &packed[usize::from(negotiated.send.extended_message)];
    writer.write_all(bytes).await?;
    println!(
        "replayed {} routes, replayed_updates: {updates} (End-of-RIB included), {} bytes, extended messages: {}, written in {:?}",
        args.routes,
        bytes.len(),
        negotiated.send.extended_message,
        started.elapsed()
    );
    // Keep the session up: drain what the router sends, keepalive every 10 s.
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut chunk = vec![0u8; 65536];
    loop {
        tokio::select! {
            why = &mut stop => { println!("stopped by {}", why?); return Ok(()); }
            _ = tick.tick() => writer.write_all(&keepalive).await?,
            n = reader.read(&mut chunk) => if n? == 0 { return Err("the router closed the connection".into()); },
        }
    }
}
