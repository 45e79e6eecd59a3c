//! Bounded waits. Nothing in the lab waits for ever: a wait that times out
//! says what it expected and what it saw last.

use std::time::{Duration, Instant};

use crate::error::{LabError, Result};

/// What one poll saw.
#[derive(Debug)]
pub enum Probe<T> {
    /// The condition holds; the wait returns this value.
    Done(T),
    /// Not yet; the text says what was seen instead.
    Pending(String),
    /// It will never happen (a daemon died): stop waiting now.
    Fail(String),
}

/// How often waits poll. 2 cores are shared with the daemons under test, so
/// polling faster would slow down what we wait for.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Polls `probe` until it is done or `timeout` has passed. An error from the
/// probe counts as "not yet" (daemons refuse queries while starting), and is
/// reported as the last thing seen.
pub fn poll<T>(
    expected: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<Probe<T>>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        let (seen, hopeless) = match probe() {
            Ok(Probe::Done(value)) => return Ok(value),
            Ok(Probe::Pending(seen)) => (seen, false),
            Ok(Probe::Fail(why)) => (why, true),
            Err(e) => (format!("error: {e}"), false),
        };
        if hopeless || start.elapsed() >= timeout {
            return Err(LabError::Timeout {
                expected: expected.to_string(),
                seen,
                waited: start.elapsed(),
                logs: String::new(),
            });
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_returns_as_soon_as_the_probe_is_done() {
        let mut n = 0;
        let v = poll("three polls", Duration::from_secs(5), || {
            n += 1;
            Ok(if n == 3 {
                Probe::Done(n)
            } else {
                Probe::Pending(format!("{n}"))
            })
        })
        .unwrap();
        assert_eq!(v, 3);
    }

    #[test]
    fn a_timeout_says_what_was_expected_and_seen() {
        let err = poll::<()>("the impossible", Duration::from_millis(120), || {
            Ok(Probe::Pending("still nothing".into()))
        })
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("the impossible"), "{text}");
        assert!(text.contains("still nothing"), "{text}");
    }

    #[test]
    fn a_failed_probe_ends_the_wait_at_once() {
        let start = std::time::Instant::now();
        let err = poll::<()>("a daemon that died", Duration::from_secs(30), || {
            Ok(Probe::Fail("bird exited".into()))
        })
        .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(err.to_string().contains("bird exited"), "{err}");
    }
}
