//! Optimistic concurrency, in one place: an operation reads the key, decides, and writes on
//! the condition that the item is still at the version it read. A concurrent change makes
//! that write fail with [`StoreError::Conflict`]; the operation then starts over from a fresh
//! read, a few times, before it gives up with that conflict (a 409 at the edge).

use std::future::Future;

use super::OpError;
use crate::store::StoreError;

/// Attempts before a conflict is reported: enough for the races people cause (an admin
/// editing while a client rotates), few enough to answer promptly.
const ATTEMPTS: usize = 3;

/// Runs `attempt` again while it fails on a conflicting change.
pub async fn on_conflict<T, F, Fut>(mut attempt: F) -> Result<T, OpError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, OpError>>,
{
    for _ in 1..ATTEMPTS {
        match attempt().await {
            Err(OpError::Store(StoreError::Conflict)) => continue,
            other => return other,
        }
    }
    attempt().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn a_conflict_is_retried_and_then_reported() {
        let calls = &Cell::new(0);
        let result: Result<(), OpError> = on_conflict(|| async move {
            calls.set(calls.get() + 1);
            Err(OpError::Store(StoreError::Conflict))
        })
        .await;
        assert!(matches!(result, Err(OpError::Store(StoreError::Conflict))));
        assert_eq!(calls.get(), ATTEMPTS);
    }

    #[tokio::test]
    async fn other_errors_and_successes_are_not_retried() {
        let calls = &Cell::new(0);
        let result = on_conflict(|| async move {
            calls.set(calls.get() + 1);
            Err::<(), _>(OpError::NotFound)
        })
        .await;
        assert!(matches!(result, Err(OpError::NotFound)));
        assert_eq!(calls.get(), 1);
    }
}
