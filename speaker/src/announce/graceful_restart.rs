//! Graceful restart with this speaker as the restarting side (RFC 4724):
//! the options both `ferrolb-speaker` and `ferrolb run` take, and the
//! restart marker, the file that tells a starting speaker that its previous
//! life left routes at the routers (docs/adr/0007).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use ferrolb_bgp::peer::GracefulRestartConfig;
use tracing::{info, warn};

/// Where the marker lives unless `--graceful-restart-state` says otherwise:
/// /run is a tmpfs, so a node reboot (which did not keep forwarding
/// either) clears it.
pub const DEFAULT_STATE_FILE: &str = "/run/ferrolb/speaker-restart";

/// Graceful restart's command-line options.
#[derive(Debug, Clone, Args)]
pub struct GracefulRestartArgs {
    /// Restart time advertised to BGPPeers with enableGracefulRestart: how
    /// long routers keep this node's routes after its sessions drop, until
    /// the speaker is back (at most 4095s).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "120s",
        value_parser = parse_restart_time
    )]
    pub graceful_restart_time: Duration,
    /// On SIGTERM, keep the routes at routers that negotiated graceful
    /// restart (a planned restart, e.g. an upgrade): close those sessions
    /// without NOTIFICATION instead of withdrawing. Without it, SIGTERM
    /// withdraws everything at once.
    #[arg(long, env = "FERROLB_GRACEFUL_RESTART_ON_SHUTDOWN")]
    pub graceful_restart_on_shutdown: bool,
    /// The restart marker: present when the speaker starts, it means the
    /// previous speaker on this node left routes behind (it was killed, or
    /// stopped for a restart), so OPENs carry the Restart State bit. Must
    /// outlive the process, not the node ("off": never claim a restart).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE_FILE)]
    pub graceful_restart_state: String,
}

/// Graceful restart as this process runs it.
#[derive(Debug, Clone)]
pub struct GracefulRestartSettings {
    /// What sessions with enableGracefulRestart advertise.
    pub session: GracefulRestartConfig,
    /// SIGTERM keeps the routes where graceful restart was negotiated.
    pub on_shutdown: bool,
    /// The restart marker, if kept.
    pub marker: Option<PathBuf>,
}

impl Default for GracefulRestartSettings {
    /// The defaults, with no marker: never a restart.
    fn default() -> Self {
        GracefulRestartSettings {
            session: GracefulRestartConfig {
                restart_time: GracefulRestartConfig::DEFAULT_RESTART_TIME,
                restarted_at: None,
            },
            on_shutdown: false,
            marker: None,
        }
    }
}

impl GracefulRestartArgs {
    /// Reads and sets the restart marker: call once, when the process starts.
    pub fn resolve(&self) -> GracefulRestartSettings {
        let marker = (self.graceful_restart_state != "off")
            .then(|| PathBuf::from(&self.graceful_restart_state));
        let restarted = marker.as_deref().is_some_and(mark_start);
        // The parser bounds it to 12 bits.
        let restart_time = u16::try_from(self.graceful_restart_time.as_secs())
            .unwrap_or(GracefulRestartConfig::MAX_RESTART_TIME);
        GracefulRestartSettings {
            session: GracefulRestartConfig {
                restart_time,
                restarted_at: restarted.then(Instant::now),
            },
            on_shutdown: self.graceful_restart_on_shutdown,
            marker,
        }
    }
}

impl GracefulRestartSettings {
    /// The speaker stopped and withdrew everything: the next start is a
    /// first start, routers keep nothing of ours.
    pub fn clear_marker(&self) {
        if let Some(path) = &self.marker
            && let Err(e) = std::fs::remove_file(path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            warn!(path = %path.display(), error = %e, "cannot remove the graceful restart marker; the next start will claim a restart");
        }
    }
}

/// Whether the marker was there (a restart), leaving it there for the next
/// start. A marker that cannot be read or written only costs the Restart
/// State bit, which routers use to stop waiting for our End-of-RIB.
fn mark_start(path: &Path) -> bool {
    let restarted = path.exists();
    if restarted {
        info!(marker = %path.display(), "restarted: routers may still hold this node's routes (graceful restart)");
    }
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(path, format!("pid {}\n", std::process::id())));
    if let Err(e) = written {
        warn!(marker = %path.display(), error = %e, "cannot write the graceful restart marker: a restart of this speaker will not be announced as one");
    }
    restarted
}

fn parse_restart_time(s: &str) -> Result<Duration, String> {
    let d = ferrolb_crds::duration::parse_go_duration(s).map_err(|e| e.to_string())?;
    let max = u64::from(GracefulRestartConfig::MAX_RESTART_TIME);
    if d.as_secs() == 0 || d.as_secs() > max {
        return Err(format!("between 1s and {max}s (12 bits in the capability)"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(state: &Path) -> GracefulRestartArgs {
        GracefulRestartArgs {
            graceful_restart_time: Duration::from_secs(30),
            graceful_restart_on_shutdown: true,
            graceful_restart_state: state.display().to_string(),
        }
    }

    #[test]
    fn the_marker_tells_a_restart_from_a_first_start() {
        let dir = std::env::temp_dir().join(format!("ferrolb-gr-{}", std::process::id()));
        let marker = dir.join("nested").join("speaker-restart");
        let _ = std::fs::remove_dir_all(&dir);

        let first = args(&marker).resolve();
        assert_eq!(first.session.restarted_at, None, "nothing before");
        assert_eq!(first.session.restart_time, 30);
        assert!(first.on_shutdown);
        assert!(marker.exists(), "left for the next start");

        let second = args(&marker).resolve();
        assert!(second.session.restarted_at.is_some(), "killed: a restart");

        second.clear_marker();
        assert!(!marker.exists());
        let third = args(&marker).resolve();
        assert_eq!(
            third.session.restarted_at, None,
            "after a stop that withdrew"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn off_keeps_no_marker() {
        let mut a = args(Path::new("/nonexistent"));
        a.graceful_restart_state = "off".into();
        let s = a.resolve();
        assert_eq!(s.marker, None);
        assert_eq!(s.session.restarted_at, None);
        s.clear_marker();
    }

    #[test]
    fn the_restart_time_fits_twelve_bits() {
        assert_eq!(parse_restart_time("120s"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_restart_time("4095s"), Ok(Duration::from_secs(4095)));
        assert!(parse_restart_time("4096s").is_err());
        assert!(parse_restart_time("0s").is_err());
        assert!(parse_restart_time("soon").is_err());
    }
}
