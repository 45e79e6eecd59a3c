//! The binaries' allocator, and giving freed memory back to the system
//! after a burst of work.
//!
//! Decoding a watch list or the standalone files allocates far more than
//! the speaker keeps (JSON and YAML trees, the API's full objects before
//! they are slimmed). With glibc's allocator what was kept ended up
//! spread over the heap the burst had grown: `malloc_trim` can only give
//! back wholly free pages, and at 10,000 Services 20 MiB of the resident
//! size was free memory in pages that also held something live
//! (docs/benchmarks.md). jemalloc keeps objects of one size together, so
//! the pages a burst used come free as a whole; [`Allocator`] is the
//! global allocator of every FerroLB binary.
//!
//! A purge costs a walk of the free extents and an `madvise` per run of
//! pages, and pages given back fault in again when reused, so the shells
//! purge at most once per [`TRIM_EVERY`], after the work has settled.

/// The global allocator of the FerroLB binaries: each `main.rs` declares
/// `#[global_allocator] static ALLOCATOR: Allocator = Allocator;`.
pub use tikv_jemallocator::Jemalloc as Allocator;

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

/// Returns the allocator's unused pages to the system, from every arena.
/// Where [`Allocator`] is not the global allocator (test binaries) it
/// purges an allocator nothing uses, which costs nothing.
pub fn release_free_memory() {
    let status = control(PURGE_ALL);
    if status != 0 {
        tracing::debug!(status, "jemalloc refused to purge its arenas");
    }
}

/// `arena.<MALLCTL_ARENAS_ALL>.purge`: the name jemalloc's manual gives,
/// with the index that means every arena.
const PURGE_ALL: &std::ffi::CStr = c"arena.4096.purge";

/// Runs the jemalloc control `name`, one that reads and writes no value;
/// jemalloc's status (0: done).
fn control(name: &std::ffi::CStr) -> std::ffi::c_int {
    // SAFETY: the name is NUL-terminated, and a control without a value
    // takes null pointers and a zero length, as jemalloc requires.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The purge is a control jemalloc knows: a misspelt name or a wrong
    /// arena index would make it a silent no-op in production.
    #[test]
    fn the_purge_control_is_accepted() {
        let held: Vec<Vec<u8>> = (0..1024).map(|i| vec![i as u8; 4096]).collect();
        drop(held);
        assert_eq!(control(PURGE_ALL), 0, "{PURGE_ALL:?}");
        assert_ne!(
            control(c"arena.4096.purj"),
            0,
            "an unknown control is refused"
        );
    }
}
