//! The pace of a member's heartbeats, to tell a member configured with
//! another `--ml-heartbeat` from one that is merely late: every node must
//! heart-beat at the same pace, or the faster ones suspect the slower
//! between two of their heartbeats. Nothing here changes a verdict; the
//! driver logs what it finds.

use std::time::{Duration, Instant};

/// How many gaps between heartbeats the median is taken over: enough that
/// a burst read after a stall (gaps near zero) or a few late heartbeats do
/// not move it.
const GAPS: usize = 9;

/// The last gaps between one member's heartbeats.
#[derive(Debug, Clone, Default)]
pub(super) struct Pace {
    last: Option<Instant>,
    gaps: [Duration; GAPS],
    /// Gaps recorded so far, up to [`GAPS`]; the next goes at `count % GAPS`.
    count: usize,
}

impl Pace {
    /// A heartbeat arrived at `now`.
    pub(super) fn heartbeat(&mut self, now: Instant) {
        if let Some(last) = self.last
            && let Some(slot) = self.gaps.get_mut(self.count % GAPS)
        {
            *slot = now.saturating_duration_since(last);
            self.count += 1;
        }
        self.last = Some(now);
    }

    /// The gaps in order, once [`GAPS`] are known.
    fn sorted(&self) -> Option<[Duration; GAPS]> {
        if self.count < GAPS {
            return None;
        }
        let mut gaps = self.gaps;
        gaps.sort_unstable();
        Some(gaps)
    }

    /// The median gap, once [`GAPS`] are known.
    #[cfg(test)]
    fn median(&self) -> Option<Duration> {
        self.sorted()?.get(GAPS / 2).copied()
    }

    /// The median gap when it is not this node's heartbeat `own` (within a
    /// factor of two either way) and the gaps are steady (their middle
    /// half within half the median): the member heart-beats at another
    /// pace. Heartbeats lost or late on a loaded LAN make gaps of every
    /// length, which are not another pace.
    pub(super) fn apart_from(&self, own: Duration) -> Option<Duration> {
        let gaps = self.sorted()?;
        let median = *gaps.get(GAPS / 2)?;
        let (low, high) = (gaps.get(GAPS / 4)?, gaps.get(GAPS - 1 - GAPS / 4)?);
        let steady = high.saturating_sub(*low) <= median / 2;
        (steady && (median > 2 * own || 2 * median < own)).then_some(median)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn paced(gaps: impl IntoIterator<Item = u64>) -> Pace {
        let mut pace = Pace::default();
        let mut at = Instant::now();
        pace.heartbeat(at);
        for gap in gaps {
            at += Duration::from_millis(gap);
            pace.heartbeat(at);
        }
        pace
    }

    #[test]
    fn another_pace_shows_once_nine_gaps_are_known() {
        assert_eq!(paced([20; 8]).apart_from(5 * MS), None, "too few");
        assert_eq!(paced([20; 9]).apart_from(5 * MS), Some(20 * MS));
        assert_eq!(paced([5; 30]).apart_from(20 * MS), Some(5 * MS));
        assert_eq!(paced([5; 30]).apart_from(5 * MS), None);
    }

    #[test]
    fn late_or_bunched_heartbeats_are_not_another_pace() {
        // Four late, then a backlog read at once after a stall.
        let gaps = [5, 5, 30, 40, 25, 0, 0, 5, 5, 5, 9, 5];
        assert_eq!(paced(gaps).apart_from(5 * MS), None);
        // Half the heartbeats of a member at our pace lost in a storm:
        // gaps of every multiple, a median of 20 ms, but not steady.
        let lossy = [15, 20, 30, 10, 25, 40, 15, 35, 20];
        assert_eq!(paced(lossy).median(), Some(20 * MS));
        assert_eq!(paced(lossy).apart_from(5 * MS), None);
        // Another pace, with a loaded node's jitter, is steady.
        let jittery = [20, 22, 19, 21, 20, 26, 20, 18, 21];
        assert_eq!(paced(jittery).apart_from(5 * MS), Some(20 * MS));
        // Only the last nine gaps count: a member that changed its pace.
        let changed = [20; 20].into_iter().chain([5; 9]);
        assert_eq!(paced(changed).apart_from(5 * MS), None);
    }
}
