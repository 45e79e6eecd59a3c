//! Logging for every FerroLB program: text or JSON lines on stderr, and a
//! level that changes without a restart (docs/adr/0010-log-level-file.md):
//! with `--log-level-file`, the level is read from that file at start, on
//! SIGHUP and every [`POLL`], so a Kubernetes user edits a ConfigMap
//! mounted there and a host's user edits the file (and may send SIGHUP).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use clap::ValueEnum;
use tracing::{info, warn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

/// How often the level file is read again. A ConfigMap volume is updated by
/// swapping a symlink, which file notifications on the file itself miss;
/// reading a few bytes every few seconds cannot miss it.
pub const POLL: Duration = Duration::from_secs(5);

/// `--log-format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// The logging flags every FerroLB program takes.
#[derive(clap::Args, Clone, Debug)]
pub struct LogArgs {
    /// Log format: text lines, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter (tracing-subscriber EnvFilter syntax, or MetalLB's all,
    /// debug, info, warn, error, none); RUST_LOG wins over it.
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// A file holding the log level (as --log-level), which wins over
    /// RUST_LOG and --log-level and is read again on SIGHUP and every 5 s:
    /// the level changes without a restart.
    #[arg(long, value_name = "FILE")]
    pub log_level_file: Option<PathBuf>,
}

impl LogArgs {
    /// [`init_logging`] with these flags.
    pub fn init(&self) {
        init_logging(
            self.log_format,
            &self.log_level,
            self.log_level_file.as_deref(),
        );
    }
}

/// The running filter and where its level comes from, set once by
/// [`init_logging`] for [`watch_level_file`].
struct Reloadable {
    handle: reload::Handle<EnvFilter, Registry>,
    file: PathBuf,
}

static RELOADABLE: OnceLock<Reloadable> = OnceLock::new();

/// What a level file holds: an EnvFilter directive (`debug`,
/// `info,ferrolb_bgp=debug`); MetalLB's level names are accepted too.
pub fn parse_level(text: &str) -> Result<EnvFilter, String> {
    let level = match text.trim() {
        "all" => "trace",
        "none" => "off",
        "" => return Err("the file is empty".into()),
        other => other,
    };
    EnvFilter::try_new(level).map_err(|e| format!("{level:?} is not a log level: {e}"))
}

fn read_level(file: &Path) -> Result<(String, EnvFilter), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let filter = parse_level(&text)?;
    Ok((text.trim().to_string(), filter))
}

/// Logs to stderr in `format`. The filter is, first found: the level in
/// `level_file`, `RUST_LOG`, `level` (EnvFilter syntax).
pub fn init_logging(format: LogFormat, level: &str, level_file: Option<&Path>) {
    let fallback = || {
        EnvFilter::try_from_default_env()
            .or_else(|_| parse_level(level))
            .unwrap_or_else(|_| EnvFilter::new("info"))
    };
    let (filter, file_error) = match level_file.map(read_level) {
        Some(Ok((_, filter))) => (filter, None),
        Some(Err(e)) => (fallback(), Some(e)),
        None => (fallback(), None),
    };
    let (filter, handle) = reload::Layer::new(filter);
    // Colours only for people at a terminal, not in log files.
    let ansi = std::io::stderr().is_terminal();
    let output = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .init();
    if let Some(e) = file_error {
        warn!(error = %e, fallback = level, "log level file unusable; using --log-level until it is fixed");
    }
    if let Some(file) = level_file {
        let _ = RELOADABLE.set(Reloadable {
            handle,
            file: file.to_path_buf(),
        });
    }
}

/// With `--log-level-file`, a task that applies the file's level whenever
/// it changes (polled every [`POLL`], and at once on SIGHUP). Must run in
/// a tokio runtime; does nothing without a level file.
pub fn watch_level_file() {
    let Some(r) = RELOADABLE.get() else {
        return;
    };
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            warn!(error = %e, "cannot handle SIGHUP; the log level file is only polled");
            None
        }
    };
    tokio::spawn(async move {
        let mut applied = read_level(&r.file).ok().map(|(text, _)| text);
        let mut refused: Option<String> = None;
        loop {
            let signalled = async {
                match hangup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = signalled => info!(file = %r.file.display(), "SIGHUP: reading the log level"),
            }
            match read_level(&r.file) {
                Ok((text, filter)) if applied.as_deref() != Some(text.as_str()) => {
                    match r.handle.reload(filter) {
                        Ok(()) => {
                            // At warn: a line saying the level went to warn or
                            // info must not be filtered out by that very level.
                            warn!(level = %text, file = %r.file.display(), "log level changed");
                            applied = Some(text);
                            refused = None;
                        }
                        Err(e) => warn!(error = %e, "cannot change the log level"),
                    }
                }
                Ok(_) => refused = None,
                // Told once per distinct problem, not every poll.
                Err(e) if refused.as_deref() != Some(e.as_str()) => {
                    warn!(error = %e, file = %r.file.display(), "log level file unusable; keeping the current level");
                    refused = Some(e);
                }
                Err(_) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_env_filter_directives_or_metallb_names() {
        assert_eq!(
            parse_level("debug\n").map(|f| f.to_string()),
            Ok("debug".into())
        );
        assert_eq!(
            parse_level("all").map(|f| f.to_string()),
            Ok("trace".into())
        );
        assert_eq!(
            parse_level(" none ").map(|f| f.to_string()),
            Ok("off".into())
        );
        assert!(parse_level("info,ferrolb_bgp=debug").is_ok());
        assert!(parse_level("").is_err());
        assert!(parse_level("verbose=[").is_err());
    }
}
