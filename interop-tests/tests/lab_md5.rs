//! TCP MD5 (RFC 2385) between FRR and BIRD: a wrong password keeps the
//! session down, the right one brings it up.

use std::time::Duration;

use interop_tests::{Bird, Frr, Lab, Neighbor, Probe, Router, RouterConfig, SessionState};

#[test]
fn a_wrong_md5_password_keeps_the_session_down_and_the_right_one_brings_it_up()
-> interop_tests::Result<()> {
    let mut lab = Lab::new("md5")?;
    let r1 = lab.add_host("r1")?;
    let r2 = lab.add_host("r2")?;
    let frr = Frr::start(
        &lab,
        &r1,
        &RouterConfig::new(64500, r1.ipv4)
            .neighbor(Neighbor::new(r2.ipv4.into(), 64501).password("s3cret")),
    )?;
    let bird_config = |password| {
        RouterConfig::new(64501, r2.ipv4)
            .neighbor(Neighbor::new(r1.ipv4.into(), 64500).password(password))
    };
    let mut bird = Bird::start(&lab, &r2, &bird_config("wrong"))?;

    // Both sides retry every second: five seconds is five chances to come up
    // if the signature were ignored.
    let up = lab.wait_for(
        "the session to come up despite the wrong password",
        Duration::from_secs(5),
        || {
            Ok(match frr.session_state(r2.ipv4.into())? {
                Some(SessionState::Established) => Probe::Done(()),
                other => Probe::Pending(format!("{other:?}")),
            })
        },
    );
    assert!(
        up.is_err(),
        "a wrong MD5 password must keep the session down"
    );

    bird.reconfigure(&bird_config("s3cret"))?;
    interop_tests::wait_established(&lab, &frr, r2.ipv4.into())?;
    interop_tests::wait_established(&lab, &bird, r1.ipv4.into())?;
    Ok(())
}
