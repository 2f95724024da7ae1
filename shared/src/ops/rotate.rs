//! Rotation with a grace period: a new key that inherits the old one's name, owner, meta,
//! scopes and limits, while the old key keeps working until `now + grace` (or stops at once
//! with a grace of 0), so a leaked or old key can be replaced without an outage. The rules
//! are the domain's (`domain/rotation.rs`).
//!
//! The new key, the old key's new end and the `rotate` event are written in one DynamoDB
//! transaction: never a new key without the old one's end set, nor the reverse. The old
//! key's cache entry is then replaced with the same care as on revoke, so a fill can never
//! bring back its longer life.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::issue::{Issued, IssuedView};
use super::publish::{publish, Change};
use super::{retry, OpError};
use crate::app::App;
use crate::domain::audit::{Acting, Actor, Origin};
use crate::domain::key::{mint, mint_admin, KeyHash, Minted};
use crate::domain::outcome::Outcome;
use crate::domain::record::{KeyRecord, KeyView, Status};
use crate::domain::rotation::{ended, may_rotate_itself, successor, Rotator};
use crate::domain::time::to_millis;
use crate::store::Rotation;

/// The rotation's outcome: the replacement (shown once) and the old key as it now is.
#[derive(Debug)]
pub struct Rotated {
    pub issued: Issued,
    pub old: KeyRecord,
    /// False when the old key's cache entry could not be replaced: it may then be accepted
    /// past its new end for up to the cache TTL.
    pub cache_updated: bool,
}

/// Rotates the key with this hash. Refused, with the guard's own outcomes, for a key that
/// is revoked or expired (a rotated key past its grace included); `AlreadyRotated` for a
/// key still in the grace period of an earlier rotation; and, when the key holder rotates
/// (`origin`), unless the key may rotate itself (`domain/rotation.rs`).
pub async fn rotate(
    app: &App,
    hash: &KeyHash,
    grace: u64,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<Rotated, OpError> {
    let now = to_millis(now);
    let (issued, old) = retry::on_conflict(|| attempt(app, hash, grace, now, origin)).await?;
    tracing::Span::current().record("key_id", old.id.as_str());
    // The new key exists now and must not be lost, so a failed cache write is not an error
    // answer: the response says what to do instead (see `publish.rs`).
    let cache_updated = publish(app, hash, &old, now, Change::Rotate).await.is_ok();
    if !old.limits.is_empty() {
        app.cache
            .carry_rate_window(hash, &issued.key.hash(), old.identity_id.as_ref())
            .await;
    }
    Ok(Rotated {
        issued,
        old,
        cache_updated,
    })
}

async fn attempt(
    app: &App,
    hash: &KeyHash,
    grace: u64,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<(Issued, KeyRecord), OpError> {
    let old = app
        .store
        .get(hash)
        .await?
        .ok_or(OpError::Refused(Outcome::Invalid))?;
    match old.status_at(now) {
        Status::Revoked => return Err(OpError::Refused(Outcome::Revoked)),
        Status::Expired => return Err(OpError::Refused(Outcome::Expired)),
        Status::Active if old.rotated_to.is_some() => return Err(OpError::AlreadyRotated),
        Status::Active => {}
    }
    let rotator = match origin.actor {
        Acting::KeyHolder => Rotator::KeyHolder,
        Acting::Bootstrap | Acting::Admin { .. } | Acting::System(_) => Rotator::Administrator,
    };
    if rotator == Rotator::KeyHolder {
        let predecessor = match &old.rotated_from {
            Some(id) => app.store.find_by_id(id).await?.map(|(_, record)| record),
            None => None,
        };
        may_rotate_itself(&old, predecessor.as_ref(), now)?;
    }
    let Minted { key, id } = if old.role.is_some() {
        mint_admin()?
    } else {
        mint(&app.config.key_prefix)?
    };
    let live = app.cache.live_key_quota(hash, &old).await;
    let fresh = KeyRecord::new(id, old.name.clone(), key.display_prefix(), now);
    let mut new = successor(&old, fresh, rotator, live.as_ref(), now);
    if new.role.is_some() {
        new.created_by = Some(Actor::of(&origin.actor, &new.id));
    }
    let mut old_ended = ended(&old, &new.id, grace, now);
    old_ended.rotated_to_hash = Some(key.hash());
    app.store
        .rotate(&Rotation {
            hash,
            old: &old,
            old_ended: &old_ended,
            new_hash: &key.hash(),
            new: &new,
            origin,
            now,
        })
        .await?;
    Ok((Issued { key, record: new }, old_ended))
}

/// The rotate response: the new key (shown once) as issue shows it, plus where the old key
/// now stands.
#[derive(Serialize)]
pub struct RotatedView<'a> {
    #[serde(flatten)]
    pub new: IssuedView<'a>,
    pub old_key: KeyView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl Rotated {
    pub fn view(&self, now: DateTime<Utc>) -> RotatedView<'_> {
        RotatedView {
            new: self.issued.view(now),
            old_key: self.old.view(now),
            warning: (!self.cache_updated).then(|| {
                "The old key's cache entry could not be updated, so it may be accepted past \
                 its new end for up to the cache TTL. Revoke it if it must stop at once."
                    .to_owned()
            }),
        }
    }
}
