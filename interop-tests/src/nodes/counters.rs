//! What one speaker costs, read from /proc: its CPU time, its resident
//! memory, and its namespace's UDP and interface counters. In a node's
//! namespace the membership is the only UDP user (BGP is TCP, the
//! responder's ARP/NDP a packet socket, the host probe TCP), so the UDP
//! datagram counters are the membership's datagrams; the LAN interface's
//! byte counters add the Ethernet, IP and UDP headers and the odd ARP
//! frame.

use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::error::{LabError, Result};
use crate::lab::LAN_IFACE;
use crate::procfs;

/// One reading of a speaker's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub at: Instant,
    /// utime + stime, every thread.
    pub cpu: Duration,
    pub udp: UdpCounters,
    pub link: LinkCounters,
}

/// `Udp:` of /proc/net/snmp, for the namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpCounters {
    pub in_datagrams: u64,
    pub out_datagrams: u64,
    /// Datagrams dropped because the socket's receive buffer was full: a
    /// membership thread that could not keep up.
    pub rcvbuf_errors: u64,
}

/// The LAN interface's line of /proc/net/dev.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounters {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
}

/// Reads `pid`'s counters; its `/proc/PID/net` shows its own namespace.
pub fn read(pid: Pid) -> Result<Reading> {
    let at = Instant::now();
    let cpu = procfs::cpu_time(pid)?;
    let snmp_path = format!("/proc/{pid}/net/snmp");
    let snmp = read_text(&snmp_path)?;
    let udp = parse_udp(&snmp).ok_or_else(|| LabError::parse(&snmp_path, "no Udp line", &snmp))?;
    let dev_path = format!("/proc/{pid}/net/dev");
    let dev = read_text(&dev_path)?;
    let link = parse_link(&dev, LAN_IFACE)
        .ok_or_else(|| LabError::parse(&dev_path, format!("no {LAN_IFACE}"), &dev))?;
    Ok(Reading { at, cpu, udp, link })
}

fn read_text(path: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| LabError::io(format!("cannot read {path}"), e))
}

/// The `Udp:` counters of /proc/net/snmp: a header line naming the
/// fields, then a line of values, matched by name (kernels add fields).
pub fn parse_udp(snmp: &str) -> Option<UdpCounters> {
    let mut lines = snmp.lines().filter_map(|l| l.strip_prefix("Udp:"));
    let names: Vec<&str> = lines.next()?.split_whitespace().collect();
    let values: Vec<u64> = lines
        .next()?
        .split_whitespace()
        .map(str::parse)
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    let field = |name: &str| -> Option<u64> {
        let i = names.iter().position(|n| *n == name)?;
        values.get(i).copied()
    };
    Some(UdpCounters {
        in_datagrams: field("InDatagrams")?,
        out_datagrams: field("OutDatagrams")?,
        rcvbuf_errors: field("RcvbufErrors").unwrap_or(0),
    })
}

/// `iface`'s counters in /proc/net/dev: receive bytes and packets are the
/// 1st and 2nd values after the colon, transmit bytes and packets the 9th
/// and 10th.
pub fn parse_link(dev: &str, iface: &str) -> Option<LinkCounters> {
    let values: Vec<u64> = dev.lines().find_map(|l| {
        let (name, rest) = l.split_once(':')?;
        (name.trim() == iface).then(|| {
            rest.split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        })
    })?;
    Some(LinkCounters {
        rx_bytes: *values.first()?,
        rx_packets: *values.get(1)?,
        tx_bytes: *values.get(8)?,
        tx_packets: *values.get(9)?,
    })
}

/// A speaker's cost per second between two readings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub datagrams_in: f64,
    pub datagrams_out: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
    /// CPU time per wall-clock time, in percent of one core.
    pub cpu_percent: f64,
    /// Receive-buffer drops over the window (a count, not a rate).
    pub dropped: u64,
}

impl Rates {
    /// From `before` to `after`; `None` if no time passed between them or
    /// a counter went backwards (the speaker restarted in between: its
    /// namespace's counters stay, but its CPU time starts again).
    pub fn between(before: &Reading, after: &Reading) -> Option<Rates> {
        let secs = after.at.checked_duration_since(before.at)?.as_secs_f64();
        if secs <= 0.0 {
            return None;
        }
        let per_s = |a: u64, b: u64| -> Option<f64> { Some(b.checked_sub(a)? as f64 / secs) };
        Some(Rates {
            datagrams_in: per_s(before.udp.in_datagrams, after.udp.in_datagrams)?,
            datagrams_out: per_s(before.udp.out_datagrams, after.udp.out_datagrams)?,
            bytes_in: per_s(before.link.rx_bytes, after.link.rx_bytes)?,
            bytes_out: per_s(before.link.tx_bytes, after.link.tx_bytes)?,
            cpu_percent: after.cpu.checked_sub(before.cpu)?.as_secs_f64() / secs * 100.0,
            dropped: after
                .udp
                .rcvbuf_errors
                .checked_sub(before.udp.rcvbuf_errors)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured in a lab node's namespace (kernel 6.1).
    const SNMP: &str = "Ip: Forwarding DefaultTTL InReceives
Ip: 2 64 1234
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 143 0 2 149 7 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
";
    const DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     200       2    0    0    0     0          0         0      200       2    0    0    0     0       0          0
  eth0: 5123456   40001    0    0    0     0          0         3  6234567   41002    0    0    0     0       0          0
";

    #[test]
    fn reads_udp_counters_by_name_not_by_udplite() {
        assert_eq!(
            parse_udp(SNMP),
            Some(UdpCounters {
                in_datagrams: 143,
                out_datagrams: 149,
                rcvbuf_errors: 7,
            })
        );
        assert_eq!(parse_udp("Ip: a\nIp: 1\n"), None);
        assert_eq!(parse_udp("Udp: InDatagrams\nUdp: x\n"), None);
    }

    #[test]
    fn reads_the_lan_interface_line() {
        assert_eq!(
            parse_link(DEV, "eth0"),
            Some(LinkCounters {
                rx_bytes: 5_123_456,
                rx_packets: 40_001,
                tx_bytes: 6_234_567,
                tx_packets: 41_002,
            })
        );
        assert_eq!(parse_link(DEV, "eth1"), None);
        assert_eq!(parse_link(DEV, "eth"), None);
    }

    fn reading(at: Instant, cpu_ms: u64, udp_in: u64, udp_out: u64, bytes: u64) -> Reading {
        Reading {
            at,
            cpu: Duration::from_millis(cpu_ms),
            udp: UdpCounters {
                in_datagrams: udp_in,
                out_datagrams: udp_out,
                rcvbuf_errors: 1,
            },
            link: LinkCounters {
                rx_bytes: bytes,
                rx_packets: 0,
                tx_bytes: 2 * bytes,
                tx_packets: 0,
            },
        }
    }

    #[test]
    fn rates_are_per_second_and_cpu_in_percent_of_a_core() {
        let t0 = Instant::now();
        let a = reading(t0, 1000, 100, 200, 1000);
        let b = reading(t0 + Duration::from_secs(2), 1050, 900, 1000, 5000);
        let r = Rates::between(&a, &b).expect("rates");
        assert_eq!(r.datagrams_in, 400.0);
        assert_eq!(r.datagrams_out, 400.0);
        assert_eq!(r.bytes_in, 2000.0);
        assert_eq!(r.bytes_out, 4000.0);
        assert!((r.cpu_percent - 2.5).abs() < 1e-9, "{}", r.cpu_percent);
        assert_eq!(r.dropped, 0);
        // Backwards (a restarted speaker) or no time: no rate.
        assert_eq!(Rates::between(&b, &a), None);
        let restarted = reading(t0 + Duration::from_secs(3), 10, 1000, 1100, 6000);
        assert_eq!(Rates::between(&b, &restarted), None);
        assert_eq!(Rates::between(&a, &a), None);
    }
}
