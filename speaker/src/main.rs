//! `ferrolb-speaker` on its own; the container image runs the same code
//! through the multi-call `ferrolb` binary (see `ferrolb_speaker::command`).

#[global_allocator]
static ALLOCATOR: ferrolb_speaker::memory::Allocator = ferrolb_speaker::memory::Allocator;

fn main() -> std::process::ExitCode {
    ferrolb_speaker::command::main()
}
