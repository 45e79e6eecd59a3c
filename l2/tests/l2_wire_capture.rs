//! Regenerates the captured golden vectors: the Linux kernel, arping and
//! ndisc6 exchange ARP and NDP in two namespaces while tcpdump records
//! each step, and every ARP / NS / NA frame lands in
//! `tests/vectors/l2/captured/STEP-N-KIND.hex`.
//!
//! `cargo test -p ferrolb-speaker --test l2_wire_capture -- --ignored`
//! (root, tcpdump, arping, ndisc6). `l2_wire_golden` checks the files.

mod l2_netns;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferrolb_l2::wire::{ArpOp, NdpMessage, Payload, parse_frame};
use l2_netns::{Lan, Ns};

fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/l2/captured")
}

/// The frames of a classic pcap file (little- or big-endian, micro- or
/// nanosecond), which must be Ethernet.
fn pcap_frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let magic = bytes.get(..4).expect("pcap header");
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        other => panic!("not a pcap file: {other:02x?}"),
    };
    let word = |at: usize| {
        let b: [u8; 4] = bytes
            .get(at..at + 4)
            .expect("pcap word")
            .try_into()
            .expect("4");
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(word(20), 1, "link type Ethernet");
    let mut frames = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let len = word(at + 8) as usize;
        let data = bytes.get(at + 16..at + 16 + len).expect("pcap record");
        frames.push(data.to_vec());
        at += 16 + len;
    }
    frames
}

/// What a frame is, for its file name.
fn kind(frame: &[u8]) -> &'static str {
    let frame = parse_frame(frame).unwrap_or_else(|e| panic!("captured frame: {e}"));
    match frame.payload {
        Payload::Arp(arp) if arp.is_probe() => "arp-probe",
        Payload::Arp(arp) if arp.is_gratuitous() => "arp-announcement",
        Payload::Arp(arp) if arp.op == ArpOp::Request => "arp-request",
        Payload::Arp(_) => "arp-reply",
        Payload::Ndp(ip, NdpMessage::Solicit(_)) if ip.source.is_unspecified() => "dad-ns",
        Payload::Ndp(_, NdpMessage::Solicit(_)) => "ns",
        Payload::Ndp(_, NdpMessage::Advert(na)) if na.solicited => "na",
        Payload::Ndp(_, NdpMessage::Advert(_)) => "na-unsolicited",
    }
}

/// Records on the node's eth0 while `action` runs, then writes the frames.
fn capture(lan: &Lan, step: &str, action: impl FnOnce()) {
    let file = std::env::temp_dir().join(format!("{}-{step}.pcap", lan.node.name));
    let _ = std::fs::remove_file(&file);
    let path = file.to_str().expect("utf-8 path");
    let filter = "arp or (icmp6 and (ip6[40] == 135 or ip6[40] == 136))";
    let tcpdump = lan.node.spawn(
        30,
        "tcpdump",
        &[
            "-i",
            "eth0",
            "-U",
            "--immediate-mode",
            "-n",
            "-w",
            path,
            filter,
        ],
    );
    // tcpdump writes the file header once it is capturing.
    wait_for(|| std::fs::metadata(&file).is_ok_and(|m| m.len() >= 24));
    action();
    std::thread::sleep(Duration::from_millis(300));
    tcpdump.finish();
    let frames = pcap_frames(&std::fs::read(&file).expect("read the capture"));
    let _ = std::fs::remove_file(&file);
    assert!(!frames.is_empty(), "{step}: nothing captured");
    let mut written: Vec<Vec<u8>> = Vec::new();
    for frame in frames {
        if written.contains(&frame) {
            continue;
        }
        let name = format!("{step}-{}-{}.hex", written.len(), kind(&frame));
        let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(out_dir().join(&name), hex + "\n").expect("write the vector");
        println!("{name}");
        written.push(frame);
    }
}

fn wait_for(mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run(ns: &Ns, program: &str, args: &[&str]) {
    let out = ns.exec(10, program, args);
    println!("{program} {args:?}: {}", out.status);
}

#[test]
#[ignore = "regenerates tests/vectors/l2/captured; needs root, tcpdump, arping, ndisc6"]
fn capture_kernel_arp_and_ndp() {
    let dir = out_dir();
    for old in std::fs::read_dir(&dir).expect("vector dir") {
        let old = old.expect("entry").path();
        if old.extension().is_some_and(|e| e == "hex") {
            std::fs::remove_file(old).expect("remove an old vector");
        }
    }
    let lan = Lan::new("cap");
    let (node, client) = (&lan.node, &lan.client);
    client.ip(&["addr", "add", "10.78.0.2/24", "dev", "eth0"]);
    client.ip(&["addr", "add", "fd00:78::2/64", "dev", "eth0", "nodad"]);
    node.ip(&["addr", "add", "10.78.0.1/24", "dev", "eth0"]);

    // The kernel's own DAD (with an RFC 7527 nonce option on kernels that do it).
    node.sysctl("net.ipv6.conf.eth0.accept_dad=1");
    capture(&lan, "kernel-dad", || {
        node.ip(&["addr", "add", "fd00:78::1/64", "dev", "eth0"]);
        wait_for(|| {
            !node
                .ip(&["-6", "addr", "show", "dev", "eth0"])
                .contains("tentative")
        });
    });
    node.sysctl("net.ipv6.conf.eth0.accept_dad=0");

    capture(&lan, "arping", || {
        run(
            client,
            "arping",
            &["-c", "1", "-w", "2", "-i", "eth0", "10.78.0.1"],
        );
    });
    capture(&lan, "arping-probe", || {
        run(
            client,
            "arping",
            &["-0", "-c", "1", "-w", "2", "-i", "eth0", "10.78.0.1"],
        );
    });
    capture(&lan, "arping-vlan", || {
        run(
            client,
            "arping",
            &["-V", "7", "-c", "1", "-w", "1", "-i", "eth0", "10.78.0.1"],
        );
    });
    // The earlier steps taught the kernels each other's MAC.
    for ns in [node, client] {
        ns.ip(&["neigh", "flush", "dev", "eth0"]);
    }
    capture(&lan, "ping", || {
        run(client, "ping", &["-c", "1", "-W", "2", "10.78.0.1"]);
    });
    capture(&lan, "ping6", || {
        run(client, "ping", &["-6", "-c", "1", "-W", "2", "fd00:78::1"]);
    });
    capture(&lan, "ndisc6", || {
        run(client, "ndisc6", &["-1", "-r", "1", "fd00:78::1", "eth0"]);
    });
    // What the kernel announces when its MAC changes (here: back to the
    // usual one): a gratuitous ARP and unsolicited NAs.
    node.sysctl("net.ipv4.conf.eth0.arp_notify=1");
    node.sysctl("net.ipv6.conf.eth0.ndisc_notify=1");
    node.ip(&["link", "set", "eth0", "address", "02:00:5e:00:00:0c"]);
    std::thread::sleep(Duration::from_millis(300));
    capture(&lan, "kernel-notify", || {
        node.ip(&["link", "set", "eth0", "address", l2_netns::NODE_MAC]);
    });
    assert!(Path::new(&dir).join("arping-0-arp-request.hex").exists());
}
