//! Deadlines that may be absent, for `select!` loops.

/// Completes at `at`; never without a deadline.
pub async fn sleep_until(at: Option<impl Into<tokio::time::Instant>>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
