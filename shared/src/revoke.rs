//! Revoking a key: the database first, then the cache entry, so that once revoke answers
//! 200 no verification anywhere can accept the key again.

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::audit::Origin;
use crate::error::ApiError;
use crate::key::{ApiKey, KeyHash};
use crate::store::Revoked;

pub const NOT_FOUND: &str = "API Key not found.";
pub const REVOKED: &str = "API Key revoked successfully.";

/// Holding a key is enough to revoke it, as with leaked-credential revocation APIs: the
/// holder could use it anyway. Revoking twice is harmless and answers the same.
pub async fn revoke(
    app: &App,
    raw: &str,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<Revoked, ApiError> {
    // A malformed key cannot exist, so it is "not found" without a lookup.
    let key = ApiKey::parse(raw.trim()).map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    revoke_hash(app, &key.hash(), now, origin).await
}

/// Revokes the key with this hash (the admin page finds it by id).
pub async fn revoke_hash(
    app: &App,
    hash: &KeyHash,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<Revoked, ApiError> {
    let hash = *hash;
    let revoked = app
        .store
        .revoke(&hash, now, origin)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    tracing::Span::current().record("key_id", revoked.record.id.as_str());

    // Overwrite the cached entry even when nothing changed in the table: an earlier revoke
    // may have stopped right here.
    if let Err(err) = app.cache.replace(&hash, &revoked.record, now).await {
        tracing::error!(error = %err, "key revoked in DynamoDB but its cache entry was not replaced");
        return Err(ApiError::Unavailable(format!(
            "The key is revoked in the database, but the cache could not be updated, so it may \
             still be accepted for up to {} seconds. Retry this request; revoking again is safe.",
            app.config.cache.ttl.as_secs()
        )));
    }
    Ok(revoked)
}
