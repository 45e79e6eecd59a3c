//! `ferrolb run` in Layer-2 mode on three nodes of one LAN: exactly one node
//! answers ARP for the service address; killed, another takes over; the
//! client's traffic follows.

use std::time::{Duration, Instant};

use interop_tests::ferrolb::FerroLb;
use interop_tests::l2::L2Lan;
use interop_tests::l2::ferrolb::{cluster_config, service_config};
use interop_tests::traffic::arp_who_has;
use interop_tests::{Family, Host, Probe};

const CONVERGE: Duration = Duration::from_secs(30);

/// The failover subject's configuration: the Nodes, the `memberlist`
/// Secret, a pool of the VIP, an L2Advertisement and a Service.
fn config(lan: &L2Lan) -> String {
    cluster_config(lan) + "---\n" + &service_config(lan)
}

/// The node whose MAC answered, by name.
fn answering(lan: &L2Lan) -> interop_tests::Result<Option<String>> {
    let std::net::IpAddr::V4(vip) = lan.vip() else {
        return Ok(None);
    };
    let Some(line) = arp_who_has(lan.client(), vip)? else {
        return Ok(None);
    };
    for n in lan.nodes() {
        if line.contains(&n.mac()?.to_lowercase()) {
            return Ok(Some(n.name.clone()));
        }
    }
    Ok(None)
}

#[test]
fn one_node_answers_arp_and_another_takes_over_when_it_dies() -> interop_tests::Result<()> {
    // SAFETY-free: the variable is read by FerroLb::start in this process.
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
    let lan = L2Lan::new("sl2", Family::Ipv4, 3)?;
    let dir = lan.lab().dir().join("ferrolb-config");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("config.yaml"), config(&lan)).expect("config");
    let mut speakers: Vec<(Host, FerroLb)> = lan
        .nodes()
        .iter()
        .map(|n| Ok((n.clone(), FerroLb::start(lan.lab(), n, &dir)?)))
        .collect::<interop_tests::Result<_>>()?;
    let logs = |speakers: &[(Host, FerroLb)]| {
        speakers
            .iter()
            .map(|(h, s)| format!("--- {} ---\n{}", h.name, s.log()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let owner = lan.lab().wait_for("one node to answer ARP", CONVERGE, || {
        Ok(match answering(&lan)? {
            Some(n) => Probe::Done(n),
            None => Probe::Pending("no answer".into()),
        })
    });
    let owner =
        owner.map_err(|e| interop_tests::LabError::Invalid(format!("{e}\n{}", logs(&speakers))))?;
    // Once every node is in, ownership may have moved to a joiner; from
    // then on exactly one node answers.
    lan.lab()
        .wait_for("every node to open its fence", CONVERGE, || {
            let open = speakers
                .iter()
                .filter(|(_, s)| s.log().contains("fence open"))
                .count();
            Ok(if open == speakers.len() {
                Probe::Done(())
            } else {
                Probe::Pending(format!("{open} open"))
            })
        })?;
    std::thread::sleep(Duration::from_millis(300));
    let answers = lan.arp_answers()?;
    assert_eq!(
        answers.len(),
        1,
        "exactly one node answers: {answers:?}\n{}",
        logs(&speakers)
    );
    let owner = answers.into_iter().next().unwrap_or(owner);

    // SIGKILL the owner: another node answers.
    let index = speakers
        .iter()
        .position(|(h, _)| h.name == owner)
        .expect("the owner is a node");
    let (_, dead) = speakers.remove(index);
    let t = Instant::now();
    dead.daemon().signal(nix::sys::signal::Signal::SIGKILL)?;
    let next = lan
        .lab()
        .wait_for("another node to answer ARP", CONVERGE, || {
            Ok(match answering(&lan)? {
                Some(n) if n != owner => Probe::Done(n),
                other => Probe::Pending(format!("{other:?}")),
            })
        });
    let next =
        next.map_err(|e| interop_tests::LabError::Invalid(format!("{e}\n{}", logs(&speakers))))?;
    println!("{owner} killed; {next} answers after {:?}", t.elapsed());
    Ok(())
}
