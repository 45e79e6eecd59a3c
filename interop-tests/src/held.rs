//! For the tests of [`crate::on_signal`]: a lab held by a child test
//! process, which says what it holds and waits to be told to stop, so
//! that the parent can send it a signal and look at what is left.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The child's side: prints what it holds, then waits (at most `hold`).
pub fn hold(namespaces: &[String], pids: &[Pid], hold: Duration) {
    let pids: Vec<String> = pids.iter().map(Pid::to_string).collect();
    println!("namespaces {}", namespaces.join(" "));
    println!("pids {}", pids.join(" "));
    println!("ready");
    std::thread::sleep(hold);
}

/// A child test process holding a lab; told to stop (SIGTERM) when
/// dropped, however the test ends.
pub struct Held {
    child: Child,
    pub namespaces: Vec<String>,
    pub pids: Vec<Pid>,
}

impl Held {
    /// Runs the ignored test `test` of this test binary with `env` set,
    /// and waits until it has said what it holds ([`hold`]), at most
    /// `within`. Panics otherwise: a test helper.
    pub fn start(test: &str, env: &str, within: Duration) -> Held {
        let child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                test,
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(env, "1")
            .stdout(Stdio::piped())
            .spawn()
            .expect("child test process");
        let mut held = Held {
            child,
            namespaces: Vec::new(),
            pids: Vec::new(),
        };
        let stdout = held.child.stdout.take().expect("piped stdout");
        // Read on a thread: a child that never gets ready fails the test
        // after the bound instead of hanging it.
        let (lines, read) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    return;
                }
            }
        });
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = read.recv_timeout(left) else {
                panic!("the child never held its lab within {within:?}");
            };
            // libtest's "test ... " may start the first line.
            let after = |marker: &str| line.find(marker).map(|i| &line[i + marker.len()..]);
            if let Some(names) = after("namespaces ") {
                held.namespaces = names.split_whitespace().map(str::to_string).collect();
            } else if let Some(pids) = after("pids ") {
                held.pids = pids
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .map(Pid::from_raw)
                    .collect();
            } else if line.ends_with("ready") {
                return held;
            }
        }
    }

    /// Sends SIGTERM and waits for the child to exit, at most `within`;
    /// then waits, at most `reaped_within`, until none of its processes
    /// is left (daemons go with `timeout`'s forwarding of the signal).
    pub fn stop(&mut self, within: Duration, reaped_within: Duration) -> ExitStatus {
        kill(self.pid(), Signal::SIGTERM).expect("SIGTERM");
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the child did not exit within {within:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let deadline = Instant::now() + reaped_within;
        while Instant::now() < deadline
            && self
                .pids
                .iter()
                .any(|p| Path::new(&format!("/proc/{p}")).exists())
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        status
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = kill(self.pid(), Signal::SIGTERM);
        let _ = self.child.wait();
    }
}
