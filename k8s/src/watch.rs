//! One watch stream per kind, retried with backoff, merged by the caller.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use kube::runtime::utils::Backoff as _;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

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
    let stream = watcher::watcher(api, config.timeout(WATCH_TIMEOUT_SECS));
    with_backoff(stream, Recovery::process())
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

/// Recoveries of a process's watch streams. A stream whose request
/// succeeds after failing tells the others, and those backing off retry at
/// once: they all talk to the same API server, which is back. Without it,
/// each stream waited out its own delay, grown during an outage to up to
/// 30 s (jittered to twice that), and a Service created after the API
/// server came back was announced up to a minute later.
#[derive(Debug, Clone)]
struct Recovery(Arc<tokio::sync::watch::Sender<u64>>);

impl Recovery {
    /// Recoveries of streams given this value, apart from every other.
    fn new() -> Self {
        Recovery(Arc::new(tokio::sync::watch::Sender::new(0)))
    }

    /// The process's: every stream [`watch`] makes shares it.
    fn process() -> Self {
        static PROCESS: std::sync::LazyLock<Recovery> = std::sync::LazyLock::new(Recovery::new);
        PROCESS.clone()
    }

    fn recovered(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Paces the retries of one watch stream after errors: kube's default
/// backoff (0.8 s doubling to 30 s, jittered, forgotten after two quiet
/// minutes), except that
/// - a watch the server ended with 410 Gone relists at once. That is what
///   follows every API server restart (the new server's watch cache no
///   longer has the resourceVersion each watch resumes from): the server
///   answered, so it is up, and a relist is what it asks for; backing off
///   there added up to a minute before a restarted API server's changes
///   were seen. A second 410 in a row backs off as usual, so a server that
///   keeps expiring relists is not hammered;
/// - a stream backing off retries at once when another stream of
///   `recovery` succeeds after failing ([`Recovery`]). Only a recovery
///   wakes, not every event, and a retry that fails again backs off twice
///   as long as before: a stream the server keeps refusing (RBAC, say)
///   retries once more per recovery of another, never in a loop;
/// - only what the server sent is a success (resets the delay, is a
///   recovery): not the `Init` the watcher gives before each list.
fn with_backoff<K, S>(
    stream: S,
    recovery: Recovery,
) -> impl futures::Stream<Item = Result<Event<K>, watcher::Error>>
where
    S: futures::Stream<Item = Result<Event<K>, watcher::Error>>,
{
    let woken = recovery.0.subscribe();
    let state = Backoff {
        stream: Box::pin(stream),
        policy: RelistAtOnce {
            inner: watcher::DefaultBackoff::default(),
            relisted: false,
        },
        recovery,
        woken,
        wait: None,
        failing: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        match st.wait.take() {
            Some(Wait::Until(deadline)) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    Ok(()) = st.woken.changed() => {
                        debug!("another watch stream recovered: retrying now");
                    }
                }
            }
            Some(Wait::GivenUp) => return None,
            None => {}
        }
        let item = st.stream.next().await?;
        match &item {
            Err(e) => {
                let expired = matches!(e, watcher::Error::WatchError(s) if s.code == 410);
                st.wait = Some(st.policy.delay(expired).map_or(Wait::GivenUp, |d| {
                    Wait::Until(tokio::time::Instant::now() + d)
                }));
                // Only a recovery after this failure is news.
                st.woken.mark_unchanged();
                st.failing = true;
            }
            // The watcher's own Init, before it lists: nothing from the
            // server yet. (kube's StreamBackoff reset its delay on it, so
            // a stream whose lists failed retried every second or so for
            // a whole outage.)
            Ok(Event::Init) => {}
            Ok(_) => {
                st.policy.reset();
                if std::mem::take(&mut st.failing) {
                    st.recovery.recovered();
                }
            }
        }
        Some((item, st))
    })
}

/// [`with_backoff`]'s state.
struct Backoff<S> {
    stream: std::pin::Pin<Box<S>>,
    policy: RelistAtOnce,
    recovery: Recovery,
    woken: tokio::sync::watch::Receiver<u64>,
    /// Before polling the stream again, after an error.
    wait: Option<Wait>,
    /// The last item was an error.
    failing: bool,
}

enum Wait {
    Until(tokio::time::Instant),
    GivenUp,
}

/// [`with_backoff`]'s delays.
struct RelistAtOnce {
    inner: watcher::DefaultBackoff,
    /// The last delay was skipped for a 410.
    relisted: bool,
}

impl RelistAtOnce {
    /// The delay after an error (`expired`: a 410); `None`: give up.
    fn delay(&mut self, expired: bool) -> Option<Duration> {
        if expired && !self.relisted {
            self.relisted = true;
            return Some(Duration::ZERO);
        }
        self.relisted = false;
        self.inner.next()
    }

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

    fn gone() -> Item {
        let status = Status::failure("too old resource version: 303 (554)", "Expired");
        Err(watcher::Error::WatchError(status.with_code(410).boxed()))
    }

    fn refused() -> Item {
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
        let mut s = std::pin::pin!(with_backoff(
            futures::stream::iter([gone(), Ok(Event::Init)]),
            Recovery::new()
        ));
        assert!(s.next().await.is_some_and(|r| r.is_err()));
        assert_eq!(wait_for_next(&mut s).await, Duration::ZERO);
    }

    type Item = Result<Event<ConfigMap>, watcher::Error>;

    /// A stream the test feeds, item by item.
    fn fed() -> (
        futures::channel::mpsc::UnboundedSender<Item>,
        futures::channel::mpsc::UnboundedReceiver<Item>,
    ) {
        futures::channel::mpsc::unbounded()
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_recovers_wakes_the_others_backing_off() {
        let recovery = Recovery::new();
        // `a` fails four times: its next retry is 6.4 s away, or more.
        let (a_in, a_out) = fed();
        let mut a = std::pin::pin!(with_backoff(a_out, recovery.clone()));
        for _ in 0..4 {
            a_in.unbounded_send(refused()).unwrap();
            assert!(wait_for_next(&mut a).await < Duration::from_secs(7));
        }
        let fourth = tokio::time::Instant::now();
        // `b` fails, and its watcher starts a list (Init): no answer from
        // the server yet, so no recovery. `a` waits its delay out, is
        // refused a fifth time (12.8 s or more next).
        let (b_in, b_out) = fed();
        let mut b = std::pin::pin!(with_backoff(b_out, recovery.clone()));
        b_in.unbounded_send(refused()).unwrap();
        b.next().await;
        b_in.unbounded_send(Ok(Event::Init)).unwrap();
        b.next().await;
        a_in.unbounded_send(refused()).unwrap();
        a.next().await;
        assert!(fourth.elapsed() >= Duration::from_millis(6400));

        // `b`'s list is answered: a recovery. `a` retries at once; refused
        // again, it waits longer still.
        b_in.unbounded_send(Ok(Event::InitDone)).unwrap();
        b.next().await;
        a_in.unbounded_send(refused()).unwrap();
        assert_eq!(wait_for_next(&mut a).await, Duration::ZERO);
        a_in.unbounded_send(Ok(Event::InitDone)).unwrap();
        assert!(wait_for_next(&mut a).await >= Duration::from_millis(25600));

        // A recovery before a failure does not cut the wait after it.
        b_in.unbounded_send(refused()).unwrap();
        b.next().await;
        b_in.unbounded_send(Ok(Event::InitDone)).unwrap();
        b.next().await;
        a_in.unbounded_send(refused()).unwrap();
        a.next().await;
        a_in.unbounded_send(Ok(Event::InitDone)).unwrap();
        assert!(wait_for_next(&mut a).await >= Duration::from_millis(800));
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchers_own_init_is_no_success() {
        // Each list after an error starts with the watcher's Init; the
        // list failing again must wait longer, not start over at 0.8 s.
        let mut s = std::pin::pin!(with_backoff(
            futures::stream::iter([refused(), Ok(Event::Init), refused(), Ok(Event::InitDone)]),
            Recovery::new()
        ));
        assert!(s.next().await.is_some_and(|r| r.is_err()));
        wait_for_next(&mut s).await;
        assert!(s.next().await.is_some_and(|r| r.is_err()));
        assert!(wait_for_next(&mut s).await >= Duration::from_millis(1600));
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_and_repeated_expiries_back_off() {
        let mut s = std::pin::pin!(with_backoff(
            futures::stream::iter([refused(), Ok(Event::Init)]),
            Recovery::new()
        ));
        assert!(s.next().await.is_some_and(|r| r.is_err()));
        assert!(wait_for_next(&mut s).await >= Duration::from_millis(800));

        // A server that keeps expiring the relist is not asked again at once.
        let mut s = std::pin::pin!(with_backoff(
            futures::stream::iter([gone(), gone(), Ok(Event::Init)]),
            Recovery::new()
        ));
        assert!(s.next().await.is_some_and(|r| r.is_err()));
        assert_eq!(wait_for_next(&mut s).await, Duration::ZERO);
        assert!(wait_for_next(&mut s).await >= Duration::from_millis(800));
    }
}
