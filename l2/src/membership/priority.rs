//! The scheduling priority of the membership's own thread. Under CPU
//! starvation (busy loops on every core) a thread of normal priority may
//! wait tens of milliseconds for a core, longer than the silence that
//! makes its peers suspect it; a real-time thread runs as soon as it is
//! woken. The work it does is small and bounded (a few datagrams per
//! heartbeat), so it cannot starve the node in turn, and the kernel's
//! real-time throttling (`sched_rt_runtime_us`) caps it anyway.

/// What the membership thread asks for (`--ml-thread-priority`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ThreadPriority {
    /// The highest the process may take: real-time (`SCHED_FIFO`,
    /// priority [`REALTIME`]) with CAP_SYS_NICE, else a raised nice value
    /// ([`NICE`]), else none; the log says which.
    #[default]
    Auto,
    /// The process's own priority, as every other thread.
    Normal,
}

/// The `SCHED_FIFO` priority taken: low among real-time ones (1-99), above
/// every normal thread.
pub const REALTIME: i32 = 10;
/// The nice value taken when real-time is not permitted.
pub const NICE: i32 = -10;

/// What the thread got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granted {
    Realtime(i32),
    Nice(i32),
    Unchanged,
}

impl std::fmt::Display for Granted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Granted::Realtime(p) => write!(f, "real-time (SCHED_FIFO {p})"),
            Granted::Nice(n) => write!(f, "nice {n}"),
            Granted::Unchanged => f.write_str("unchanged"),
        }
    }
}

/// Raises the calling thread's priority as `wanted` says, as far as the
/// process may.
pub fn raise_this_thread(wanted: ThreadPriority) -> Granted {
    if wanted == ThreadPriority::Normal {
        return Granted::Unchanged;
    }
    let param = libc::sched_param {
        sched_priority: REALTIME,
    };
    // SAFETY: plain system calls on the calling thread (pid/tid 0 and
    // gettid name it), with a parameter that lives across the call.
    unsafe {
        if libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param) == 0 {
            return Granted::Realtime(REALTIME);
        }
        let tid = libc::gettid();
        if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE) == 0 {
            return Granted::Nice(NICE);
        }
    }
    Granted::Unchanged
}
