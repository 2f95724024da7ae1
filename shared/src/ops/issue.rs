//! Issuing a key: mint it, store it with its audit event, and show it once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::OpError;
use crate::app::App;
use crate::domain::audit::Origin;
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
    let Minted { key, id } = mint(&app.config.key_prefix)?;
    let record = new.record(id, key.display_prefix(), to_millis(now));
    app.store.issue(&key.hash(), &record, origin).await?;
    tracing::Span::current().record("key_id", record.id.as_str());
    Ok(Issued { key, record })
}
