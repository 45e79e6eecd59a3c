//! Prerequisites: the lab needs root and real daemons. When something is
//! missing it fails and names it; it never skips silently, because a skipped
//! interop test proves nothing.

use std::path::Path;

use crate::error::{LabError, Result};

/// Debian packages that provide everything the lab drives.
pub const PACKAGES: &str = "frr bird2 gobgpd exabgp iproute2 tcpdump arping keepalived";

/// Fails unless the process runs as root (namespaces need CAP_SYS_ADMIN).
pub fn require_root() -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(LabError::Missing {
            what: "root privileges".into(),
            hint: "the lab creates network namespaces: run the tests as root (sudo -E make test)"
                .into(),
        })
    }
}

/// Fails unless `program` is an executable file: an absolute path, or a name
/// found on `PATH`. `package` names the Debian package that provides it.
pub fn require_program(program: &str, package: &str) -> Result<()> {
    if find_program(program).is_some() {
        Ok(())
    } else {
        Err(LabError::Missing {
            what: format!("program `{program}`"),
            hint: format!("install the Debian package `{package}` (apt-get install {package})"),
        })
    }
}

fn find_program(program: &str) -> Option<std::path::PathBuf> {
    let is_executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = Path::new(program);
        return is_executable(p).then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_named_with_its_package() {
        let err = require_program("ferrolb-no-such-daemon", "ferrolb-pkg").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("ferrolb-no-such-daemon"), "{text}");
        assert!(text.contains("apt-get install ferrolb-pkg"), "{text}");
    }

    #[test]
    fn an_installed_program_is_found() {
        require_program("sh", "dash").unwrap();
        require_program("/bin/sh", "dash").unwrap();
    }
}
