//! Issuing a key: mint it, store it with its audit event, and show it once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::OpError;
use crate::app::App;
use crate::domain::audit::Origin;
use crate::domain::identity::IdentityId;
use crate::domain::key::{mint, ApiKey, KeyId, Minted};
use crate::domain::limit::{Limits, Quota};
use crate::domain::record::{KeyRecord, KeyView};
use crate::domain::scope::Scopes;
use crate::domain::time::to_millis;

/// What a new key is issued with (read from a request by `edge/input.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub name: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub owner: Option<String>,
    /// The identity the key belongs to (it must exist).
    pub identity_id: Option<IdentityId>,
    pub meta: Option<Map<String, Value>>,
    pub scopes: Scopes,
    pub limits: Limits,
    pub quota: Option<Quota>,
    /// May the key rotate itself (`POST rotate`)?
    pub self_rotation: bool,
}

impl NewKey {
    /// The active record of a key with these fields (issued, or imported with its own
    /// creation time).
    pub fn record(self, id: KeyId, prefix: String, created_at: DateTime<Utc>) -> KeyRecord {
        KeyRecord {
            expires_at: self.expires_at,
            owner: self.owner,
            identity_id: self.identity_id,
            meta: self.meta,
            scopes: self.scopes,
            limits: self.limits,
            quota: self.quota,
            self_rotation: self.self_rotation,
            ..KeyRecord::new(id, self.name, prefix, created_at)
        }
    }
}

/// A freshly issued key: the only value in Keygate that holds a raw key.
#[derive(Debug)]
pub struct Issued {
    pub key: ApiKey,
    pub record: KeyRecord,
}

/// The issue response, the one place a raw key is ever written: the key's record as every
/// endpoint shows it, plus the key.
#[derive(Serialize)]
pub struct IssuedView<'a> {
    #[serde(flatten)]
    pub record: KeyView<'a>,
    pub key: &'a str,
}

impl Issued {
    pub fn view(&self, now: DateTime<Utc>) -> IssuedView<'_> {
        IssuedView {
            record: self.record.view(now),
            key: self.key.expose(),
        }
    }
}

/// Stores the new key before anything is returned: a key the caller sees is always a key
/// that verifies.
pub async fn issue(
    app: &App,
    new: NewKey,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<Issued, OpError> {
    if let Some(identity) = &new.identity_id {
        require_identity(app, identity).await?;
    }
    let Minted { key, id } = mint(&app.config.key_prefix)?;
    let record = new.record(id, key.display_prefix(), to_millis(now));
    app.store.issue(&key.hash(), &record, origin).await?;
    tracing::Span::current().record("key_id", record.id.as_str());
    Ok(Issued { key, record })
}

/// Refuses a key for an identity that does not exist. (An identity deleted between this
/// read and the key's write leaves a key naming no identity: it then counts on its own
/// limits alone. Deleting needs the identity to have no active key, so this takes a delete
/// racing an issue to the millisecond.)
pub(super) async fn require_identity(app: &App, id: &IdentityId) -> Result<(), OpError> {
    match app.store.get_identity(id).await? {
        Some(_) => Ok(()),
        None => Err(OpError::UnknownIdentity(id.clone())),
    }
}
