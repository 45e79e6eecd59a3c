//! Issue 18, scenario 6: Layer-2 partition and heal with three `ferrolb
//! run` nodes on the Layer-2 lab; the cuts, and what they must never
//! cause, are `l2_partition`'s.

mod l2_partition;

use interop_tests::Family;
use interop_tests::l2::{FerroLbL2, L2Lan, L2Subject, WhoHas};
use l2_partition::Watched;

fn use_this_build() {
    // SAFETY: set before any thread of this test reads the environment;
    // FerroLb::start reads it in this process.
    unsafe { std::env::set_var("FERROLB_BIN", env!("CARGO_BIN_EXE_ferrolb")) };
}

fn lab(family: Family, tag: &str) -> interop_tests::Result<(L2Lan, FerroLbL2, WhoHas)> {
    use_this_build();
    let lan = L2Lan::new(tag, family, 3)?;
    let mut ferrolb = FerroLbL2::new();
    ferrolb.start(&lan)?;
    let who_has = WhoHas::start(&lan)?;
    Ok((lan, ferrolb, who_has))
}

#[test]
fn a_partitioned_owner_hands_over_and_back_with_never_two_answering_ipv4()
-> interop_tests::Result<()> {
    let (lan, ferrolb, who_has) = lab(Family::Ipv4, "fl2pa4")?;
    l2_partition::partitioned_owner_and_bystander(Watched {
        lan: &lan,
        subject: &ferrolb,
        who_has: &who_has,
    })
}

#[test]
fn a_partitioned_owner_hands_over_and_back_with_never_two_answering_ipv6()
-> interop_tests::Result<()> {
    let (lan, ferrolb, who_has) = lab(Family::Ipv6, "fl2pa6")?;
    l2_partition::partitioned_owner_and_bystander(Watched {
        lan: &lan,
        subject: &ferrolb,
        who_has: &who_has,
    })
}

#[test]
fn one_way_cuts_never_let_two_nodes_answer_ipv4() -> interop_tests::Result<()> {
    let (lan, ferrolb, who_has) = lab(Family::Ipv4, "fl2ow4")?;
    l2_partition::one_way_cuts(Watched {
        lan: &lan,
        subject: &ferrolb,
        who_has: &who_has,
    })
}

#[test]
fn one_way_cuts_never_let_two_nodes_answer_ipv6() -> interop_tests::Result<()> {
    let (lan, ferrolb, who_has) = lab(Family::Ipv6, "fl2ow6")?;
    l2_partition::one_way_cuts(Watched {
        lan: &lan,
        subject: &ferrolb,
        who_has: &who_has,
    })
}
