//! Admin credentials: create, list, revoke and rotate. A credential is a key record with a
//! role (`domain/record.rs`), so these are the key operations with three differences: the
//! secret and id have their own prefixes, the events their own actions, and the last way
//! in is never revoked (the lock-out rule below).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::publish::{publish, Change};
use super::rotate::{rotate as rotate_key, Rotated};
use super::{retry, OpError};
use crate::app::App;
use crate::domain::audit::{Actor, Origin};
use crate::domain::key::{mint_admin, ApiKey, KeyHash, KeyId, Minted};
use crate::domain::record::{AdminView, KeyRecord, State, Status};
use crate::domain::role::Role;
use crate::domain::time::to_millis;

/// What a new admin credential is created with (read from a request by `edge/input.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdmin {
    pub name: String,
    pub role: Role,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new admin credential: the only time its secret exists outside the holder's hands.
#[derive(Debug)]
pub struct CreatedAdmin {
    pub key: ApiKey,
    pub record: KeyRecord,
    /// False after a rotation whose old secret's cache entry could not be replaced: the old
    /// secret may then be accepted for up to the cache TTL.
    pub cache_updated: bool,
}

/// The answer to create and rotate: the credential as listed, plus its secret, once.
#[derive(Serialize)]
pub struct CreatedAdminView<'a> {
    #[serde(flatten)]
    pub admin: AdminView<'a>,
    pub key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<&'static str>,
}

impl CreatedAdmin {
    pub fn view(&self, now: DateTime<Utc>) -> CreatedAdminView<'_> {
        CreatedAdminView {
            admin: self.record.admin_view(now),
            key: self.key.expose(),
            warning: (!self.cache_updated).then_some(
                "The old secret's cache entry could not be updated, so it may be accepted for \
                 up to the cache TTL. Revoke it to stop it at once.",
            ),
        }
    }
}

/// Stores a new admin credential with its `admin_create` event, in one transaction.
pub async fn create(
    app: &App,
    new: NewAdmin,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<CreatedAdmin, OpError> {
    let Minted { key, id } = mint_admin()?;
    let record = KeyRecord {
        role: Some(new.role),
        expires_at: new.expires_at,
        created_by: Some(Actor::of(&origin.actor, &id)),
        ..KeyRecord::new(id, new.name, key.display_prefix(), to_millis(now))
    };
    app.store.issue(&key.hash(), &record, origin).await?;
    tracing::Span::current().record("key_id", record.id.as_str());
    Ok(CreatedAdmin {
        key,
        record,
        cache_updated: true,
    })
}

/// Every admin credential, newest first.
pub async fn list(app: &App) -> Result<Vec<KeyRecord>, OpError> {
    Ok(app
        .store
        .list_admins()
        .await?
        .into_iter()
        .map(|(_, record)| record)
        .collect())
}

/// The admin credential with this id; a client key's id finds nothing.
pub async fn find(app: &App, id: &KeyId) -> Result<(KeyHash, KeyRecord), OpError> {
    match app.store.find_by_id(id).await? {
        Some((hash, record)) if record.role.is_some() => Ok((hash, record)),
        _ => Err(OpError::NotFound),
    }
}

/// Revokes an admin credential; revoking it again is harmless. Without a bootstrap token,
/// the last active, unexpired credential with the `admin` role is never revoked
/// ([`OpError::LastAdmin`]): nobody could then manage credentials at all. The check holds
/// under races, because the revoke commits only while another such credential is still
/// active (`Store::revoke_keeping`).
pub async fn revoke(
    app: &App,
    id: &KeyId,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<KeyRecord, OpError> {
    let now = to_millis(now);
    let attempt = || async move {
        let (hash, record) = find(app, id).await?;
        if record.state == State::Revoked {
            return Ok((hash, record));
        }
        let keep = if record.role == Some(Role::Admin) && app.config.admin_token.is_none() {
            Some(
                another_admin(app, &record.id, now)
                    .await?
                    .ok_or(OpError::LastAdmin)?,
            )
        } else {
            None
        };
        let mut revoked = app
            .store
            .revoke_keeping(&[(hash, record)], now, origin, keep.as_ref())
            .await?;
        Ok((hash, revoked.remove(0)))
    };
    let (hash, record) = retry::on_conflict(attempt).await?;
    // Written even when nothing changed in the table: an earlier revoke may have stopped
    // right here.
    publish(app, &hash, &record, now, Change::Revoke).await?;
    Ok(record)
}

/// Another active, unexpired credential with the `admin` role than `except`, if any.
async fn another_admin(
    app: &App,
    except: &KeyId,
    now: DateTime<Utc>,
) -> Result<Option<KeyHash>, OpError> {
    Ok(app
        .store
        .list_admins()
        .await?
        .into_iter()
        .find(|(_, r)| {
            r.id != *except && r.role == Some(Role::Admin) && r.status_at(now) == Status::Active
        })
        .map(|(hash, _)| hash))
}

/// Replaces an admin credential's secret: a new credential (new id, same name, role and
/// expiry) and the old one revoked at once, in one transaction. As with a key's rotation,
/// a cache that could not be updated is a warning on the answer, not an error: the new
/// secret is committed and shown nowhere else.
pub async fn rotate(
    app: &App,
    id: &KeyId,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<CreatedAdmin, OpError> {
    let (hash, _) = find(app, id).await?;
    let Rotated {
        issued,
        cache_updated,
        ..
    } = rotate_key(app, &hash, 0, now, origin).await?;
    Ok(CreatedAdmin {
        key: issued.key,
        record: issued.record,
        cache_updated,
    })
}
