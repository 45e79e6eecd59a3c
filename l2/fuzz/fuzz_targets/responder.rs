//! A received frame through the responder and a running probe. The first
//! byte picks the responder's MAC and which of the lab's addresses it owns
//! (so the seeds, captured in the lab, reach the answering paths). Nothing
//! may panic; an answer must be for an owned address, from our MAC, and
//! parse.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ferrolb_bgp::fsm::Millis;
use ferrolb_l2::probe::{Probe, ProbeConfig};
use ferrolb_l2::responder::{Outcome, Responder};
use ferrolb_l2::wire::{MacAddr, parse_frame};
use libfuzzer_sys::fuzz_target;

/// The lab's node and client MACs (l2/tests/l2_vectors), and one nobody uses.
const MACS: [MacAddr; 3] = [
    MacAddr([0x02, 0x00, 0x5e, 0x00, 0x00, 0x0a]),
    MacAddr([0x02, 0x00, 0x5e, 0x00, 0x00, 0x0b]),
    MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x99]),
];

fn addresses() -> [IpAddr; 4] {
    [
        Ipv4Addr::new(10, 78, 0, 1).into(),
        Ipv4Addr::new(10, 78, 0, 2).into(),
        Ipv6Addr::new(0xfd00, 0x78, 0, 0, 0, 0, 0, 1).into(),
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0x5eff, 0xfe00, 0x0a).into(),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Some((&bits, frame)) = data.split_first() else {
        return;
    };
    let mac = MACS[usize::from(bits & 3) % MACS.len()];
    let mut responder = Responder::new(mac);
    for (i, ip) in addresses().into_iter().enumerate() {
        if bits & (4 << i) != 0 {
            responder.add(ip);
        }
    }
    if let Outcome::Answer { ip, reply } = responder.handle(frame) {
        assert!(responder.owns(ip));
        assert_eq!(reply.ethernet.source, mac);
        assert_eq!(parse_frame(&reply.to_bytes()), Ok(reply));
    }
    if let Ok(parsed) = parse_frame(frame) {
        let ip = addresses()[usize::from(bits >> 6)];
        let mut probe = Probe::start(ip, mac, ProbeConfig::default(), Millis(0));
        probe.poll(Millis(0));
        probe.observe(&parsed);
        // Three probes and the wait: a probe always ends.
        for _ in 0..4 {
            if let Some(at) = probe.next_deadline() {
                probe.poll(at);
            }
        }
        assert!(probe.outcome().is_some());
    }
});
