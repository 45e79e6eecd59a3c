//! When to try failed writes again, and when a round of writes should stop.
//!
//! A write that failed is retried after [`RetryDelay::FIRST`], then after
//! twice as long each time the retry fails too, up to [`RetryDelay::CAP`];
//! a round that succeeds brings the delay back to the first. Each delay is
//! stretched by up to a quarter at random, so that the speakers of a
//! cluster, whose writes all failed at the moment the API server went
//! away, do not all come back at the same instant.
//!
//! A fixed 2 s was the delay before: a speaker whose status writes of 20
//! Services failed as the API server went down retried all of them every
//! 2 s for the whole outage, 200 connection attempts in 20 s, where its
//! watches, backing off, made a few dozen.

use std::time::Duration;

/// The delay before the next retry of writes that keep failing.
#[derive(Debug, Clone)]
pub struct RetryDelay {
    next: Duration,
}

impl Default for RetryDelay {
    fn default() -> Self {
        RetryDelay { next: Self::FIRST }
    }
}

impl RetryDelay {
    /// After a first failure: short, since most failures are one conflict
    /// or one dropped connection.
    pub const FIRST: Duration = Duration::from_secs(2);
    /// At most: what a status object may lag behind once the API server is
    /// back, beyond the watches' own recovery (kube's watcher backs off to
    /// 30 s too).
    pub const CAP: Duration = Duration::from_secs(32);

    /// A round of writes failed: how long to wait before the next one
    /// (jittered), and the next failure waits twice as long.
    pub fn failed(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(Self::CAP);
        base.mul_f64(1.0 + fastrand::f64() / 4.0)
    }

    /// A round of writes succeeded: the next failure waits the first delay.
    pub fn succeeded(&mut self) {
        self.next = Self::FIRST;
    }
}

/// Whether `e` says the API server was not reached (refused, reset, timed
/// out), rather than that it answered with an error. Writing the rest of
/// a round after such an error would only cost a connection each: the
/// round stops, and what it did not write is written by the retry.
pub fn unreachable(e: &kube::Error) -> bool {
    matches!(e, kube::Error::HyperError(_) | kube::Error::Service(_))
}

#[cfg(test)]
mod tests {
    use kube::core::Status;

    use super::*;

    fn within(d: Duration, base: Duration) -> bool {
        d >= base && d <= base.mul_f64(1.25)
    }

    #[test]
    fn the_delay_doubles_to_its_cap_and_starts_over_after_a_success() {
        let mut r = RetryDelay::default();
        for base in [2, 4, 8, 16, 32, 32, 32] {
            let d = r.failed();
            assert!(within(d, Duration::from_secs(base)), "{d:?} for {base} s");
        }
        r.succeeded();
        let d = r.failed();
        assert!(within(d, RetryDelay::FIRST), "{d:?} after a success");
    }

    #[test]
    fn twenty_seconds_of_failures_are_a_few_rounds() {
        let mut r = RetryDelay::default();
        let mut spent = Duration::ZERO;
        let mut rounds = 0;
        while spent < Duration::from_secs(20) {
            spent += r.failed();
            rounds += 1;
        }
        // 2 + 4 + 8 (+ up to a quarter) < 20 <= 2 + 4 + 8 + 16.
        assert!(rounds <= 4, "{rounds} rounds in 20 s");
    }

    #[test]
    fn jitter_spreads_retries_that_failed_together() {
        let delays: std::collections::BTreeSet<Duration> =
            (0..32).map(|_| RetryDelay::default().failed()).collect();
        assert!(delays.len() > 1, "32 speakers retry at one instant");
    }

    #[test]
    fn only_a_server_that_did_not_answer_is_unreachable() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(unreachable(&kube::Error::Service(Box::new(refused))));
        let conflict = Status::failure("the object has been modified", "Conflict").with_code(409);
        assert!(!unreachable(&kube::Error::Api(conflict.boxed())));
    }
}
