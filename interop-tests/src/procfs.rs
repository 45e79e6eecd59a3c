//! What a process holds, read from /proc: its open file descriptors and
//! the TCP sockets among them, with their states. Fault tests compare
//! these before and after a storm to prove nothing leaked.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use nix::unistd::Pid;

use crate::error::{LabError, Result};

/// A TCP socket a process holds a descriptor for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TcpSocket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
}

/// The kernel's TCP states, as /proc/net/tcp numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    Other(u8),
}

impl TcpState {
    fn from_code(code: u8) -> TcpState {
        match code {
            0x01 => TcpState::Established,
            0x02 => TcpState::SynSent,
            0x03 => TcpState::SynRecv,
            0x04 => TcpState::FinWait1,
            0x05 => TcpState::FinWait2,
            0x06 => TcpState::TimeWait,
            0x07 => TcpState::Close,
            0x08 => TcpState::CloseWait,
            0x09 => TcpState::LastAck,
            0x0A => TcpState::Listen,
            0x0B => TcpState::Closing,
            other => TcpState::Other(other),
        }
    }
}

/// CPU time (user + system) `pid` has used so far, every thread counted,
/// dead ones too: `utime` + `stime` of `/proc/PID/stat`, in 10 ms ticks
/// (USER_HZ is 100 on Linux).
pub fn cpu_time(pid: Pid) -> Result<std::time::Duration> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| LabError::io(format!("cannot read {path}"), e))?;
    parse_cpu_ticks(&text)
        .map(|ticks| std::time::Duration::from_millis(ticks * 10))
        .ok_or_else(|| LabError::parse(&path, "no utime and stime", &text))
}

/// `utime + stime` of a `stat` line. The fields are counted after the
/// command name, which is in parentheses and may hold blanks: state is the
/// 3rd field, utime the 14th and stime the 15th (proc(5)).
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them,
/// for the figures a test prints (empty if unreadable).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// How many file descriptors `pid` has open.
pub fn open_fds(pid: Pid) -> Result<usize> {
    let dir = format!("/proc/{pid}/fd");
    Ok(std::fs::read_dir(&dir)
        .map_err(|e| LabError::io(format!("cannot list {dir}"), e))?
        .count())
}

/// Resident memory of `pid` in KiB (`VmRSS` of `/proc/PID/status`).
pub fn rss_kib(pid: Pid) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| LabError::io(format!("cannot read {path}"), e))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| LabError::Invalid(format!("{path}: no VmRSS")))
}

/// The TCP sockets `pid` holds a descriptor for (both families), read from
/// its own namespace's tables.
pub fn tcp_sockets(pid: Pid) -> Result<Vec<TcpSocket>> {
    let dir = format!("/proc/{pid}/fd");
    let mut inodes = BTreeSet::new();
    for entry in
        std::fs::read_dir(&dir).map_err(|e| LabError::io(format!("cannot list {dir}"), e))?
    {
        // A descriptor closed between the listing and the readlink is gone.
        let Ok(target) = entry.and_then(|e| std::fs::read_link(e.path())) else {
            continue;
        };
        if let Some(inode) = socket_inode(&target.to_string_lossy()) {
            inodes.insert(inode);
        }
    }
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let path = format!("/proc/{pid}/net/{table}");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| LabError::io(format!("cannot read {path}"), e))?;
        out.extend(
            parse_tcp_table(&text)
                .into_iter()
                .filter(|(inode, _)| inodes.contains(inode))
                .map(|(_, socket)| socket),
        );
    }
    out.sort();
    Ok(out)
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Parses /proc/net/tcp or tcp6: (inode, socket) per line after the header.
pub(crate) fn parse_tcp_table(text: &str) -> Vec<(u64, TcpSocket)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = parse_endpoint(fields.get(1)?)?;
            let remote = parse_endpoint(fields.get(2)?)?;
            let state = TcpState::from_code(u8::from_str_radix(fields.get(3)?, 16).ok()?);
            let inode = fields.get(9)?.parse().ok()?;
            Some((
                inode,
                TcpSocket {
                    local,
                    remote,
                    state,
                },
            ))
        })
        .collect()
}

/// `0100007F:00B3` (IPv4) or 32 hex digits then `:port` (IPv6): the
/// address is in 32-bit words of host (little-endian) byte order.
fn parse_endpoint(field: &str) -> Option<SocketAddr> {
    let (addr, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..addr.len() / 8)
        .map(|i| u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<_>>()?;
    let ip = match words.as_slice() {
        [w] => IpAddr::V4(Ipv4Addr::from(w.swap_bytes())),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (i, w) in [a, b, c, d].into_iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_utime_plus_stime_after_the_command_name() {
        // A command name with blanks and a parenthesis, as a thread may
        // name itself.
        let stat =
            "4242 (tokio (rt) 1) S 1 4242 4242 0 -1 4194560 2300 0 0 0 123 45 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(168));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1"), None);
    }

    // Captured from a lab node running `ferrolb run` (kernel 6.1).
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0BFF1FAC:B3C8 01FF1FAC:00B3 01 00000000:00000000 02:0000049C 00000000     0        0 1234567 2 0000000000000000 20 4 30 10 -1
   1: 0BFF1FAC:B3CA 02FF1FAC:00B3 06 00000000:00000000 03:00000F6B 00000000     0        0 0 3 0000000000000000
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:00B3 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7654321 1 0000000000000000 100 0 0 10 0
   1: 310000FD000055020000000001000000:00B3 310000FD00005502000000000B000000:C001 01 00000000:00000000 00:00000000 00000000     0        0 42 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn parses_ipv4_sockets_with_state_and_inode() {
        let table = parse_tcp_table(TCP);
        assert_eq!(table.len(), 2);
        assert_eq!(
            table[0],
            (
                1234567,
                TcpSocket {
                    local: "172.31.255.11:46024".parse().unwrap(),
                    remote: "172.31.255.1:179".parse().unwrap(),
                    state: TcpState::Established,
                }
            )
        );
        assert_eq!(table[1].1.state, TcpState::TimeWait);
        assert_eq!(table[1].0, 0, "a TIME_WAIT socket has no inode");
    }

    #[test]
    fn parses_ipv6_listeners_and_connections() {
        let table = parse_tcp_table(TCP6);
        assert_eq!(table[0].1.local, "[::]:179".parse().unwrap());
        assert_eq!(table[0].1.state, TcpState::Listen);
        assert_eq!(table[1].1.local, "[fd00:31:255::1]:179".parse().unwrap());
        assert_eq!(table[1].1.remote, "[fd00:31:255::b]:49153".parse().unwrap());
        assert_eq!(table[1].0, 42);
    }

    #[test]
    fn only_socket_links_name_an_inode() {
        assert_eq!(socket_inode("socket:[98765]"), Some(98765));
        assert_eq!(socket_inode("anon_inode:[eventpoll]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }

    #[test]
    fn counts_its_own_descriptors() {
        let pid = nix::unistd::getpid();
        assert!(open_fds(pid).unwrap() >= 3);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mine = tcp_sockets(pid).unwrap();
        assert!(
            mine.iter()
                .any(|s| s.local.port() == port && s.state == TcpState::Listen),
            "{mine:?}"
        );
    }
}
