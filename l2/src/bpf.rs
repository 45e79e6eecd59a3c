//! The classic BPF program that lets an AF_PACKET socket wake us only for
//! ARP and for ICMPv6 Neighbor Solicitations and Advertisements.

use libc::sock_filter;

// The instruction classes and modes we use (linux/filter.h), as u16
// like `sock_filter::code`.
const LD_W_ABS: u16 = 0x20;
const LD_H_ABS: u16 = 0x28;
const LD_B_ABS: u16 = 0x30;
const JEQ_K: u16 = 0x15;
const JA: u16 = 0x05;
const RET_K: u16 = 0x06;

/// The ancillary "packet has an out-of-band VLAN tag" word.
const VLAN_TAG_PRESENT: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_VLAN_TAG_PRESENT) as u32;

const fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The filter. Jump offsets are relative to the next instruction; the
/// comments give the absolute targets (DROP = 18, ACCEPT = 19).
///
/// Frames whose 802.1Q tag the kernel moved out of band (it always does
/// before AF_PACKET sees them) belong to the VLAN's own interface, where a
/// socket bound there sees them untagged: answering them here, untagged,
/// would answer on the wrong LAN. An in-band tag (never seen on current
/// kernels, but the parser accepts it) is looked through.
pub(crate) const ARP_AND_NDP: [sock_filter; 20] = [
    insn(LD_W_ABS, 0, 0, VLAN_TAG_PRESENT), // 0
    insn(JEQ_K, 0, 16, 0),                  // 1: tagged out of band -> 18
    insn(LD_H_ABS, 0, 0, 12),               // 2: EtherType
    insn(JEQ_K, 15, 0, 0x0806),             // 3: ARP -> 19
    insn(JEQ_K, 0, 4, 0x86dd),              // 4: not IPv6 -> 9
    insn(LD_B_ABS, 0, 0, 20),               // 5: next header
    insn(JEQ_K, 0, 11, 58),                 // 6: not ICMPv6 -> 18
    insn(LD_B_ABS, 0, 0, 54),               // 7: ICMPv6 type
    insn(JA, 0, 0, 7),                      // 8: -> 16
    insn(JEQ_K, 0, 8, 0x8100),              // 9: not 802.1Q -> 18
    insn(LD_H_ABS, 0, 0, 16),               // 10: inner EtherType
    insn(JEQ_K, 7, 0, 0x0806),              // 11: ARP -> 19
    insn(JEQ_K, 0, 5, 0x86dd),              // 12: not IPv6 -> 18
    insn(LD_B_ABS, 0, 0, 24),               // 13: next header
    insn(JEQ_K, 0, 3, 58),                  // 14: not ICMPv6 -> 18
    insn(LD_B_ABS, 0, 0, 58),               // 15: ICMPv6 type
    insn(JEQ_K, 2, 0, 135),                 // 16: NS -> 19
    insn(JEQ_K, 1, 0, 136),                 // 17: NA -> 19; else 18
    insn(RET_K, 0, 0, 0),                   // 18: DROP
    insn(RET_K, 0, 0, 0xffff),              // 19: ACCEPT, whole frame
];

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::wire::{self, EthernetHeader, MacAddr, VlanTag};

    /// Runs the program the way the kernel would over `frame`, with
    /// `tagged` standing for an out-of-band VLAN tag.
    fn accepts(frame: &[u8], tagged: bool) -> bool {
        let mut pc = 0usize;
        let mut acc = 0u32;
        loop {
            let i = ARP_AND_NDP[pc];
            let at = i.k as usize;
            let load = |n: usize| {
                frame
                    .get(at..at + n)
                    .map(|b| b.iter().fold(0u32, |a, x| a << 8 | u32::from(*x)))
            };
            pc += 1;
            match i.code {
                LD_W_ABS if i.k == VLAN_TAG_PRESENT => acc = u32::from(tagged),
                // Out of bounds loads end the program with "drop".
                LD_H_ABS => match load(2) {
                    Some(v) => acc = v,
                    None => return false,
                },
                LD_B_ABS => match load(1) {
                    Some(v) => acc = v,
                    None => return false,
                },
                JEQ_K => pc += usize::from(if acc == i.k { i.jt } else { i.jf }),
                JA => pc += at,
                RET_K => return i.k != 0,
                code => panic!("instruction {code:#x} not modelled"),
            }
        }
    }

    const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);

    #[test]
    fn accepts_arp_ns_na_untagged_and_in_band_tagged() {
        let v4 = Ipv4Addr::new(10, 0, 0, 1);
        let v6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
        for frame in [
            wire::arp_probe(MAC, v4),
            wire::arp_reply(MAC, v4, MAC, v4),
            wire::dad_solicit(MAC, v6),
            wire::unsolicited_advert(MAC, v6),
        ] {
            assert!(accepts(&frame.to_bytes(), false), "{frame:?}");
            let tagged = frame.with_vlan(Some(VlanTag(7)));
            assert!(accepts(&tagged.to_bytes(), false), "{tagged:?}");
            assert!(!accepts(&frame.to_bytes(), true), "out-of-band tag");
        }
    }

    #[test]
    fn drops_everything_else() {
        let mut ipv4 = Vec::new();
        EthernetHeader {
            destination: MAC,
            source: MAC,
            vlan: None,
            ether_type: 0x0800,
        }
        .write(&mut ipv4);
        ipv4.resize(60, 0);
        assert!(!accepts(&ipv4, false));

        // An echo request (type 128) and a non-ICMPv6 packet.
        let mut echo = wire::dad_solicit(MAC, Ipv6Addr::LOCALHOST).to_bytes();
        echo[54] = 128;
        assert!(!accepts(&echo, false));
        echo[20] = 17;
        assert!(!accepts(&echo, false));
        assert!(!accepts(&[0; 10], false));
    }
}
