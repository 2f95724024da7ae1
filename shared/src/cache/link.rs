//! A link to Redis: one shared multiplexed connection, and the back-off that keeps an
//! outage from costing a timeout on every request.
//!
//! Redis trouble must never break verification: every command has a short timeout, and
//! after a failure the cache is skipped for a back-off period (growing to 5 s), so an outage
//! costs one timeout per period instead of one per request. The next attempt after the
//! back-off reconnects, so recovery needs no restart.
//!
//! A dead connection is not an outage, though: after Redis restarts (or ElastiCache fails
//! over) the connection every instance holds fails its next command at once. Such a failure
//! of a connection that had served is tried once more on a fresh connection, and only a
//! failure that the fresh connection meets too starts the back-off.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult};

use super::CacheError;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub(super) struct Link {
    client: redis::Client,
    config: AsyncConnectionConfig,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    connection: Option<MultiplexedConnection>,
    failures: u32,
    skip_until: Option<Instant>,
}

impl Link {
    pub(super) fn new(client: redis::Client, timeout: Duration) -> Self {
        let config = AsyncConnectionConfig::new()
            .set_response_timeout(Some(timeout))
            // A connect is a TCP (and maybe TLS) handshake: allow a few round trips more
            // than a command, still well under a second.
            .set_connection_timeout(Some(timeout * 4));
        Self {
            client,
            config,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `op` on the shared connection (a fresh one unless Redis is in its back-off
    /// period; `force` connects even then, for a change that must not be lost to a
    /// back-off). A connection that had served and fails at once is replaced, and `op` runs
    /// once more; a timeout is not retried, because a slow Redis would only cost the
    /// hot path a second timeout.
    pub(super) async fn call<T, F, Fut>(&self, force: bool, op: F) -> Result<T, CacheError>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let (conn, reused) = self.connection(force).await?;
        match op(conn).await {
            Err(err) if reused && !err.is_timeout() => {
                tracing::debug!(error = %err, "Redis connection dropped; retrying on a fresh one");
                self.state().connection = None;
                let (conn, _) = self.connection(true).await?;
                self.record(op(conn).await)
            }
            result => self.record(result),
        }
    }

    /// Connects now, so the first request does not pay for it.
    pub(super) async fn connect(&self) -> Result<(), CacheError> {
        self.connection(true).await.map(|_| ())
    }

    /// The shared connection and whether it has served before, or a fresh one.
    async fn connection(&self, force: bool) -> Result<(MultiplexedConnection, bool), CacheError> {
        {
            let state = self.state();
            if let Some(conn) = &state.connection {
                return Ok((conn.clone(), true));
            }
            if !force && state.skip_until.is_some_and(|t| Instant::now() < t) {
                return Err(CacheError::Skipped);
            }
        }
        let conn = self.record(
            self.client
                .get_multiplexed_async_connection_with_config(&self.config)
                .await,
        )?;
        self.state().connection = Some(conn.clone());
        Ok((conn, false))
    }

    /// Records the outcome of a Redis call: a failure drops the connection (it may be dead
    /// after a freeze or a failover) and starts or extends the back-off period.
    fn record<T>(&self, result: RedisResult<T>) -> Result<T, CacheError> {
        let mut state = self.state();
        match result {
            Ok(value) => {
                state.failures = 0;
                state.skip_until = None;
                Ok(value)
            }
            Err(err) => {
                state.connection = None;
                state.failures = state.failures.saturating_add(1);
                state.skip_until = Some(Instant::now() + backoff(state.failures));
                Err(err.into())
            }
        }
    }
}

fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_grows_and_is_capped() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(100), MAX_BACKOFF);
    }
}
