//! Updating a key's fields (`PATCH admin/api/keys/{id}`). The rules are the domain's
//! (`domain/update.rs`); this writes the change with its `update` event in one transaction,
//! then replaces the cache entry, so every update takes effect on the very next
//! verification, cached or not, as revocation does.

use chrono::{DateTime, Utc};

use super::publish::{publish, Change};
use super::{retry, OpError};
use crate::app::App;
use crate::domain::audit::Origin;
use crate::domain::key::KeyHash;
use crate::domain::record::KeyRecord;
use crate::domain::update::KeyUpdate;

/// Applies `update` to the key with this hash. `Ok(None)` when no key has this hash.
pub async fn update(
    app: &App,
    hash: &KeyHash,
    update: &KeyUpdate,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<Option<KeyRecord>, OpError> {
    if let Some(Some(identity)) = &update.identity_id {
        super::issue::require_identity(app, identity).await?;
    }
    let attempt = move || async move {
        let Some(old) = app.store.get(hash).await? else {
            return Ok(None);
        };
        let (new, changes) = update.apply(&old, now)?;
        if changes.is_empty() {
            return Ok(Some(old));
        }
        app.store
            .update(hash, &old, &new, changes, origin, now)
            .await?;
        Ok(Some(new))
    };
    let Some(record) = retry::on_conflict(attempt).await? else {
        return Ok(None);
    };
    tracing::Span::current().record("key_id", record.id.as_str());
    // Replaced even when nothing changed: an earlier attempt may have stopped here.
    publish(app, hash, &record, now, Change::Update).await?;
    Ok(Some(record))
}
