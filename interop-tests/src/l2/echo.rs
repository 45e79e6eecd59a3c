//! The UDP echo every node runs for the VIP: it answers each probe with the
//! node's name, so the client sees which node its traffic reached.
//!
//! The socket is bound to the VIP with `IP_FREEBIND`: it exists before the
//! node holds the address, and starts answering the moment the kernel
//! delivers packets for it, with the VIP as the source address the client
//! expects.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{LabError, Result};
use crate::lab::Host;

/// The port the probes go to.
pub const ECHO_PORT: u16 = 7007;

/// First bytes of every probe and reply: stray datagrams are ignored.
const MAGIC: &[u8; 4] = b"FLB2";
/// Magic and sequence number.
pub const PROBE_LEN: usize = 12;

/// A probe: the magic and a sequence number.
pub fn encode_probe(seq: u64) -> [u8; PROBE_LEN] {
    let mut out = [0u8; PROBE_LEN];
    out[..4].copy_from_slice(MAGIC);
    out[4..].copy_from_slice(&seq.to_be_bytes());
    out
}

/// A reply: the probe it answers, then the node's name.
pub fn encode_reply(probe: &[u8], node: &str) -> Option<Vec<u8>> {
    decode_seq(probe)?;
    let mut out = probe[..PROBE_LEN].to_vec();
    out.extend_from_slice(node.as_bytes());
    Some(out)
}

/// The sequence number of a probe or reply; `None` for anything else.
pub fn decode_seq(bytes: &[u8]) -> Option<u64> {
    let head = bytes.get(..PROBE_LEN)?;
    if &head[..4] != MAGIC {
        return None;
    }
    let seq: [u8; 8] = head[4..].try_into().ok()?;
    Some(u64::from_be_bytes(seq))
}

/// The sequence number and node name of a reply.
pub fn decode_reply(bytes: &[u8]) -> Option<(u64, &str)> {
    let seq = decode_seq(bytes)?;
    let name = std::str::from_utf8(&bytes[PROBE_LEN..]).ok()?;
    (!name.is_empty()).then_some((seq, name))
}

/// An echo responder on one node; stopped on drop.
pub struct EchoResponder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl EchoResponder {
    /// Answers probes to `vip` inside `node`.
    pub fn start(node: &Host, vip: IpAddr) -> Result<EchoResponder> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let name = node.name.clone();
        // The socket is made inside the namespace, then served there.
        let socket = node.netns.run(move || bind_freebind(vip))?;
        let thread = node.netns.spawn(move || serve(socket, &name, &flag))?;
        Ok(EchoResponder {
            stop,
            thread: Some(thread),
        })
    }
}

fn bind_freebind(vip: IpAddr) -> Result<UdpSocket> {
    let addr = SocketAddr::new(vip, ECHO_PORT);
    let context = |what: &str| format!("echo responder on {addr}: {what}");
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| LabError::io(context("socket"), e))?;
    match vip {
        IpAddr::V4(_) => socket.set_freebind_v4(true),
        IpAddr::V6(_) => socket.set_freebind_v6(true),
    }
    .map_err(|e| LabError::io(context("IP_FREEBIND"), e))?;
    socket
        .bind(&addr.into())
        .map_err(|e| LabError::io(context("bind"), e))?;
    // Short, so a stop request is seen within a tenth of a second.
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| LabError::io(context("timeout"), e))?;
    Ok(socket.into())
}

fn serve(socket: UdpSocket, name: &str, stop: &AtomicBool) -> Result<()> {
    let mut buf = [0u8; 64];
    while !stop.load(Ordering::Relaxed) {
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e)
                // A socket with a receive timeout is not restarted after a
                // signal handler runs (signal(7)), whatever SA_RESTART says.
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                // Nothing a link cut or an address change does to a UDP
                // socket is fatal; a responder that quit would pass for a
                // node that lost the VIP. Say it and keep serving.
                eprintln!("echo responder on {name}: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if let Some(reply) = encode_reply(&buf[..len], name) {
            // A reply lost while the link is down is what is measured.
            let _ = socket.send_to(&reply, from);
        }
    }
    Ok(())
}

impl Drop for EchoResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_carries_the_probe_and_the_node() {
        let probe = encode_probe(0x0102_0304_0506_0708);
        assert_eq!(decode_seq(&probe), Some(0x0102_0304_0506_0708));
        let reply = encode_reply(&probe, "n2").expect("valid probe");
        assert_eq!(decode_reply(&reply), Some((0x0102_0304_0506_0708, "n2")));
    }

    #[test]
    fn stray_datagrams_are_ignored() {
        assert_eq!(decode_seq(b"FLB"), None);
        assert_eq!(decode_seq(b"XXXX00000000"), None);
        assert_eq!(encode_reply(b"hello world!", "n1"), None);
        // A probe echoed without a name is not a reply.
        assert_eq!(decode_reply(&encode_probe(1)), None);
        let mut bad = encode_probe(1).to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        assert_eq!(decode_reply(&bad), None);
    }
}
