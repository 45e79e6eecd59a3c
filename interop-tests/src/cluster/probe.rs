//! The client's view of a failover: HTTP GETs to a Service address from the
//! client's namespace, several in flight at once (a TCP connect that starts
//! while the path is broken blocks until its timeout, so one prober alone
//! would only see the switchover to within that timeout).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::lab::Host;

/// Probing threads; each starts a GET every `PAUSE` after its last ended.
const THREADS: usize = 5;
const PAUSE: Duration = Duration::from_millis(10);
/// A GET that takes longer failed (the lab's LAN answers in well under 1 ms).
const TIMEOUT: Duration = Duration::from_millis(250);

/// One GET: when it started and ended, and whether it was answered.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub started: Instant,
    pub ended: Instant,
    pub answered: bool,
}

/// Running probes; dropping it stops them.
pub struct HttpProber {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Attempt>>>,
    threads: Vec<JoinHandle<Result<()>>>,
}

impl HttpProber {
    pub fn start(client: &Host, addr: IpAddr, port: u16) -> Result<HttpProber> {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for i in 0..THREADS {
            let (stop, log) = (stop.clone(), log.clone());
            let target = SocketAddr::new(addr, port);
            threads.push(client.netns.spawn(move || {
                // Staggered, so the attempts interleave.
                std::thread::sleep(TIMEOUT / THREADS as u32 * i as u32);
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let answered = get(target);
                    let ended = Instant::now();
                    if let Ok(mut log) = log.lock() {
                        log.push(Attempt {
                            started,
                            ended,
                            answered,
                        });
                    }
                    std::thread::sleep(PAUSE);
                }
                Ok(())
            })?);
        }
        Ok(HttpProber { stop, log, threads })
    }

    /// The end of the first answered GET that started after `since`.
    pub fn first_answer_after(&self, since: Instant) -> Option<Instant> {
        let log = self.log.lock().ok()?;
        log.iter()
            .filter(|a| a.answered && a.started >= since)
            .map(|a| a.ended)
            .min()
    }

    /// The longest time between `from` and `to` during which no GET was
    /// answered: between the ends of consecutive answered GETs, and from
    /// `from` to the first, from the last to `to`. `None` if nothing was
    /// answered in between.
    pub fn longest_gap(&self, from: Instant, to: Instant) -> Option<Duration> {
        longest_gap(&self.log.lock().ok()?, from, to)
    }

    /// How many GETs were answered so far.
    pub fn answered(&self) -> usize {
        self.log
            .lock()
            .map(|l| l.iter().filter(|a| a.answered).count())
            .unwrap_or(0)
    }
}

impl Drop for HttpProber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// See [`HttpProber::longest_gap`].
fn longest_gap(log: &[Attempt], from: Instant, to: Instant) -> Option<Duration> {
    let mut ends: Vec<Instant> = log
        .iter()
        .filter(|a| a.answered && a.ended >= from && a.ended <= to)
        .map(|a| a.ended)
        .collect();
    if ends.is_empty() {
        return None;
    }
    ends.sort();
    ends.insert(0, from);
    ends.push(to);
    ends.windows(2).map(|w| w[1].duration_since(w[0])).max()
}

fn get(target: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&target, TIMEOUT) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let _ = stream.set_write_timeout(Some(TIMEOUT));
    if stream.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.") && answer.windows(4).any(|w| w == b" 200")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(t0: Instant, start_ms: u64, end_ms: u64, answered: bool) -> Attempt {
        Attempt {
            started: t0 + Duration::from_millis(start_ms),
            ended: t0 + Duration::from_millis(end_ms),
            answered,
        }
    }

    #[test]
    fn the_longest_gap_is_between_answers_and_counts_the_edges() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // Answers end at 10, 20, 300 (a failed GET between), 310.
        let log = [
            attempt(t0, 0, 10, true),
            attempt(t0, 5, 20, true),
            attempt(t0, 20, 270, false),
            attempt(t0, 290, 300, true),
            attempt(t0, 305, 310, true),
        ];
        assert_eq!(longest_gap(&log, t0, t0 + ms(320)), Some(ms(280)));
        // The edges count: nothing answered from 310 to 1000.
        assert_eq!(longest_gap(&log, t0, t0 + ms(1000)), Some(ms(690)));
        // Answers outside the window do not count.
        assert_eq!(longest_gap(&log, t0 + ms(21), t0 + ms(299)), None);
        assert_eq!(longest_gap(&[], t0, t0 + ms(5)), None);
    }
}
