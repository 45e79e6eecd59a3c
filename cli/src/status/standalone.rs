//! Reading a standalone `ferrolb run` (docs/adr/0009): `GET /v1/objects`
//! on its Unix socket gives the objects a cluster would hold, read into the
//! same [`Objects`] as the cluster reader fills.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::objects::Objects;

/// How long the whole exchange may take.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    #[error(
        "cannot reach ferrolb run on {path}: {source} (is it started with --status-socket {path}?)"
    )]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no answer from ferrolb run on {0} within 10 s")]
    Timeout(PathBuf),
    #[error("unexpected answer from ferrolb run on {path}: {what}")]
    Answer { path: PathBuf, what: String },
}

pub async fn read(path: &Path) -> Result<Objects, StandaloneError> {
    let exchange = async {
        let mut stream = UnixStream::connect(path).await?;
        stream
            .write_all(b"GET /v1/objects HTTP/1.1\r\nHost: ferrolb\r\nConnection: close\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| StandaloneError::Timeout(path.to_path_buf()))?
        .map_err(|source| StandaloneError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
    let bad = |what: String| StandaloneError::Answer {
        path: path.to_path_buf(),
        what,
    };
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no HTTP header".into()))?;
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        return Err(bad(status.to_string()));
    }
    let list: serde_json::Value =
        serde_json::from_str(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    Objects::from_items(items).map_err(bad)
}
