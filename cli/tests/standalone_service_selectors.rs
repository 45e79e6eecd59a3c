//! `serviceSelectors` on the wire: `ferrolb run` with a BGPAdvertisement
//! that selects `tier: frontend`, and a BIRD router that must learn the
//! frontend Service's address and never the backend one's; relabelling
//! the backend Service makes its address appear.

use std::time::Duration;

use interop_tests::ferrolb::FerroLb;
use interop_tests::{Bird, Family, Host, Lab, Router, RouterConfig, wait_paths};
use ipnet::IpNet;

const NODE_AS: u32 = 64512;
const CONVERGE: Duration = Duration::from_secs(30);

fn net(s: &str) -> IpNet {
    s.parse().expect("prefix literal")
}

#[test]
fn bird_learns_only_the_services_an_advertisement_selects() -> interop_tests::Result<()> {
    // SAFETY-free: the variable is read by FerroLb::start in this process.
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
    let mut lab = Lab::new("svcsel")?;
    // r1 holds the example's other peer address; no router runs there.
    let _r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let node: Host = lab.add_host_at("n1", 11)?;
    let bird = Bird::start(
        &lab,
        &r2,
        &RouterConfig::facing_speakers(64501, &r2, &[&node], NODE_AS),
    )?;
    let config = lab.dir().join("ferrolb-config");
    interop_tests::ferrolb::copy_example(&config)?;
    let adv = config.join("config.yaml");
    let text = std::fs::read_to_string(&adv).expect("read config");
    let selecting = text.replace(
        "  communities: [\"64512:100\"]",
        "  communities: [\"64512:100\"]\n  serviceSelectors:\n  - matchLabels: {tier: frontend}",
    );
    assert_ne!(selecting, text, "the example's advertisement changed");
    std::fs::write(&adv, selecting).expect("write config");
    let services = config.join("services.yaml");
    let text = std::fs::read_to_string(&services).expect("read services");
    let labelled = text
        .replacen(
            "  name: web\n",
            "  name: web\n  labels: {tier: frontend}\n",
            1,
        )
        .replacen(
            "  name: api\n",
            "  name: api\n  labels: {tier: backend}\n",
            1,
        );
    std::fs::write(&services, &labelled).expect("write services");
    let _speaker = FerroLb::start(&lab, &node, &config)?;

    let web = net("198.51.100.10/32");
    let api = net("198.51.100.50/32");
    wait_paths(&lab, &bird, web, 1, CONVERGE)?;
    // The web route arrived; an api route would have come in the same
    // pass. Look again for a few seconds to be sure it does not follow.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_secs(1));
        let rib = bird.rib(Family::Ipv4)?;
        assert!(
            !rib.contains_key(&api),
            "the backend Service was announced: {rib:?}"
        );
    }
    // Relabelled as frontend, api is selected and announced.
    std::fs::write(
        &services,
        labelled.replace("{tier: backend}", "{tier: frontend}"),
    )
    .expect("relabel");
    wait_paths(&lab, &bird, api, 1, CONVERGE)?;
    Ok(())
}
