//! Revoking a key: the database first, then the cache entries, so that once revoke answers
//! 200 no verification anywhere can accept the key again.
//!
//! A key ends with every successor it made by rotating itself, transitively: whoever stole
//! a key and rotated it must not keep the successor once the key is revoked. The whole
//! family is revoked in one transaction, up to [`MAX_FAMILY`] keys (DynamoDB's limit of 100
//! items, an update and an audit event per key); a longer family would take more than one.
//! Keys made by an administrator's rotation are not revoked with their predecessor: that is
//! how an administrator hands a leaked key's clients a key of their own.

use chrono::{DateTime, Utc};

use super::publish::{publish, Change};
use super::{retry, OpError};
use crate::app::App;
use crate::domain::audit::Origin;
use crate::domain::key::KeyHash;
use crate::domain::legacy::Presented;
use crate::domain::record::{KeyRecord, State};
use crate::domain::rotation::MAX_FAMILY;

/// What revoking found.
#[derive(Debug)]
pub struct Revoked {
    /// The record as it is now, revoked.
    pub record: KeyRecord,
    /// False when nothing had to change: the key and its self-made successors were already
    /// revoked.
    pub changed: bool,
    /// The successors the key made by rotating itself (with their hashes), revoked with it.
    pub successors: Vec<(KeyHash, KeyRecord)>,
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
    let key = Presented::parse(raw.trim()).map_err(|_| OpError::NotFound)?;
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
        let Some(family) = family(app, hash).await? else {
            return Ok(None);
        };
        let live: Vec<(KeyHash, KeyRecord)> = family
            .iter()
            .filter(|(_, record)| record.state != State::Revoked)
            .cloned()
            .collect();
        let changed = !live.is_empty();
        let mut now_revoked = if changed {
            app.store.revoke(&live, now, origin).await?
        } else {
            Vec::new()
        }
        .into_iter();
        let mut family = family.into_iter().map(|(hash, record)| match record.state {
            State::Revoked => (hash, record),
            State::Active => (hash, now_revoked.next().unwrap_or(record)),
        });
        let (_, record) = family.next().expect("a family starts with its key");
        Ok(Some(Revoked {
            record,
            changed,
            successors: family.collect(),
        }))
    };
    let revoked = retry::on_conflict(attempt)
        .await?
        .ok_or(OpError::NotFound)?;
    tracing::Span::current().record("key_id", revoked.record.id.as_str());
    // Written even when nothing changed in the table: an earlier revoke may have stopped
    // right here.
    publish(app, hash, &revoked.record, now, Change::Revoke).await?;
    for (successor_hash, successor) in &revoked.successors {
        publish(app, successor_hash, successor, now, Change::Revoke).await?;
    }
    Ok(revoked)
}

/// The key with this hash, then each successor made by the one before it rotating itself,
/// up to [`MAX_FAMILY`] keys. `None` when no key has this hash.
async fn family(app: &App, hash: &KeyHash) -> Result<Option<Vec<(KeyHash, KeyRecord)>>, OpError> {
    let Some(record) = app.store.get(hash).await? else {
        return Ok(None);
    };
    let mut family = vec![(*hash, record)];
    while family.len() < MAX_FAMILY {
        let Some(next) = family.last().and_then(|(_, r)| r.rotated_to_hash) else {
            break;
        };
        match app.store.get(&next).await? {
            Some(successor) if successor.self_rotated => family.push((next, successor)),
            _ => break,
        }
    }
    Ok(Some(family))
}
