//! The pure timed parts of Layer-2 mode, on a hand-moved clock: the
//! conflict probe and the gratuitous announcement schedule.

mod l2_vectors;

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use ferrolb_bgp::fsm::Millis;
use ferrolb_l2::gratuitous::{GratuitousConfig, GratuitousSchedule, announcement};
use ferrolb_l2::probe::{Probe, ProbeConfig, ProbeOutcome};
use ferrolb_l2::wire::{
    Frame, arp_announcement, arp_probe, dad_solicit, parse_frame, unsolicited_advert,
};
use l2_vectors::captured;
use l2_vectors::lab::*;

fn frame(name: &str) -> Frame {
    parse_frame(&captured(name)).expect("parse")
}

/// Polls `probe` at every deadline until it ends; returns the frames sent
/// with their times.
fn run_quiet(probe: &mut Probe) -> Vec<(Millis, Frame)> {
    let mut sent = Vec::new();
    while let Some(at) = probe.next_deadline() {
        // Polling early does nothing.
        if let Some(early) = at.0.checked_sub(1) {
            assert_eq!(probe.poll(Millis(early)), None);
        }
        if let Some(frame) = probe.poll(at) {
            sent.push((at, frame));
        }
    }
    sent
}

#[test]
fn a_quiet_link_means_free_after_three_probes_in_100_ms() {
    let config = ProbeConfig::default();
    assert_eq!(config.total(), Duration::from_millis(100));
    let mut probe = Probe::start(NODE_V4.into(), CLIENT_MAC, config, Millis(1000));
    let sent = run_quiet(&mut probe);
    let probe_frame = arp_probe(CLIENT_MAC, NODE_V4);
    assert_eq!(
        sent,
        vec![
            (Millis(1000), probe_frame),
            (Millis(1030), probe_frame),
            (Millis(1060), probe_frame)
        ]
    );
    assert_eq!(probe.outcome(), Some(ProbeOutcome::Free));
    assert_eq!(probe.next_deadline(), None);
    assert_eq!(probe.poll(Millis(5000)), None);

    let mut probe = Probe::start(NODE_V6.into(), CLIENT_MAC, config, Millis(0));
    let sent = run_quiet(&mut probe);
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter()
            .all(|(_, f)| *f == dad_solicit(CLIENT_MAC, NODE_V6))
    );
    assert_eq!(probe.outcome(), Some(ProbeOutcome::Free));
}

#[test]
fn the_outcome_comes_100_ms_after_the_start() {
    let mut probe = Probe::start(
        NODE_V4.into(),
        CLIENT_MAC,
        ProbeConfig::default(),
        Millis(0),
    );
    run_quiet(&mut probe);
    let mut probe = Probe::start(
        NODE_V4.into(),
        CLIENT_MAC,
        ProbeConfig::default(),
        Millis(0),
    );
    let mut last = Millis(0);
    while let Some(at) = probe.next_deadline() {
        probe.poll(at);
        last = at;
    }
    assert_eq!(last, Millis(100));
}

#[test]
fn an_owner_answering_or_announcing_is_a_conflict() {
    // We probe the node's address from the client's MAC; the node's
    // kernel frames say it holds it.
    for name in [
        "arping-probe-1-arp-reply",
        "arping-1-arp-reply",
        "kernel-notify-0-arp-announcement",
    ] {
        let mut probe = Probe::start(
            NODE_V4.into(),
            CLIENT_MAC,
            ProbeConfig::default(),
            Millis(0),
        );
        probe.poll(Millis(0));
        let conflict = ProbeOutcome::Conflict { mac: NODE_MAC };
        assert_eq!(probe.observe(&frame(name)), Some(conflict), "{name}");
        assert_eq!(probe.outcome(), Some(conflict));
        assert_eq!(probe.next_deadline(), None);
        // Later frames change nothing.
        assert_eq!(probe.observe(&frame(name)), None);
    }
    for name in [
        "ping6-1-na",
        "ndisc6-1-na",
        "kernel-notify-1-na-unsolicited",
    ] {
        let mut probe = Probe::start(
            NODE_V6.into(),
            CLIENT_MAC,
            ProbeConfig::default(),
            Millis(0),
        );
        let conflict = ProbeOutcome::Conflict { mac: NODE_MAC };
        assert_eq!(probe.observe(&frame(name)), Some(conflict), "{name}");
    }
}

#[test]
fn a_rival_probe_is_a_conflict() {
    // The node probes its address while the client's arping probes it too.
    let mut probe = Probe::start(NODE_V4.into(), NODE_MAC, ProbeConfig::default(), Millis(0));
    assert_eq!(
        probe.observe(&frame("arping-probe-0-arp-probe")),
        Some(ProbeOutcome::Conflict { mac: CLIENT_MAC })
    );
    // The client probes the node's IPv6 address while the node's kernel runs DAD.
    let mut probe = Probe::start(
        NODE_V6.into(),
        CLIENT_MAC,
        ProbeConfig::default(),
        Millis(0),
    );
    assert_eq!(
        probe.observe(&frame("kernel-dad-0-dad-ns")),
        Some(ProbeOutcome::Conflict { mac: NODE_MAC })
    );
}

#[test]
fn resolution_our_own_probes_and_other_addresses_are_no_conflict() {
    let mut probe = Probe::start(NODE_V4.into(), NODE_MAC, ProbeConfig::default(), Millis(0));
    // Someone asking who has the address proves nothing.
    assert_eq!(probe.observe(&frame("arping-0-arp-request")), None);
    assert_eq!(probe.observe(&frame("ping-0-arp-request")), None);
    // Our own probe, looped back.
    assert_eq!(probe.observe(&arp_probe(NODE_MAC, NODE_V4)), None);
    // IPv6 frames never conflict with an IPv4 probe.
    assert_eq!(probe.observe(&frame("ping6-1-na")), None);

    let mut probe = Probe::start(NODE_V6.into(), NODE_MAC, ProbeConfig::default(), Millis(0));
    assert_eq!(probe.observe(&frame("ping6-0-ns")), None);
    assert_eq!(probe.observe(&frame("ndisc6-0-ns")), None);
    let elsewhere = Ipv6Addr::new(0xfd00, 0x78, 0, 0, 0, 0, 0, 9);
    let mut probe = Probe::start(
        elsewhere.into(),
        CLIENT_MAC,
        ProbeConfig::default(),
        Millis(0),
    );
    assert_eq!(probe.observe(&frame("ping6-1-na")), None);
    assert_eq!(probe.ip(), IpAddr::from(elsewhere));
}

#[test]
fn a_zero_count_still_sends_one_probe() {
    let config = ProbeConfig {
        count: 0,
        interval: Duration::from_millis(5),
        wait: Duration::from_millis(7),
        ..ProbeConfig::default()
    };
    assert_eq!(config.total(), Duration::from_millis(7));
    let mut probe = Probe::start(NODE_V4.into(), CLIENT_MAC, config, Millis(0));
    assert_eq!(run_quiet(&mut probe).len(), 1);
    assert_eq!(probe.outcome(), Some(ProbeOutcome::Free));
}

fn sent_at(schedule: &mut GratuitousSchedule, now: u64) -> Vec<IpAddr> {
    schedule
        .poll(Millis(now))
        .into_iter()
        .map(|a| a.ip)
        .collect()
}

#[test]
fn a_takeover_bursts_three_announcements_100_ms_apart() {
    let v4 = IpAddr::from(NODE_V4);
    let mut schedule = GratuitousSchedule::new(NODE_MAC, GratuitousConfig::default());
    assert_eq!(schedule.next_deadline(), None);
    schedule.claim(v4, Millis(50));
    assert_eq!(schedule.next_deadline(), Some(Millis(50)));
    let first = schedule.poll(Millis(50));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].frame, arp_announcement(NODE_MAC, NODE_V4));
    assert_eq!(
        sent_at(&mut schedule, 50),
        Vec::<IpAddr>::new(),
        "one per deadline"
    );
    assert_eq!(schedule.next_deadline(), Some(Millis(150)));
    assert_eq!(sent_at(&mut schedule, 149), Vec::<IpAddr>::new());
    assert_eq!(sent_at(&mut schedule, 150), vec![v4]);
    assert_eq!(sent_at(&mut schedule, 250), vec![v4]);
    assert_eq!(schedule.next_deadline(), None, "no refresh by default");
    assert!(schedule.is_claimed(v4));
    schedule.release(v4);
    assert!(!schedule.is_claimed(v4));
}

#[test]
fn refresh_repeats_after_the_burst_until_release() {
    let v6 = IpAddr::from(NODE_V6);
    let config = GratuitousConfig {
        burst: 2,
        burst_interval: Duration::from_millis(10),
        refresh: Some(Duration::from_secs(30)),
    };
    let mut schedule = GratuitousSchedule::new(NODE_MAC, config);
    schedule.claim(v6, Millis(0));
    let first = schedule.poll(Millis(0));
    assert_eq!(first[0].frame, unsolicited_advert(NODE_MAC, NODE_V6));
    assert_eq!(sent_at(&mut schedule, 10), vec![v6]);
    assert_eq!(schedule.next_deadline(), Some(Millis(30_010)));
    // A late poll sends once and counts the next wait from then.
    assert_eq!(sent_at(&mut schedule, 40_000), vec![v6]);
    assert_eq!(schedule.next_deadline(), Some(Millis(70_000)));
    // Claiming again restarts the burst.
    schedule.claim(v6, Millis(41_000));
    assert_eq!(sent_at(&mut schedule, 41_000), vec![v6]);
    assert_eq!(schedule.next_deadline(), Some(Millis(41_010)));
    schedule.release(v6);
    assert_eq!(schedule.next_deadline(), None);
}

#[test]
fn addresses_are_scheduled_independently() {
    let (v4, v6) = (IpAddr::from(NODE_V4), IpAddr::from(NODE_V6));
    let mut schedule = GratuitousSchedule::new(NODE_MAC, GratuitousConfig::default());
    schedule.claim(v6, Millis(0));
    schedule.claim(v4, Millis(20));
    assert_eq!(sent_at(&mut schedule, 0), vec![v6]);
    assert_eq!(sent_at(&mut schedule, 100), vec![v4, v6]);
    assert_eq!(schedule.next_deadline(), Some(Millis(200)));
    assert_eq!(
        announcement(NODE_MAC, v6),
        unsolicited_advert(NODE_MAC, NODE_V6)
    );
}

#[test]
fn zero_intervals_cannot_make_the_caller_spin() {
    let config = GratuitousConfig {
        burst: 0,
        burst_interval: Duration::ZERO,
        refresh: Some(Duration::ZERO),
    };
    let v4 = IpAddr::from(NODE_V4);
    let mut schedule = GratuitousSchedule::new(NODE_MAC, config);
    schedule.claim(v4, Millis(0));
    assert_eq!(
        sent_at(&mut schedule, 0),
        vec![v4],
        "a burst of 0 still announces once"
    );
    assert_eq!(sent_at(&mut schedule, 0), Vec::<IpAddr>::new());
    assert_eq!(schedule.next_deadline(), Some(Millis(1)));
}
