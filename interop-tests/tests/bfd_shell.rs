//! FerroLB's BFD shell on both ends of a lab link: two nodes bring a
//! session Up over IPv4 and IPv6 with TTL 255, and a packet that arrives
//! with a lower TTL (as if forwarded by a router) is dropped (RFC 5881 §5).
//! Sessions bound to a device (a VRF's, or an unnumbered peer's link) run
//! over that device alone, even to an address another device also reaches.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ferrolb_bfd::fsm::{SessionConfig, Timers};
use ferrolb_bfd::shell::{Bfd, Device, SessionHandle, SessionKey, SessionSpec};
use ferrolb_bfd::wire::{ControlPacket, Diagnostic, SessionState};
use interop_tests::{Host, Lab, Probe};

const WAIT: Duration = Duration::from_secs(15);

fn spec(peer: IpAddr) -> SessionSpec {
    bound_spec(peer, None)
}

fn bound_spec(peer: IpAddr, device: Option<Device>) -> SessionSpec {
    SessionSpec {
        key: SessionKey {
            peer,
            multihop: false,
            device,
        },
        local: None,
        config: SessionConfig {
            timers: Timers::new(Duration::from_millis(50), Duration::from_millis(50), 3),
            passive: false,
        },
        minimum_ttl: 254,
    }
}

fn wait_up(lab: &Lab, what: &str, handle: &SessionHandle) -> interop_tests::Result<()> {
    lab.wait_for(what, WAIT, || {
        let s = handle.status.borrow().clone();
        Ok(if s.state == SessionState::Up {
            Probe::Done(())
        } else {
            Probe::Pending(format!("{s:?}"))
        })
    })
}

/// Sends `packet` five times from `host` with IP TTL `ttl`.
fn send_from(
    host: &Host,
    ttl: u32,
    packet: ControlPacket,
    to: SocketAddr,
) -> interop_tests::Result<()> {
    host.netns.run(move || {
        let io = |what: &str| {
            let what = what.to_string();
            move |e| interop_tests::LabError::io(what, e)
        };
        let socket = std::net::UdpSocket::bind("0.0.0.0:0").map_err(io("bind"))?;
        socket.set_ttl(ttl).map_err(io("ttl"))?;
        for _ in 0..5 {
            socket.send_to(&packet.encode(), to).map_err(io("send"))?;
        }
        Ok(())
    })
}

#[test]
fn two_ferrolb_nodes_run_bfd_and_drop_forwarded_packets() -> interop_tests::Result<()> {
    let mut lab = Lab::new("bfdshell")?;
    let a = lab.add_host("a")?;
    let b = lab.add_host("b")?;
    let c = lab.add_host("c")?;
    let on = |host: &Host| host.netns.runtime(1);
    let (ra, rb) = (on(&a)?, on(&b)?);
    let bfd_a = ra.block_on(async { Bfd::spawn() });
    let bfd_b = rb.block_on(async { Bfd::spawn() });
    let mut handles = Vec::new();
    for (ip_a, ip_b) in [
        (IpAddr::from(a.ipv4), IpAddr::from(b.ipv4)),
        (IpAddr::from(a.ipv6), IpAddr::from(b.ipv6)),
    ] {
        let ha = ra
            .block_on(bfd_a.add(spec(ip_b)))
            .map_err(|e| interop_tests::LabError::Invalid(e.to_string()))?;
        let hb = rb
            .block_on(bfd_b.add(spec(ip_a)))
            .map_err(|e| interop_tests::LabError::Invalid(e.to_string()))?;
        wait_up(&lab, &format!("a's session with {ip_b}"), &ha)?;
        wait_up(&lab, &format!("b's session with {ip_a}"), &hb)?;
        handles.push((ha, hb));
    }

    // Host c forges b's packets for a's IPv4 session, with TTL 64 and
    // from c's own address: both must be dropped, and the session stays Up.
    let (ha, _) = &handles[0];
    let status = ha.status.borrow().clone();
    let forged = ControlPacket {
        diag: Diagnostic::NoDiagnostic,
        state: SessionState::Down,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: status.remote_discriminator,
        your_discriminator: status.local_discriminator,
        desired_min_tx: 1_000_000,
        required_min_rx: 1_000_000,
        required_min_echo_rx: 0,
    };
    let to = SocketAddr::new(a.ipv4.into(), 3784);
    let before = ha.counters.ttl_dropped();
    send_from(&c, 64, forged, to)?;
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ha.counters.ttl_dropped(), before, "c's packets are not b's");
    // Now as if from b, but forwarded once (TTL 254): dropped for the TTL.
    send_from(&b, 254, forged, to)?;
    lab.wait_for("a to drop b's TTL-254 packets", WAIT, || {
        let dropped = ha.counters.ttl_dropped() - before;
        Ok(if dropped == 5 {
            Probe::Done(())
        } else {
            Probe::Pending(dropped.to_string())
        })
    })?;
    assert_eq!(ha.status.borrow().state, SessionState::Up);
    assert!(ha.counters.packets_in() > 0 && ha.counters.packets_out() > 0);

    ra.block_on(bfd_a.shutdown());
    // b hears AdminDown: Down with diag 3, not a detection timeout.
    let (_, hb) = &handles[0];
    lab.wait_for("b to hear a's AdminDown", WAIT, || {
        let s = hb.status.borrow().clone();
        Ok(
            if s.state == SessionState::Down && s.diag == Diagnostic::NeighborSignaledSessionDown {
                Probe::Done(())
            } else {
                Probe::Pending(format!("{s:?}"))
            },
        )
    })?;
    rb.block_on(bfd_b.shutdown());
    Ok(())
}

const A_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xa);
const B_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xb);

/// A link `name` between `a` and `b` with the fixed link-local addresses
/// `A_LL` and `B_LL` only: on two such links, one address names two peers.
fn link(a: &Host, b: &Host, name: &str) -> interop_tests::Result<()> {
    interop_tests::lab::link(a, name, b, name)?;
    for (host, ll) in [(a, A_LL), (b, B_LL)] {
        host.fixed_link_local(name, ll)?;
        host.up(name)?;
    }
    Ok(())
}

fn wait_down(lab: &Lab, what: &str, handle: &SessionHandle) -> interop_tests::Result<()> {
    lab.wait_for(what, WAIT, || {
        let s = handle.status.borrow().clone();
        Ok(if s.state == SessionState::Down {
            Probe::Done(())
        } else {
            Probe::Pending(format!("{s:?}"))
        })
    })
}

/// Two links between a and b, both with the same two link-local
/// addresses: a session per link, bound to its device. Both come up
/// (packets to a link-local address go out of the named link, and each
/// arriving packet is its link's session's), and silencing one link takes
/// down that link's session alone.
#[test]
fn sessions_bound_to_devices_run_over_their_own_link_alone() -> interop_tests::Result<()> {
    let mut lab = Lab::new("bfddev")?;
    let a = lab.add_host("a")?;
    let b = lab.add_host("b")?;
    for name in ["side0", "side1"] {
        link(&a, &b, name)?;
    }
    let on = |host: &Host| host.netns.runtime(1);
    let (ra, rb) = (on(&a)?, on(&b)?);
    let bfd_a = ra.block_on(async { Bfd::spawn() });
    let bfd_b = rb.block_on(async { Bfd::spawn() });
    let add = |rt: &tokio::runtime::Runtime, bfd: &Bfd, peer: Ipv6Addr, device: &str| {
        rt.block_on(bfd.add(bound_spec(peer.into(), Device::new(device))))
            .map_err(|e| interop_tests::LabError::Invalid(e.to_string()))
    };
    let mut sessions = Vec::new();
    for device in ["side0", "side1"] {
        let ha = add(&ra, &bfd_a, B_LL, device)?;
        let hb = add(&rb, &bfd_b, A_LL, device)?;
        sessions.push((device, ha, hb));
    }
    for (device, ha, hb) in &sessions {
        wait_up(&lab, &format!("a's session with {B_LL}%{device}"), ha)?;
        wait_up(&lab, &format!("b's session with {A_LL}%{device}"), hb)?;
    }
    // Silence side1 (b's end goes down): side1's sessions go Down on
    // detection, side0's stay Up.
    b.netns.ip(["link", "set", "side1", "down"])?;
    let (_, side0_a, _) = &sessions[0];
    let (_, side1_a, _) = &sessions[1];
    wait_down(&lab, "a's side1 session to fall", side1_a)?;
    assert_eq!(
        side0_a.status.borrow().state,
        SessionState::Up,
        "silence on side1 took side0's session down"
    );
    assert_eq!(side0_a.status.borrow().down_events, 0);

    // A device that does not exist: a clear error naming it.
    let missing = ra.block_on(bfd_a.add(bound_spec(B_LL.into(), Device::new("nosuch0"))));
    let error = missing.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("device nosuch0"), "{error}");

    ra.block_on(bfd_a.shutdown());
    rb.block_on(bfd_b.shutdown());
    Ok(())
}
