//! FRR and BIRD bring up sessions with each other: IPv4, IPv6 global and
//! IPv6 link-local.

use interop_tests::{Bird, Family, Frr, Lab, Neighbor, RouterConfig, wait_established};

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
