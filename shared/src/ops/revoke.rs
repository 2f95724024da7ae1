//! Revoking a key: the database first, then the cache entry, so that once revoke answers
//! 200 no verification anywhere can accept the key again.

use chrono::{DateTime, Utc};

use super::publish::{publish, Change};
use super::{retry, OpError};
use crate::app::App;
use crate::domain::audit::Origin;
use crate::domain::key::{ApiKey, KeyHash};
use crate::domain::record::{KeyRecord, State};

/// What revoking found.
#[derive(Debug)]
pub struct Revoked {
    /// The record as it is now, revoked.
    pub record: KeyRecord,
    /// False when the key was already revoked: nothing changed.
    pub changed: bool,
}

/// Holding a key is enough to revoke it, as with leaked-credential revocation APIs: the
/// holder could use it anyway. Revoking twice is harmless and answers the same.
pub async fn revoke(
    app: &App,
    raw: &str,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<Revoked, OpError> {
    // A malformed key cannot exist, so it is "not found" without a lookup.
    let key = ApiKey::parse(raw.trim()).map_err(|_| OpError::NotFound)?;
    revoke_hash(app, &key.hash(), now, origin).await
}

/// Revokes the key with this hash (the admin page finds it by id).
pub async fn revoke_hash(
    app: &App,
    hash: &KeyHash,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<Revoked, OpError> {
    let attempt = move || async move {
        let Some(record) = app.store.get(hash).await? else {
            return Ok(None);
        };
        if record.state == State::Revoked {
            return Ok(Some(Revoked {
                record,
                changed: false,
            }));
        }
        let record = app.store.revoke(hash, &record, now, origin).await?;
        Ok(Some(Revoked {
            record,
            changed: true,
        }))
    };
    let revoked = retry::on_conflict(attempt)
        .await?
        .ok_or(OpError::NotFound)?;
    tracing::Span::current().record("key_id", revoked.record.id.as_str());
    // Written even when nothing changed in the table: an earlier revoke may have stopped
    // right here.
    publish(app, hash, &revoked.record, now, Change::Revoke).await?;
    Ok(revoked)
}
