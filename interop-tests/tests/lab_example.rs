//! The complete example of docs/lab.md, kept here so the documentation
//! cannot drift from the library.

use std::time::Duration;

use interop_tests::{
    Announcement, Bird, Gobgp, Lab, Neighbor, RouterConfig, wait_established, wait_paths,
};

#[test]
fn bird_learns_a_route_from_gobgp() -> interop_tests::Result<()> {
    let mut lab = Lab::new("example")?;
    let r = lab.add_host("r")?;
    let n = lab.add_host("n")?;
    let bird = Bird::start(
        &lab,
        &r,
        &RouterConfig::new(64500, r.ipv4).neighbor(Neighbor::new(n.ipv4.into(), 64512)),
    )?;
    let gobgp = Gobgp::start(
        &lab,
        &n,
        &RouterConfig::new(64512, n.ipv4).neighbor(Neighbor::new(r.ipv4.into(), 64500)),
    )?;
    wait_established(&lab, &bird, n.ipv4.into())?;
    let prefix = "198.51.100.1/32".parse().unwrap();
    gobgp.announce(&Announcement::new(prefix))?;
    let paths = wait_paths(&lab, &bird, prefix, 1, Duration::from_secs(10))?;
    assert_eq!(paths[0].as_sequence(), [64512]);
    Ok(())
}
