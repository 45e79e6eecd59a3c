//! The disk the cluster's nodes live on. The kubelet evicts pods and
//! deletes images once the free space falls below its threshold: a cluster
//! started on a nearly full disk never schedules a pod, and a test then
//! fails with a bare "pod ready: timed out". Refuse to start instead, and
//! say why.

use std::path::Path;

use nix::sys::statvfs::statvfs;

use crate::error::{LabError, Result};

/// The kubelet's `evictionHard` for `nodefs.available` and
/// `imagefs.available`, in percent of the filesystem (node.rs writes it
/// into every kubelet's configuration).
pub const EVICTION_PERCENT: u64 = 1;

/// What a cluster writes on top of the threshold: every node's copy of the
/// images (FerroLB's, echo, pause: about 100 MB a node uncompressed),
/// containerd's and the kubelet's state, the daemons' logs.
pub const HEADROOM: u64 = 1 << 30;

/// The space of one filesystem, in bytes, as the kubelet counts it
/// (`statfs`: blocks available to unprivileged users).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    pub capacity: u64,
    pub available: u64,
}

impl Space {
    pub fn of(dir: &Path) -> Result<Space> {
        let s = statvfs(dir).map_err(|e| {
            LabError::io(
                format!("statvfs {}", dir.display()),
                std::io::Error::from(e),
            )
        })?;
        let block = s.fragment_size();
        Ok(Space {
            capacity: s.blocks().saturating_mul(block),
            available: s.blocks_available().saturating_mul(block),
        })
    }

    /// Below this the kubelet evicts.
    pub fn eviction_threshold(&self) -> u64 {
        self.capacity / 100 * EVICTION_PERCENT
    }

    /// Whether a cluster fits: the threshold plus [`HEADROOM`] free.
    pub fn check(&self, dir: &Path) -> Result<()> {
        let needed = self.eviction_threshold() + HEADROOM;
        if self.available >= needed {
            return Ok(());
        }
        Err(LabError::Invalid(format!(
            "the disk holding {} has {} free; a cluster needs {} \
             (the kubelet evicts pods and deletes images below {}, \
             {EVICTION_PERCENT}% of {}, and the nodes' images and state \
             take about {} more): free some space, e.g. remove \
             target/debug/incremental",
            dir.display(),
            mib(self.available),
            mib(needed),
            mib(self.eviction_threshold()),
            mib(self.capacity),
            mib(HEADROOM),
        )))
    }
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn a_disk_below_the_threshold_plus_headroom_is_refused_with_the_figures() {
        let dir = Path::new("/tmp/lab");
        let space = Space {
            capacity: 100 * GIB,
            available: GIB + GIB / 2,
        };
        let err = space.check(dir).unwrap_err().to_string();
        assert!(err.contains("1536 MiB free"), "{err}");
        assert!(err.contains("needs 2048 MiB"), "{err}");
        assert!(err.contains("below 1024 MiB"), "{err}");
        assert!(err.contains("/tmp/lab"), "{err}");
    }

    #[test]
    fn a_disk_with_room_is_accepted() {
        let space = Space {
            capacity: 100 * GIB,
            available: 2 * GIB,
        };
        assert!(space.check(Path::new("/tmp/lab")).is_ok());
    }

    #[test]
    fn the_space_of_a_real_directory_is_read() {
        let space = Space::of(Path::new("/")).unwrap();
        assert!(space.capacity > 0 && space.available <= space.capacity);
    }
}
