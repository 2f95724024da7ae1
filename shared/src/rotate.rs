//! Rotation with a grace period: a new key that inherits the old one's name, owner, meta
//! and scopes, while the old key keeps working until `now + grace` (or stops at once with a
//! grace of 0), so a leaked or old key can be replaced without an outage.
//!
//! The new key, the old key's new end and the `rotate` event are written in one DynamoDB
//! transaction: never a new key without the old one's end set, nor the reverse. The old
//! key's cache entry is then replaced with the same care as on revoke, so a fill can never
//! bring back its longer life.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use crate::app::App;
use crate::audit::Origin;
use crate::error::ApiError;
use crate::issue::Issued;
use crate::key::{ApiKey, KeyHash, KeyId};
use crate::record::{to_millis, KeyRecord, State, Status};
use crate::store::StoreError;
use crate::verify::Denial;

pub const DEFAULT_GRACE_SECONDS: u64 = 86_400;
pub const MAX_GRACE_SECONDS: u64 = 604_800;

/// `grace_seconds` from an optional JSON body: 0 to 604800, default 86400.
pub fn grace_seconds(body: Option<&Map<String, Value>>) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "`grace_seconds` must be a whole number from 0 to {MAX_GRACE_SECONDS}."
        ))
    };
    match body.and_then(|b| b.get("grace_seconds")) {
        None | Some(Value::Null) => Ok(DEFAULT_GRACE_SECONDS),
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|g| *g <= MAX_GRACE_SECONDS)
            .ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

/// The rotation's outcome: the replacement (shown once) and the old key as it now is.
#[derive(Debug)]
pub struct Rotated {
    pub issued: Issued,
    pub old: KeyRecord,
    /// False when the old key's cache entry could not be replaced: it may then be accepted
    /// past its new end for up to the cache TTL.
    pub cache_updated: bool,
}

/// The old key's record once rotated: it ends at `now + grace` (or earlier, if it was due
/// to expire sooner), or is revoked at once when `grace` is 0.
pub fn ended(old: &KeyRecord, new_id: &KeyId, grace: u64, now: DateTime<Utc>) -> KeyRecord {
    let mut ended = old.clone();
    ended.rotated_to = Some(new_id.clone());
    ended.version += 1;
    if grace == 0 {
        ended.state = State::Revoked;
        ended.revoked_at = Some(now);
    } else {
        let end = to_millis(now + TimeDelta::seconds(grace as i64));
        ended.expires_at = Some(old.expires_at.map_or(end, |at| at.min(end)));
    }
    ended
}

/// Rotates the key with this hash. Refused, with the guard's own messages, for a key that
/// is revoked or expired (a rotated key past its grace included); 409 for a key that is
/// still in the grace period of an earlier rotation.
pub async fn rotate(
    app: &App,
    hash: &KeyHash,
    grace: u64,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<Rotated, ApiError> {
    let now = to_millis(now);
    // Read, check, then write on the condition that nothing changed in between; a
    // concurrent change (a revoke, another rotation) sends us round again.
    for _ in 0..3 {
        let old = app
            .store
            .get(hash)
            .await?
            .ok_or(ApiError::Forbidden(Denial::Invalid))?;
        match old.status_at(now) {
            Status::Revoked => return Err(ApiError::Forbidden(Denial::Revoked)),
            Status::Expired => return Err(ApiError::Forbidden(Denial::Expired)),
            Status::Active if old.rotated_to.is_some() => {
                return Err(ApiError::Conflict(
                    "This key was already rotated and is in its grace period. Rotate its \
                     replacement instead, or revoke this key to end it now."
                        .to_owned(),
                ))
            }
            Status::Active => {}
        }
        let key = ApiKey::generate(&app.config.key_prefix)
            .map_err(|e| ApiError::Internal(format!("OS random source failed: {e}")))?;
        let id = KeyId::generate()
            .map_err(|e| ApiError::Internal(format!("OS random source failed: {e}")))?;
        let new = KeyRecord {
            owner: old.owner.clone(),
            meta: old.meta.clone(),
            scopes: old.scopes.clone(),
            rate_limit: old.rate_limit,
            quota: inherited_quota(app, hash, &old, now).await,
            rotated_from: Some(old.id.clone()),
            ..KeyRecord::new(id, old.name.clone(), key.display_prefix(), now)
        };
        let old_ended = ended(&old, &new.id, grace, now);
        match app
            .store
            .rotate(hash, &old, &old_ended, &key.hash(), &new, origin, now)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => continue,
            Err(err) => return Err(err.into()),
        }
        tracing::Span::current().record("key_id", old.id.as_str());
        let cache_updated = match app.cache.replace(hash, &old_ended, now).await {
            Ok(()) => true,
            Err(err) => {
                // The new key exists now and must not be lost, so this is not an error
                // answer: the response says what to do instead.
                tracing::error!(error = %err, "key rotated but the old key's cache entry was not replaced");
                false
            }
        };
        return Ok(Rotated {
            issued: Issued { key, record: new },
            old: old_ended,
            cache_updated,
        });
    }
    Err(ApiError::Conflict(
        "The key changed while it was being rotated; retry.".to_owned(),
    ))
}

/// The replacement's quota: the same setting, starting from what the old key has left now
/// (its live count in Redis, or else the stored one). From here on the two keys count
/// separately: uses of the old key in its grace period do not draw on the new key's quota.
async fn inherited_quota(
    app: &App,
    hash: &KeyHash,
    old: &KeyRecord,
    now: DateTime<Utc>,
) -> Option<crate::limit::Quota> {
    let mut quota = old.quota.clone()?;
    app.cache.show_live_quota(hash, &mut quota).await;
    Some(crate::limit::Quota::set(
        quota.remaining_at(now),
        quota.refill,
        0,
        now,
    ))
}

/// The rotate response: the new key (shown once) as issue shows it, plus where the old key
/// now stands.
#[derive(serde::Serialize)]
pub struct RotatedView<'a> {
    #[serde(flatten)]
    pub new: crate::issue::IssuedView<'a>,
    pub old_key: crate::record::KeyView<'a>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn record(expires_in: Option<TimeDelta>) -> KeyRecord {
        KeyRecord {
            expires_at: expires_in.map(|d| now() + d),
            ..KeyRecord::new(KeyId::generate().unwrap(), "n".into(), "kg_0".into(), now())
        }
    }

    #[test]
    fn grace_defaults_to_a_day_and_is_bounded() {
        assert_eq!(grace_seconds(None).unwrap(), 86_400);
        let body = |v: Value| json!({ "grace_seconds": v }).as_object().unwrap().clone();
        assert_eq!(grace_seconds(Some(&body(json!(0)))).unwrap(), 0);
        assert_eq!(grace_seconds(Some(&body(json!(604_800)))).unwrap(), 604_800);
        for bad in [json!(604_801), json!(-1), json!(1.5), json!("60")] {
            assert!(grace_seconds(Some(&body(bad.clone()))).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_old_key_ends_after_the_grace_period() {
        let new_id = KeyId::generate().unwrap();
        let old = ended(&record(None), &new_id, 60, now());
        assert_eq!(old.expires_at, Some(now() + TimeDelta::seconds(60)));
        assert_eq!(old.state, State::Active);
        assert_eq!(old.rotated_to, Some(new_id));
    }

    #[test]
    fn an_earlier_expiry_is_kept() {
        let new_id = KeyId::generate().unwrap();
        let old = ended(&record(Some(TimeDelta::seconds(10))), &new_id, 60, now());
        assert_eq!(old.expires_at, Some(now() + TimeDelta::seconds(10)));
    }

    #[test]
    fn a_grace_of_zero_revokes_at_once() {
        let new_id = KeyId::generate().unwrap();
        let old = ended(&record(None), &new_id, 0, now());
        assert_eq!(old.state, State::Revoked);
        assert_eq!(old.revoked_at, Some(now()));
    }
}
