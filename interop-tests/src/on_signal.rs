//! A test process told to stop (SIGTERM from nextest's timeout or a CI
//! runner, SIGINT at a terminal, SIGHUP when its session ends) runs no
//! destructor: its labs' namespaces stayed in `/run/netns` and their
//! daemons ran until their `timeout` lifetime ended. So every namespace
//! and daemon supervisor is registered here while it lives, and the first
//! of those signals tears them all down before the process exits.
//!
//! A program that ends its own runs between steps on such a signal, and
//! whose labs then drop as usual, asks for that instead
//! ([`stop_gracefully`]); a second signal tears down and exits all the
//! same.
//!
//! SIGKILL can be caught by nothing: daemons still end with their
//! lifetime ([`crate::daemon`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// What the process's labs hold now.
struct Live {
    namespaces: BTreeSet<String>,
    /// The daemons' `timeout` supervisors: children of this process, so
    /// their PIDs cannot be reused before they are reaped (unregistered
    /// first).
    supervisors: BTreeSet<i32>,
    /// What neither a namespace nor a supervisor holds, stopped first: a
    /// cluster node's pods and containerd shims, which leave every process
    /// tree the lab started (the shims daemonize; the pods are theirs).
    teardowns: BTreeMap<u64, Teardown>,
    next_teardown: u64,
}

type Teardown = Box<dyn Fn() + Send>;

static LIVE: Mutex<Live> = Mutex::new(Live {
    namespaces: BTreeSet::new(),
    supervisors: BTreeSet::new(),
    teardowns: BTreeMap::new(),
    next_teardown: 0,
});

/// Set once the signals are watched.
static WATCHING: OnceLock<bool> = OnceLock::new();

/// Set by [`stop_gracefully`]: the first signal raises this flag instead.
static GRACEFUL: OnceLock<&'static AtomicBool> = OnceLock::new();

fn live() -> MutexGuard<'static, Live> {
    // Two plain sets: a thread that panicked holding them left them whole.
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn namespace_created(name: &str) {
    watch();
    live().namespaces.insert(name.to_string());
}

pub(crate) fn namespace_deleted(name: &str) {
    live().namespaces.remove(name);
}

pub(crate) fn supervisor_started(pid: Pid) {
    watch();
    live().supervisors.insert(pid.as_raw());
}

/// Runs `teardown` on a signal, before the supervisors and namespaces go;
/// returns its key for [`teardown_done`].
pub(crate) fn teardown_added(teardown: impl Fn() + Send + 'static) -> u64 {
    watch();
    let mut live = live();
    live.next_teardown += 1;
    let key = live.next_teardown;
    live.teardowns.insert(key, Box::new(teardown));
    key
}

/// The owner tears it down itself (before it does, so that a signal
/// meanwhile does not run it twice).
pub(crate) fn teardown_done(key: u64) {
    live().teardowns.remove(&key);
}

/// Called once the supervisor is reaped, or before the caller stops and
/// reaps it itself (a signal meanwhile then spares that daemon, which is
/// being stopped anyway).
pub(crate) fn supervisor_done(pid: Pid) {
    live().supervisors.remove(&pid.as_raw());
}

/// Whether the signals are watched (false if the handler could not be
/// installed: the process then dies as before, leaving its labs).
pub fn watching() -> bool {
    watch()
}

/// For a program that checks `stop` between steps and ends its run, its
/// labs dropping as usual: the first signal raises `stop` instead of
/// tearing everything down at once; a second one does that.
pub fn stop_gracefully(stop: &'static AtomicBool) -> bool {
    let _ = GRACEFUL.set(stop);
    watch()
}

/// Installs the handler on first use, and returns once it is in place: a
/// signal from then on finds it.
fn watch() -> bool {
    *WATCHING.get_or_init(|| {
        let (installed, ready) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("lab-signals".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build();
                let Ok(runtime) = runtime else {
                    let _ = installed.send(false);
                    return;
                };
                runtime.block_on(async move {
                    use tokio::signal::unix::{SignalKind, signal};
                    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
                        signal(SignalKind::terminate()),
                        signal(SignalKind::interrupt()),
                        signal(SignalKind::hangup()),
                    ) else {
                        let _ = installed.send(false);
                        return;
                    };
                    let _ = installed.send(true);
                    // Read at each signal: the program may ask for a
                    // graceful stop after a lab started the watch.
                    let mut asked = false;
                    let signal = loop {
                        let signal = tokio::select! {
                            _ = term.recv() => Signal::SIGTERM,
                            _ = int.recv() => Signal::SIGINT,
                            _ = hup.recv() => Signal::SIGHUP,
                        };
                        match GRACEFUL.get() {
                            Some(stop) if !asked => {
                                eprintln!("{signal}: stopping after this step (again to stop at once)");
                                stop.store(true, Ordering::SeqCst);
                                asked = true;
                            }
                            _ => break signal,
                        }
                    };
                    let (namespaces, daemons) = teardown();
                    eprintln!(
                        "{signal}: tore down {namespaces} lab namespaces and stopped {daemons} daemons"
                    );
                    // The shell's convention for "ended by this signal".
                    std::process::exit(128 + signal as i32);
                });
            });
        spawned.is_ok() && ready.recv().unwrap_or(false)
    })
}

/// Runs the registered teardowns, tells every daemon to stop and deletes
/// every namespace; returns how many namespaces and daemons. Nothing waits: `timeout` passes the SIGTERM on to its
/// daemon's process group (with a SIGCONT for a frozen one) and kills it
/// 5 s later if it is still there, and a namespace deleted with processes
/// inside goes when they do.
fn teardown() -> (usize, usize) {
    let live = live();
    for teardown in live.teardowns.values() {
        teardown();
    }
    for pid in &live.supervisors {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
    }
    for name in &live.namespaces {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", name])
            .status();
    }
    (live.namespaces.len(), live.supervisors.len())
}
