//! `ferrolb-controller` on its own; the container image runs the same code
//! through the multi-call `ferrolb` binary (see `ferrolb_controller::command`).

/// The speaker's allocator (`ferrolb_speaker::memory`), which this crate
/// does not depend on: the multi-call `ferrolb` runs both the same way.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    ferrolb_controller::command::main()
}
