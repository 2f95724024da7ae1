//! A region's cache, kept in step with the table's stream (the `cache-sync` function).
//!
//! In a deployment across regions every write happens in the home region, and each region's
//! replica receives it through the global table, then its stream; this writes the change into
//! the region's own cache, so a revoke made anywhere is refused everywhere within the
//! replication delay instead of the cache TTL. The writes go through the same version-compare
//! script as revoke's own: a newer version always wins, an equal one changes nothing (so the
//! stream's write and the revoking region's own write cannot fight), and a change that is not
//! a revoke only replaces an entry that is there (`Cache::sync`), so a replayed or reordered
//! record can never bring an older state back.
//!
//! An identity's item is carried the same way, so a suspend made in the home region refuses
//! the identity's keys in every region from their next request after replication.

use chrono::{DateTime, Utc};

use super::publish::Change as Published;
use super::OpError;
use crate::app::App;
use crate::domain::identity::{Identity, IdentityId};
use crate::domain::key::KeyHash;
use crate::domain::record::KeyRecord;

/// What a stream record says happened to a key's item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Written (INSERT or MODIFY): the record as it now is, and the version it had before
    /// (`None` for an INSERT).
    Written {
        hash: KeyHash,
        record: Box<KeyRecord>,
        before: Option<u64>,
    },
    /// Deleted from the table (by hand: Keygate never deletes a key).
    Removed { hash: KeyHash },
    /// An identity's item written: the identity as it now is, and its version before.
    IdentityWritten {
        identity: Box<Identity>,
        before: Option<u64>,
    },
    /// An identity's item deleted (`DELETE admin/api/identities/{id}`).
    IdentityRemoved { id: IdentityId },
}

/// What applying a change did, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The cache entry now holds this version.
    Written,
    /// Nothing to write: only the last-used time or a quota count changed (the version did
    /// not), the cache already held this version or a newer one, or it held no entry.
    Unchanged,
    /// The entry was deleted.
    Removed,
}

impl Applied {
    pub fn name(self) -> &'static str {
        match self {
            Applied::Written => "written",
            Applied::Unchanged => "unchanged",
            Applied::Removed => "removed",
        }
    }
}

pub async fn apply(app: &App, change: &Change, now: DateTime<Utc>) -> Result<Applied, OpError> {
    let failed = |source| OpError::CacheNotUpdated {
        change: Published::Replicated,
        ttl_seconds: app.config.cache.ttl.as_secs(),
        source,
    };
    match change {
        Change::Written {
            hash,
            record,
            before,
        } => {
            if *before == Some(record.version) {
                return Ok(Applied::Unchanged);
            }
            let written = app.cache.sync(hash, record, now).await.map_err(failed)?;
            Ok(if written {
                Applied::Written
            } else {
                Applied::Unchanged
            })
        }
        Change::Removed { hash } => {
            app.cache.forget(hash).await.map_err(failed)?;
            Ok(Applied::Removed)
        }
        Change::IdentityWritten { identity, before } => {
            if *before == Some(identity.version) {
                return Ok(Applied::Unchanged);
            }
            let written = app.cache.sync_identity(identity).await.map_err(failed)?;
            Ok(if written {
                Applied::Written
            } else {
                Applied::Unchanged
            })
        }
        Change::IdentityRemoved { id } => {
            app.cache.replace_identity(id, None).await.map_err(failed)?;
            Ok(Applied::Removed)
        }
    }
}
