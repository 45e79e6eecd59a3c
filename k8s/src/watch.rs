//! One watch stream per kind, retried with backoff, merged by the caller.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use kube::runtime::utils::{Backoff, StreamBackoff};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tracing::warn;

/// How long the API server keeps one watch request open before ending it
/// (the watcher then watches again from where it was, without a relist).
/// The watcher takes a watch that delivers nothing for this long plus 5 s
/// for dead and starts a new one. With kube's default (290 s), a watch
/// whose connection stalled (a node cut off from the API server for a
/// while: the server's unacknowledged events back off in TCP
/// retransmission, and arrive minutes after the link is back) went
/// unnoticed for up to five minutes, and a Service created meanwhile was
/// not seen: the controller left it without an address. One request a
/// minute per watch is what this costs the API server.
pub const WATCH_TIMEOUT_SECS: u32 = 60;

/// Watches `api` with `config` and wraps every event with `wrap`. Errors are
/// retried with backoff by the watcher and logged, never ending the stream.
pub fn watch<K, I>(
    api: Api<K>,
    config: watcher::Config,
    wrap: impl Fn(Event<K>) -> I + Send + 'static,
) -> BoxStream<'static, I>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
    I: Send + 'static,
{
    let kind = K::kind(&K::DynamicType::default()).to_string();
    watch_kind(api, config, kind, move |e| Some(wrap(e)))
}

/// [`watch`] for kinds known only at run time (dynamic objects), named
/// `kind` in logs; events `wrap` maps to `None` are dropped.
pub fn watch_kind<K, I>(
    api: Api<K>,
    config: watcher::Config,
    kind: String,
    wrap: impl Fn(Event<K>) -> Option<I> + Send + 'static,
) -> BoxStream<'static, I>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    I: Send + 'static,
{
    with_backoff(watcher::watcher(api, config.timeout(WATCH_TIMEOUT_SECS)))
        .filter_map(move |r| {
            let out = match r {
                Ok(e) => wrap(e),
                Err(e) => {
                    // RBAC errors land here too, so they must be visible.
                    warn!(kind = %kind, error = %e, "watch failed; retrying");
                    None
                }
            };
            std::future::ready(out)
        })
        .boxed()
}

/// Paces the retries of one watch stream after errors: kube's default
/// backoff (0.8 s doubling to 30 s, jittered, forgotten after two quiet
/// minutes), except that a watch the server ended with 410 Gone relists at
/// once. That is what follows every API server restart (the new server's
/// watch cache no longer has the resourceVersion each watch resumes from):
/// the server answered, so it is up, and a relist is what it asks for;
/// backing off there added up to a minute before a restarted API server's
/// changes were seen. A second 410 in a row backs off as usual, so a
/// server that keeps expiring relists is not hammered.
fn with_backoff<K, S>(stream: S) -> impl futures::Stream<Item = Result<Event<K>, watcher::Error>>
where
    S: futures::Stream<Item = Result<Event<K>, watcher::Error>>,
{
    let expired = Arc::new(AtomicBool::new(false));
    let seen = expired.clone();
    // The flag is set while the error passes, before the backoff asks for
    // its delay.
    let stream = stream.inspect(move |r| {
        if let Err(watcher::Error::WatchError(status)) = r
            && status.code == 410
        {
            seen.store(true, Ordering::Release);
        }
    });
    StreamBackoff::new(
        stream,
        RelistAtOnce {
            inner: watcher::DefaultBackoff::default(),
            expired,
            relisted: false,
        },
    )
}

/// [`with_backoff`]'s policy.
struct RelistAtOnce {
    inner: watcher::DefaultBackoff,
    /// The last error was a 410.
    expired: Arc<AtomicBool>,
    /// The last delay was skipped for a 410.
    relisted: bool,
}

impl Iterator for RelistAtOnce {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let expired = self.expired.swap(false, Ordering::AcqRel);
        if expired && !self.relisted {
            self.relisted = true;
            return Some(Duration::ZERO);
        }
        self.relisted = false;
        self.inner.next()
    }
}

impl Backoff for RelistAtOnce {
    fn reset(&mut self) {
        self.relisted = false;
        self.inner.reset();
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::core::Status;

    use super::*;

    fn gone() -> Result<Event<ConfigMap>, watcher::Error> {
        let status = Status::failure("too old resource version: 303 (554)", "Expired");
        Err(watcher::Error::WatchError(status.with_code(410).boxed()))
    }

    fn refused() -> Result<Event<ConfigMap>, watcher::Error> {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        Err(watcher::Error::WatchFailed(kube::Error::ReadEvents(io)))
    }

    /// How long (in the test's paused time) the stream takes to give its
    /// next item.
    async fn wait_for_next<S: futures::Stream + Unpin>(s: &mut S) -> Duration {
        let start = tokio::time::Instant::now();
        assert!(s.next().await.is_some());
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_watch_the_server_expired_relists_at_once() {
        // After an API server restart every watch resumes from a
        // resourceVersion the new server no longer has: it answers 410 and
        // the watcher must list again. The server is up: no backoff.
        let mut s = std::pin::pin!(with_backoff(futures::stream::iter([
            gone(),
            Ok(Event::Init)
        ])));
        assert!(s.next().await.is_some_and(|r| r.is_err()));
        assert_eq!(wait_for_next(&mut s).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_and_repeated_expiries_back_off() {
        let mut s = std::pin::pin!(with_backoff(futures::stream::iter([
            refused(),
            Ok(Event::Init)
        ])));
        assert!(s.next().await.is_some_and(|r| r.is_err()));
        assert!(wait_for_next(&mut s).await >= Duration::from_millis(800));

        // A server that keeps expiring the relist is not asked again at once.
        let mut s = std::pin::pin!(with_backoff(futures::stream::iter([
            gone(),
            gone(),
            Ok(Event::Init)
        ])));
        assert!(s.next().await.is_some_and(|r| r.is_err()));
        assert_eq!(wait_for_next(&mut s).await, Duration::ZERO);
        assert!(wait_for_next(&mut s).await >= Duration::from_millis(800));
    }
}
