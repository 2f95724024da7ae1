//! Importing the keys of the system Keygate replaces (`POST admin/api/keys/import`), so that
//! no client has to change its key on the day of the switch.
//!
//! A raw key is hashed on arrival and only its hash is kept; a key may also come as the
//! SHA-256 of its raw form. An import never overwrites: a key already present is skipped
//! with a reason, so the same file can be sent again after an interruption. Each imported
//! key gets an id of its own and an `import` event, written in the same transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::issue::NewKey;
use super::OpError;
use crate::app::App;
use crate::domain::audit::Origin;
use crate::domain::key::{KeyHash, KeyId};
use crate::domain::legacy::LegacyKey;
use crate::domain::record::{KeyRecord, State};
use crate::store::IMPORT_CHUNK;

/// Keys one call may import.
pub const MAX_IMPORT: usize = 1_000;

/// How a key is given: as presented by clients, or as the SHA-256 of that.
#[derive(Debug)]
pub enum Secret {
    Raw(LegacyKey),
    Hash(KeyHash),
}

impl Secret {
    fn hash(&self) -> KeyHash {
        match self {
            Secret::Raw(key) => key.hash(),
            Secret::Hash(hash) => *hash,
        }
    }

    /// What people see of the key: none of it when only its hash was given.
    fn display_prefix(&self) -> String {
        match self {
            Secret::Raw(key) => key.display_prefix(),
            Secret::Hash(_) => String::new(),
        }
    }
}

/// One key to import, as read from the request by `edge/import.rs`.
#[derive(Debug)]
pub struct ImportKey {
    pub secret: Secret,
    /// Its name, owner, scopes, limits and expiry (which may be in the past: the key is
    /// then imported expired, as it was).
    pub key: NewKey,
    pub state: State,
    pub created_at: DateTime<Utc>,
}

/// A key of the request that was not imported, by its position in the request.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Skipped {
    pub index: usize,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct ImportReport {
    pub imported: usize,
    pub skipped: Vec<Skipped>,
    /// Set when some imported keys' cache entries could not be written: a client that
    /// presented such a key just before the import may be refused for up to the negative
    /// cache's TTL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

pub const ALREADY_PRESENT: &str = "A key with this hash is already present; it was left as it is.";

/// Imports `items` (each a key, or the reason it cannot be one). Keys are written
/// [`IMPORT_CHUNK`] to a transaction; should DynamoDB fail part of the way, the error is
/// returned and a repeated call imports the rest.
pub async fn import(
    app: &App,
    items: Vec<Result<ImportKey, String>>,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<ImportReport, OpError> {
    let mut skipped = Vec::new();
    let mut keys: Vec<(usize, KeyHash, KeyRecord)> = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let item = match item {
            Ok(item) => item,
            Err(detail) => {
                skipped.push(Skipped { index, detail });
                continue;
            }
        };
        let hash = item.secret.hash();
        // One transaction may not touch an item twice, and the second could only be skipped.
        if let Some((first, _, _)) = keys.iter().find(|(_, h, _)| *h == hash) {
            skipped.push(Skipped {
                index,
                detail: format!("The same key is at index {first} of this import."),
            });
            continue;
        }
        keys.push((index, hash, record(item, KeyId::generate()?, now)));
    }
    if !keys.is_empty() {
        // Before the keys: an instance that sees a key must also accept legacy keys.
        app.store.mark_legacy_keys_imported(now).await?;
    }
    let mut imported = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(IMPORT_CHUNK) {
        let pairs: Vec<(KeyHash, KeyRecord)> =
            chunk.iter().map(|(_, h, r)| (*h, r.clone())).collect();
        let present = app.store.import(&pairs, origin, now).await?;
        for (n, (index, hash, record)) in chunk.iter().enumerate() {
            if present.contains(&n) {
                skipped.push(Skipped {
                    index: *index,
                    detail: ALREADY_PRESENT.to_owned(),
                });
            } else {
                imported.push((hash, record));
            }
        }
    }
    // A client that tried its key before the import may have left a negative entry:
    // replace those, so the key works at once rather than after the entry's TTL.
    let mut unwritten = 0;
    for (hash, record) in &imported {
        if let Err(err) = app.cache.sync(hash, record, now).await {
            tracing::warn!(error = %err, "could not replace an imported key's cache entry");
            unwritten += 1;
        }
    }
    skipped.sort_by_key(|s| s.index);
    tracing::info!(
        imported = imported.len(),
        skipped = skipped.len(),
        "keys imported"
    );
    Ok(ImportReport {
        imported: imported.len(),
        skipped,
        warning: (unwritten > 0).then(|| {
            format!(
                "{unwritten} imported keys' cache entries could not be written: a client that \
                 presented one of them just before the import may be refused for up to {} \
                 seconds.",
                app.config.cache.negative_ttl.as_secs()
            )
        }),
    })
}

fn record(item: ImportKey, id: KeyId, now: DateTime<Utc>) -> KeyRecord {
    let prefix = item.secret.display_prefix();
    KeyRecord {
        state: item.state,
        revoked_at: (item.state == State::Revoked).then_some(now),
        ..item.key.record(id, prefix, item.created_at)
    }
}
