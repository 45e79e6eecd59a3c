//! Traffic through the lab: an HTTP server inside a host, HTTP requests from
//! a client, and who answers ARP for an address.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::lab::{Host, LAN_IFACE, Lab};
use crate::prereq;

/// An HTTP server on a lab host that answers every request with the host's
/// name, so a client can tell which node served it. Stopped on drop.
pub struct HttpServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl HttpServer {
    /// Serves on `addr:port` inside `host`; the lab stops it on teardown.
    pub fn start(lab: &Lab, host: &Host, addr: IpAddr, port: u16) -> Result<()> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let body = format!("{}\n", host.name);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = host.netns.spawn(move || {
            let listener = TcpListener::bind(SocketAddr::new(addr, port));
            let listener = match listener {
                Ok(l) => {
                    let _ = ready_tx.send(Ok(()));
                    l
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return Err(LabError::io(format!("cannot listen on {addr}:{port}"), e));
                }
            };
            listener
                .set_nonblocking(true)
                .map_err(|e| LabError::io("cannot make the listener non-blocking", e))?;
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => answer(stream, &body),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(LabError::io("accept failed", e)),
                }
            }
            Ok(())
        })?;
        let server = HttpServer {
            stop,
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => {
                lab.adopt_task(server);
                Ok(())
            }
            Ok(Err(e)) => Err(LabError::Invalid(format!(
                "HTTP server on {}: {e}",
                host.name
            ))),
            Err(_) => Err(LabError::Invalid(format!(
                "HTTP server on {} did not start",
                host.name
            ))),
        }
    }
}

fn answer(mut stream: TcpStream, body: &str) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut request = [0u8; 1024];
    // One read is enough for the lab's one-line requests.
    let _ = stream.read(&mut request);
    let response = format!(
        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `GET /` to `addr:port` from inside `client`; returns the body.
pub fn http_get(client: &Host, addr: IpAddr, port: u16, timeout: Duration) -> Result<String> {
    http_get_path(client, addr, port, "/", timeout)
}

/// `GET path` to `addr:port` from inside `client`; returns the body of a
/// 200 response.
pub fn http_get_path(
    client: &Host,
    addr: IpAddr,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<String> {
    let path = path.to_string();
    client.netns.run(move || {
        let target = SocketAddr::new(addr, port);
        let context = |what: &str| format!("HTTP {what} {target}");
        let mut stream = TcpStream::connect_timeout(&target, timeout)
            .map_err(|e| LabError::io(context("connect to"), e))?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| LabError::io(context("timeout on"), e))?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .map_err(|e| LabError::io(context("request to"), e))?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .map_err(|e| LabError::io(context("response from"), e))?;
        match response.split_once("\r\n\r\n") {
            Some((head, body))
                if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") =>
            {
                Ok(body.to_string())
            }
            _ => Err(LabError::parse(
                context("response from"),
                "not a 200 response",
                &response,
            )),
        }
    })
}

/// The MAC address that answers an ARP request for `addr` sent by `client`,
/// or `None` if nobody answers within a second.
pub fn arp_who_has(client: &Host, addr: std::net::Ipv4Addr) -> Result<Option<String>> {
    arp_who_has_on(client, LAN_IFACE, addr)
}

/// [`arp_who_has`] out of `client`'s interface `interface`.
pub fn arp_who_has_on(
    client: &Host,
    interface: &str,
    addr: std::net::Ipv4Addr,
) -> Result<Option<String>> {
    prereq::require_program("arping", "arping")?;
    let mut command = client.netns.command("arping");
    command.args([
        "-r",
        "-c",
        "1",
        "-w",
        "1",
        "-i",
        interface,
        &addr.to_string(),
    ]);
    let out = command
        .output()
        .map_err(|e| LabError::io("cannot run arping", e))?;
    // arping exits 1 when nobody answered.
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .next()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty()))
}
