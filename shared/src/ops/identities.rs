//! Identities (`admin/api/identities`): create, change, suspend, resume and delete, each
//! written with its audit event in one transaction and then published to the cache, so the
//! next verification of any of the identity's keys sees the change, cached or not.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::publish::Change;
use super::{retry, OpError};
use crate::app::App;
use crate::domain::audit::{Action, Origin};
use crate::domain::identity::{Identity, IdentityId, IdentityUpdate};
use crate::domain::limit::{Limits, Quota, QuotaCount};
use crate::domain::time::to_millis;
use crate::store::IdentityWriteError;

/// What a new identity is created with (read from a request by `edge/identity_input.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdentity {
    pub external_id: String,
    pub meta: Option<Map<String, Value>>,
    pub limits: Limits,
    pub quota: Option<Quota>,
}

impl From<IdentityWriteError> for OpError {
    fn from(err: IdentityWriteError) -> Self {
        match err {
            IdentityWriteError::ExternalIdTaken => OpError::ExternalIdTaken,
            IdentityWriteError::Store(err) => OpError::Store(err),
        }
    }
}

pub async fn create(
    app: &App,
    new: NewIdentity,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<Identity, OpError> {
    let now = to_millis(now);
    let identity = Identity {
        id: IdentityId::generate()?,
        external_id: new.external_id,
        meta: new.meta,
        limits: new.limits,
        quota: new.quota,
        suspended: false,
        created_at: now,
        updated_at: now,
        version: 0,
    };
    app.store.create_identity(&identity, origin).await?;
    Ok(identity)
}

/// The identity, or [`OpError::IdentityNotFound`].
pub async fn get(app: &App, id: &IdentityId) -> Result<Identity, OpError> {
    app.store
        .get_identity(id)
        .await?
        .ok_or(OpError::IdentityNotFound)
}

/// The identity's live quota count, when the cache has one for its current setting.
pub async fn live_quota(app: &App, identity: &Identity) -> Option<QuotaCount> {
    match &identity.quota {
        Some(quota) => app.cache.live_identity_quota(&identity.id, quota).await,
        None => None,
    }
}

/// Applies `update` (a PATCH, a suspend or a resume) and publishes the result. An update
/// that changes nothing writes nothing, but is published again (an earlier attempt may
/// have stopped before its cache write).
pub async fn update(
    app: &App,
    id: &IdentityId,
    update: &IdentityUpdate,
    action: Action,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<Identity, OpError> {
    let now = to_millis(now);
    let attempt = move || async move {
        let old = get(app, id).await?;
        let (new, changes) = update.apply(&old, now);
        if changes.is_empty() {
            return Ok(old);
        }
        app.store
            .update_identity(&old, &new, action, changes, origin)
            .await?;
        Ok(new)
    };
    let identity = retry::on_conflict(attempt).await?;
    publish(app, &identity.id, Some(&identity)).await?;
    Ok(identity)
}

/// Deletes an identity that has no active key (409 otherwise). Its revoked and expired keys
/// keep naming it; they verify as revoked or expired whatever it was.
pub async fn delete(
    app: &App,
    id: &IdentityId,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<(), OpError> {
    let attempt = move || async move {
        let identity = get(app, id).await?;
        if app.store.identity_has_active_keys(id, now).await? {
            return Err(OpError::IdentityInUse);
        }
        app.store.delete_identity(&identity, origin, now).await?;
        Ok(())
    };
    retry::on_conflict(attempt).await?;
    publish(app, id, None).await
}

async fn publish(app: &App, id: &IdentityId, identity: Option<&Identity>) -> Result<(), OpError> {
    app.cache
        .replace_identity(id, identity)
        .await
        .map_err(|source| {
            tracing::error!(error = %source, "identity changed in DynamoDB but its cache entry was not replaced");
            OpError::CacheNotUpdated {
                change: Change::Identity,
                ttl_seconds: app.config.cache.ttl.as_secs(),
                source,
            }
        })
}
