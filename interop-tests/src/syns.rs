//! Counts a speaker's connection attempts as a router's interface sees
//! them: tcpdump in the router's namespace logs every initial SYN from one
//! address to one port. Each attempt is a new source port (the kernel's
//! own SYN retransmissions reuse theirs), so attempts are counted by port,
//! stamped with the first SYN's wall-clock time.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::daemon::{Daemon, DaemonSpec};
use crate::error::{LabError, Result};
use crate::lab::{Host, Lab};
use crate::prereq;
use crate::wait::Probe;

/// One connection attempt: when its first SYN was seen, from which port.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attempt {
    /// Seconds since the Unix epoch (tcpdump's `-tt`).
    pub at: f64,
    pub source_port: u16,
}

/// tcpdump logging SYNs from `from` to `port` on a host's `eth0`.
pub struct SynCapture {
    daemon: Arc<Daemon>,
    log: PathBuf,
}

impl SynCapture {
    /// Starts the capture on `host` and waits until tcpdump listens.
    pub fn start(lab: &Lab, host: &Host, from: IpAddr, port: u16) -> Result<SynCapture> {
        prereq::require_program("tcpdump", "tcpdump")?;
        let dir = lab.state_dir(host, "syns")?;
        let log = dir.join(format!("syns-{from}-{port}.log"));
        let filter = format!(
            "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and src host {from} and dst port {port}"
        );
        let daemon = lab.start_daemon(DaemonSpec {
            name: format!("{}/tcpdump", host.name),
            netns: Some(&host.netns),
            program: "tcpdump",
            // -l: a line as soon as a packet is seen; -tt: Unix time; -nn:
            // no name lookups (there is no DNS in the lab); -U: unbuffered.
            args: ["-i", "eth0", "-l", "-U", "-tt", "-nn", &filter]
                .map(String::from)
                .to_vec(),
            output: log.clone(),
            logs: Vec::new(),
            lifetime: lab.lifetime(),
        })?;
        let capture = SynCapture { daemon, log };
        lab.wait_for(
            &format!("tcpdump on {} to listen", host.name),
            Duration::from_secs(10),
            || {
                let text = capture.text();
                Ok(if text.contains("listening on") {
                    Probe::Done(())
                } else if capture.daemon.has_exited() {
                    Probe::Fail(format!("tcpdump exited: {text}"))
                } else {
                    Probe::Pending(text)
                })
            },
        )?;
        Ok(capture)
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every attempt seen so far, in time order.
    pub fn attempts(&self) -> Vec<Attempt> {
        parse_attempts(&self.text())
    }

    /// Attempts whose first SYN came at or after `since`.
    pub fn attempts_since(&self, since: SystemTime) -> Result<Vec<Attempt>> {
        let since = since
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| LabError::Invalid("a time before 1970".into()))?
            .as_secs_f64();
        Ok(self
            .attempts()
            .into_iter()
            .filter(|a| a.at >= since)
            .collect())
    }
}

/// Parses tcpdump's `-tt -nn` lines, e.g.
/// `1764918000.123456 IP 172.31.255.11.46024 > 172.31.255.1.179: Flags [S], ...`,
/// into one attempt per source port (the first SYN of each).
pub(crate) fn parse_attempts(text: &str) -> Vec<Attempt> {
    let mut first: BTreeMap<u16, f64> = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(at), Some(_family), Some(source)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let Ok(at) = at.parse::<f64>() else {
            continue;
        };
        // IPv4 `a.b.c.d.port`, IPv6 `x:y::z.port`: the port follows the last dot.
        let Some(port) = source
            .rsplit_once('.')
            .and_then(|(_, p)| p.parse::<u16>().ok())
        else {
            continue;
        };
        first.entry(port).or_insert(at);
    }
    let mut attempts: Vec<Attempt> = first
        .into_iter()
        .map(|(source_port, at)| Attempt { at, source_port })
        .collect();
    attempts.sort_by(|a, b| a.at.total_cmp(&b.at));
    attempts
}

/// The gaps between consecutive attempts, in seconds.
pub fn gaps(attempts: &[Attempt]) -> Vec<f64> {
    attempts.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_attempt_per_source_port_at_its_first_syn() {
        let text = "\
tcpdump: verbose output suppressed, use -v[v]... for full protocol decode
listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes
1764918001.500000 IP 172.31.255.11.46030 > 172.31.255.1.179: Flags [S], seq 2, win 64240, length 0
1764918000.250000 IP 172.31.255.11.46024 > 172.31.255.1.179: Flags [S], seq 1, win 64240, length 0
1764918001.250000 IP 172.31.255.11.46024 > 172.31.255.1.179: Flags [S], seq 1, win 64240, length 0
1764918003.000000 IP6 fd00:31:255::b.40000 > fd00:31:255::1.179: Flags [S], seq 3, length 0
";
        let attempts = parse_attempts(text);
        assert_eq!(
            attempts,
            [
                Attempt {
                    at: 1764918000.25,
                    source_port: 46024
                },
                Attempt {
                    at: 1764918001.5,
                    source_port: 46030
                },
                Attempt {
                    at: 1764918003.0,
                    source_port: 40000
                },
            ]
        );
        assert_eq!(gaps(&attempts), [1.25, 1.5]);
    }
}
