//! FRR and BIRD bring up sessions with each other: IPv4, IPv6 global and
//! IPv6 link-local.

use std::time::Duration;

use interop_tests::{Bird, Family, Frr, Lab, Neighbor, Probe, RouterConfig, wait_established};

#[test]
fn frr_and_bird_peer_over_ipv4_ipv6_and_link_local() -> interop_tests::Result<()> {
    let mut lab = Lab::new("sessions")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let peers = |me: &interop_tests::Host, other: &interop_tests::Host, other_as| {
        RouterConfig::new(if other_as == 64501 { 64500 } else { 64501 }, me.ipv4)
            .neighbor(Neighbor::new(other.ipv4.into(), other_as))
            .neighbor(Neighbor::new(other.ipv6.into(), other_as))
            .neighbor(
                Neighbor::new(other.link_local.into(), other_as)
                    .link_local("eth0")
                    .families(&[Family::Ipv6]),
            )
    };
    let frr = Frr::start(&lab, &r1, &peers(&r1, &r2, 64501))?;
    let bird = Bird::start(&lab, &r2, &peers(&r2, &r1, 64500))?;
    for addr in [r2.ipv4.into(), r2.ipv6.into(), r2.link_local.into()] {
        wait_established(&lab, &frr, addr)?;
    }
    for addr in [r1.ipv4.into(), r1.ipv6.into(), r1.link_local.into()] {
        wait_established(&lab, &bird, addr)?;
    }
    Ok(())
}

#[test]
fn frr_and_bird_run_bfd_and_graceful_restart_with_tight_timers() -> interop_tests::Result<()> {
    let mut lab = Lab::new("bfdgr")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let frr = Frr::start(
        &lab,
        &r1,
        &RouterConfig::new(64500, r1.ipv4)
            .graceful_restart()
            .neighbor(Neighbor::new(r2.ipv4.into(), 64501).bfd().timers(1, 3)),
    )?;
    let bird = Bird::start(
        &lab,
        &r2,
        &RouterConfig::new(64501, r2.ipv4)
            .graceful_restart()
            .neighbor(Neighbor::new(r1.ipv4.into(), 64500).bfd().timers(1, 3)),
    )?;
    wait_established(&lab, &frr, r2.ipv4.into())?;
    wait_established(&lab, &bird, r1.ipv4.into())?;

    let n = frr.neighbor(r2.ipv4.into())?;
    assert_eq!(
        n["bgpTimerHoldTimeMsecs"], 3000,
        "negotiated hold time: {n}"
    );
    let gr = &n["neighborCapabilities"]["gracefulRestart"];
    assert_eq!(
        gr, "advertisedAndReceived",
        "graceful restart capability: {n}"
    );

    lab.wait_for(
        "FRR's BFD session with BIRD to be up",
        Duration::from_secs(20),
        || {
            let peers = frr.vtysh("show bfd peers json")?;
            let peers: serde_json::Value = serde_json::from_str(&peers).expect("FRR json");
            let up = peers
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["peer"] == r2.ipv4.to_string() && p["status"] == "up");
            Ok(if up {
                Probe::Done(())
            } else {
                Probe::Pending(peers.to_string())
            })
        },
    )?;
    let bfd = bird.birdc(&["show", "bfd", "sessions"])?;
    assert!(
        bfd.contains(&r1.ipv4.to_string()) && bfd.contains("Up"),
        "{bfd}"
    );
    Ok(())
}
