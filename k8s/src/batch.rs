//! Watch events in batches: one pass per batch, not one per event.

use futures::{FutureExt, Stream, StreamExt};

/// Most events taken in one batch: a flood of events cannot postpone every
/// pass.
pub const MAX_BATCH: usize = 2000;

/// Waits for the next event of `inputs`, then takes what is already queued
/// behind it (at most [`MAX_BATCH`] in all), handing each to `apply` in
/// order. `false` when the stream has ended.
pub async fn next_batch<S>(inputs: &mut S, mut apply: impl FnMut(S::Item)) -> bool
where
    S: Stream + Unpin,
{
    let Some(first) = inputs.next().await else {
        return false;
    };
    apply(first);
    drain_ready(inputs, apply);
    true
}

/// Takes what `inputs` already holds, without waiting, up to
/// [`MAX_BATCH`] events.
pub fn drain_ready<S>(inputs: &mut S, mut apply: impl FnMut(S::Item))
where
    S: Stream + Unpin,
{
    for _ in 0..MAX_BATCH {
        let Some(Some(input)) = inputs.next().now_or_never() else {
            break;
        };
        apply(input);
    }
}

#[cfg(test)]
mod tests {
    use futures::stream;

    use super::*;

    #[tokio::test]
    async fn a_batch_takes_what_is_queued_and_no_more_than_the_bound() {
        let mut inputs = stream::iter(0..MAX_BATCH + 10);
        let mut seen = Vec::new();
        assert!(next_batch(&mut inputs, |i| seen.push(i)).await);
        assert_eq!(
            seen.len(),
            MAX_BATCH + 1,
            "the first event and a full batch"
        );
        seen.clear();
        assert!(next_batch(&mut inputs, |i| seen.push(i)).await);
        assert_eq!(seen, (MAX_BATCH + 1..MAX_BATCH + 10).collect::<Vec<_>>());
        assert!(!next_batch(&mut inputs, |_| ()).await, "the stream ended");
    }
}
