//! At most one write of an object per interval, of its latest content:
//! the first change after a quiet interval is written at once, the changes
//! that follow within the interval are folded into one write at its end.
//! A rolling update that changes a node's reasons every few milliseconds
//! costs the API server one write per node per interval, not one per
//! change.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub(super) struct Coalesce {
    interval: Duration,
    last: Option<Instant>,
    due: Option<Instant>,
}

impl Coalesce {
    pub(super) fn new(interval: Duration) -> Coalesce {
        Coalesce {
            interval,
            last: None,
            due: None,
        }
    }

    /// The content changed at `now`: true to write now, else the write is
    /// (or already was) put off to [`Coalesce::due`].
    pub(super) fn changed(&mut self, now: Instant) -> bool {
        if self.due.is_some() {
            return false;
        }
        match self.last {
            Some(last) if now < last + self.interval => {
                self.due = Some(last + self.interval);
                false
            }
            _ => true,
        }
    }

    /// A write was attempted at `now`; `ok` false puts the next one off by
    /// an interval.
    pub(super) fn wrote(&mut self, now: Instant, ok: bool) {
        self.last = Some(now);
        self.due = (!ok).then_some(now + self.interval);
    }

    /// When the put-off write is due.
    pub(super) fn due(&self) -> Option<Instant> {
        self.due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_changes_is_one_write_now_and_one_at_the_end_of_the_interval() {
        let interval = Duration::from_secs(10);
        let mut c = Coalesce::new(interval);
        let t0 = Instant::now();
        assert!(c.changed(t0), "the first change is written at once");
        c.wrote(t0, true);
        assert_eq!(c.due(), None);
        for ms in [1, 50, 4_000, 9_999] {
            assert!(!c.changed(t0 + Duration::from_millis(ms)));
            assert_eq!(c.due(), Some(t0 + interval), "one write, put off");
        }
        c.wrote(t0 + interval, true);
        assert_eq!(c.due(), None);
        let quiet = t0 + interval * 3;
        assert!(c.changed(quiet), "after a quiet interval: at once again");
        c.wrote(quiet, false);
        assert_eq!(c.due(), Some(quiet + interval), "a failed write is retried");
    }
}
