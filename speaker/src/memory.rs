//! Giving freed memory back to the system after a burst of work.
//!
//! Decoding a watch list or the standalone files allocates far more than
//! the speaker keeps (JSON and YAML trees, the API's full objects before
//! they are slimmed). glibc's allocator keeps what was freed in its arenas
//! (one per thread that allocated), so without this the resident size
//! stays at the burst's peak for the life of the process: at 10,000
//! Services that peak was most of `ferrolb run`'s RSS (docs/benchmarks.md).
//! `malloc_trim` returns every wholly free page of every arena.
//!
//! A trim costs a walk of the free lists and an `madvise` per free run of
//! pages, and pages given back fault in again when reused, so the shells
//! trim at most once per [`TRIM_EVERY`], after the work has settled.

use std::time::Duration;

use tokio::time::Instant;

/// The shortest time between two trims.
pub const TRIM_EVERY: Duration = Duration::from_secs(1);

/// When to trim next: armed by work, fired once it is due.
#[derive(Debug, Default)]
pub struct Trim {
    due: Option<Instant>,
}

impl Trim {
    /// Some work freed memory: trim within [`TRIM_EVERY`] (a later call
    /// before then does not postpone it).
    pub fn after_work(&mut self) {
        if self.due.is_none() {
            self.due = Some(Instant::now() + TRIM_EVERY);
        }
    }

    /// When the next trim is due, for a `select!` timer.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// Trims now (call when [`Trim::due`] has passed).
    pub fn run(&mut self) {
        self.due = None;
        release_free_memory();
    }
}

/// Returns the allocator's free pages to the system. A no-op where the C
/// library is not glibc.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc_trim();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn glibc_trim() {
    // SAFETY: malloc_trim only inspects and releases the allocator's own
    // free chunks; glibc allows it from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
