//! After a change is in DynamoDB, its cache entry is replaced, so the very next
//! verification sees it, cached or not. The write goes through the version-compare script:
//! of two racing changes the newer always wins in the cache, whatever order the writes
//! arrive in, and a fill after a database read can never bring back an older state.
//!
//! When the write fails, the change stands (it is in DynamoDB and audited) but the cache may
//! serve the old entry for up to its TTL. What each operation answers then:
//! - revoke and update: 503 with a `detail` saying to retry (the retry is idempotent), so a
//!   200 always means every verification sees the change;
//! - rotate: 201 with a `warning`, because the new key is committed and shown nowhere else;
//!   losing the answer would lose the key.

use std::fmt;

use chrono::{DateTime, Utc};

use super::OpError;
use crate::app::App;
use crate::domain::key::KeyHash;
use crate::domain::record::KeyRecord;

/// The change whose entry is being written, for the log line and the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Revoke,
    Update,
    Rotate,
    /// A change made in another region, arriving through the table's stream (`sync.rs`).
    Replicated,
    /// A change to an identity (`identities.rs`).
    Identity,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Revoke => "revoke",
            Change::Update => "update",
            Change::Rotate => "rotate",
            Change::Replicated => "replicated change",
            Change::Identity => "identity change",
        })
    }
}

/// Replaces the cache entry of the key with this hash by `record` (its state after
/// `change`).
pub async fn publish(
    app: &App,
    hash: &KeyHash,
    record: &KeyRecord,
    now: DateTime<Utc>,
    change: Change,
) -> Result<(), OpError> {
    app.cache
        .replace(hash, record, now)
        .await
        .map_err(|source| {
            tracing::error!(error = %source, %change, "key changed in DynamoDB but its cache entry was not replaced");
            OpError::CacheNotUpdated {
                change,
                ttl_seconds: app.config.cache.ttl.as_secs(),
                source,
            }
        })
}
