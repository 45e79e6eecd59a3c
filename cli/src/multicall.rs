//! One binary behind three names: the container image ships `ferrolb` once
//! and links `ferrolb-controller` and `ferrolb-speaker` to it (as busybox
//! does), so the three programs share one copy of their common code.
//! Linked as `kubectl-ferrolb` on the `PATH`, it is the kubectl plugin.

use std::ffi::OsStr;
use std::path::Path;

/// The program a process runs, chosen by the name it was started under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// The `ferrolb` command for humans (validate, run).
    Ferrolb,
    /// `ferrolb-controller`: the Kubernetes controller.
    Controller,
    /// `ferrolb-speaker`: the Kubernetes speaker.
    Speaker,
    /// `kubectl-ferrolb`: the `ferrolb` command run by kubectl as a plugin
    /// (`kubectl ferrolb status`).
    KubectlPlugin,
}

impl Program {
    /// The program for argv[0]: its file name, whatever directory it was
    /// started from. Any other name (a renamed copy, no argv[0] at all)
    /// is the `ferrolb` command, so the binary never refuses to start.
    pub fn invoked_as(argv0: Option<&OsStr>) -> Self {
        match argv0.and_then(|a| Path::new(a).file_name()) {
            Some(name) if name == "ferrolb-controller" => Program::Controller,
            Some(name) if name == "ferrolb-speaker" => Program::Speaker,
            Some(name) if name == "kubectl-ferrolb" => Program::KubectlPlugin,
            _ => Program::Ferrolb,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(argv0: &str) -> Program {
        Program::invoked_as(Some(OsStr::new(argv0)))
    }

    #[test]
    fn the_file_name_chooses_the_program() {
        assert_eq!(program("ferrolb-controller"), Program::Controller);
        assert_eq!(
            program("/usr/local/bin/ferrolb-controller"),
            Program::Controller
        );
        assert_eq!(program("./ferrolb-speaker"), Program::Speaker);
        assert_eq!(program("/usr/local/bin/ferrolb-speaker"), Program::Speaker);
        assert_eq!(program("/usr/local/bin/ferrolb"), Program::Ferrolb);
        assert_eq!(
            program("/home/me/bin/kubectl-ferrolb"),
            Program::KubectlPlugin
        );
    }

    #[test]
    fn other_names_are_the_ferrolb_command() {
        // Only the exact file name counts: a directory named like a
        // program, a suffix or a prefix does not switch programs.
        assert_eq!(program("/ferrolb-speaker/ferrolb"), Program::Ferrolb);
        assert_eq!(program("ferrolb-speaker.old"), Program::Ferrolb);
        assert_eq!(program("my-ferrolb-controller"), Program::Ferrolb);
        assert_eq!(program(""), Program::Ferrolb);
        assert_eq!(Program::invoked_as(None), Program::Ferrolb);
    }
}
