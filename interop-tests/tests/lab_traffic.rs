//! The lab's traffic checks: who answers ARP, and that nobody answers for an
//! address nobody owns.

use interop_tests::Lab;
use interop_tests::traffic::arp_who_has;

#[test]
fn arp_is_answered_by_the_owner_of_the_address_and_by_nobody_else() -> interop_tests::Result<()> {
    let mut lab = Lab::new("arp")?;
    let client = lab.add_host("c")?;
    let n1 = lab.add_host("n1")?;
    let n2 = lab.add_host("n2")?;
    for node in [&n1, &n2] {
        assert_eq!(
            arp_who_has(&client, node.ipv4)?,
            Some(node.mac()?),
            "{}",
            node.name
        );
    }
    assert_ne!(n1.mac()?, n2.mac()?);
    assert_eq!(
        arp_who_has(&client, "172.31.255.200".parse().expect("literal"))?,
        None
    );
    Ok(())
}
