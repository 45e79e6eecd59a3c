//! `ferrolb-controller` on its own; the container image runs the same code
//! through the multi-call `ferrolb` binary (see `ferrolb_controller::command`).

fn main() -> std::process::ExitCode {
    ferrolb_controller::command::main()
}
