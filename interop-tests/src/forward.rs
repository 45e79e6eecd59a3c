//! Reaching a server on the host's loopback from inside a lab namespace,
//! without giving the namespace a route out: a listener on the namespace's
//! own loopback whose connections are relayed to the host's. The test API
//! server listens on the host's 127.0.0.1; a speaker in a lab namespace
//! talks to it as if it ran there (its certificate names 127.0.0.1).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::netns::Netns;

/// A running relay; dropping it stops accepting and closes every relayed
/// connection.
pub struct Forward {
    stop: Arc<AtomicBool>,
    /// Connections accepted so far: how often the client inside connected,
    /// whether or not the server outside answered.
    accepted: Arc<AtomicU64>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Forward {
    /// Relays `127.0.0.1:PORT` inside `netns` to `target` (on the host),
    /// PORT being `target`'s port.
    pub fn start(netns: &Netns, target: SocketAddr) -> Result<Forward> {
        let port = target.port();
        // Created on a thread inside the namespace, the listening socket
        // belongs to it wherever it is used afterwards.
        let listener = netns.run(move || {
            TcpListener::bind(("127.0.0.1", port))
                .map_err(|e| LabError::io(format!("cannot listen on 127.0.0.1:{port}"), e))
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| LabError::io("cannot make the relay non-blocking", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let (stopping, counter) = (stop.clone(), accepted.clone());
        let accept = std::thread::Builder::new()
            .name(format!("forward-{port}"))
            .spawn(move || accept_loop(listener, target, stopping, counter))
            .map_err(|e| LabError::io("cannot start the relay", e))?;
        Ok(Forward {
            stop,
            accepted,
            accept: Some(accept),
        })
    }

    /// How many connections the client inside has opened so far (while the
    /// server is down, each is closed at once: a count of its attempts).
    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::Acquire)
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
) {
    let mut open: Vec<TcpStream> = Vec::new();
    while !stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((inside, _)) => {
                accepted.fetch_add(1, Ordering::AcqRel);
                // This thread is on the host: the outbound side connects there.
                if let Ok(outside) = TcpStream::connect_timeout(&target, Duration::from_secs(5))
                    && let Some(pair) = relay(inside, outside)
                {
                    open.extend(pair);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    for s in open {
        let _ = s.shutdown(Shutdown::Both);
    }
}

/// Copies both ways on two threads; returns handles to close them with.
fn relay(inside: TcpStream, outside: TcpStream) -> Option<[TcpStream; 2]> {
    inside.set_nonblocking(false).ok()?;
    let handles = [inside.try_clone().ok()?, outside.try_clone().ok()?];
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        })
    };
    pipe(inside.try_clone().ok()?, outside.try_clone().ok()?);
    pipe(outside, inside);
    Some(handles)
}
