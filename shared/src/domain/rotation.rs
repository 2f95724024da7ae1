//! Rotation's rules: who may rotate a key, how long the old key lives on, how it ends, and
//! what the replacement inherits. The operation that applies them is `ops/rotate.rs`.
//!
//! A key rotates itself (`POST rotate` with the key) only if an administrator allowed it
//! (`self_rotation`), and never while its own predecessor is still in its grace period, so
//! a leaked key cannot grow a chain of successors. A successor it makes itself is revoked
//! with it. During a grace period the old key's requests count against the new key's
//! limits: the pair has one rate limit and one quota.

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::key::KeyId;
use crate::domain::limit::{Quota, QuotaCount};
use crate::domain::record::{KeyRecord, State, Status};
use crate::domain::time::to_millis;

/// Who rotates a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotator {
    Administrator,
    /// The key itself, through `POST rotate`.
    KeyHolder,
}

/// Why a key may not rotate itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SelfRotationRefused {
    /// The key does not allow it (`self_rotation` is off).
    #[error("the key does not allow self-rotation")]
    NotAllowed,
    /// Its predecessor is still in its grace period, which ends at `until`.
    #[error("the key's predecessor is still in its grace period")]
    PredecessorInGrace { until: Option<DateTime<Utc>> },
}

/// How many keys one revoke ends at most in one DynamoDB transaction: the key and the
/// successors it made itself, each an update and an audit event, and a leak report's event
/// (DynamoDB allows 100 items).
pub const MAX_FAMILY: usize = 49;

/// Whether `key` may rotate itself at `now`; `predecessor` is the key it replaced, if any.
pub fn may_rotate_itself(
    key: &KeyRecord,
    predecessor: Option<&KeyRecord>,
    now: DateTime<Utc>,
) -> Result<(), SelfRotationRefused> {
    if !key.self_rotation {
        return Err(SelfRotationRefused::NotAllowed);
    }
    match predecessor {
        Some(p) if p.status_at(now) == Status::Active => {
            Err(SelfRotationRefused::PredecessorInGrace {
                until: p.expires_at,
            })
        }
        _ => Ok(()),
    }
}

/// The replacement's record, before its id and display prefix: what it inherits from
/// `old`, and whether it was made by the key itself.
pub fn successor(
    old: &KeyRecord,
    fresh: KeyRecord,
    rotator: Rotator,
    live: Option<&QuotaCount>,
    now: DateTime<Utc>,
) -> KeyRecord {
    KeyRecord {
        owner: old.owner.clone(),
        identity_id: old.identity_id.clone(),
        meta: old.meta.clone(),
        scopes: old.scopes.clone(),
        limits: old.limits.clone(),
        quota: inherited_quota(old, live, now),
        rotated_from: Some(old.id.clone()),
        self_rotation: old.self_rotation,
        self_rotated: rotator == Rotator::KeyHolder,
        role: old.role,
        // A time-limited admin credential stays time-limited: rotating it replaces the
        // secret, not the grant.
        expires_at: if old.role.is_some() {
            old.expires_at
        } else {
            fresh.expires_at
        },
        ..fresh
    }
}

pub const DEFAULT_GRACE_SECONDS: u64 = 86_400;
pub const MAX_GRACE_SECONDS: u64 = 604_800;

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

/// The replacement's quota: the same setting, starting from what the old key has left now
/// (its live count, or else the stored one). From here on the old key's uses in its grace
/// period draw on the new key's quota.
pub fn inherited_quota(
    old: &KeyRecord,
    live: Option<&QuotaCount>,
    now: DateTime<Utc>,
) -> Option<Quota> {
    let quota = old.quota.as_ref()?;
    Some(Quota::set(
        quota.remaining_at(live, now),
        quota.refill,
        0,
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_key_rotates_itself_only_when_allowed_and_its_predecessor_has_ended() {
        let mut key = record(None);
        assert_eq!(
            may_rotate_itself(&key, None, now()),
            Err(SelfRotationRefused::NotAllowed)
        );
        key.self_rotation = true;
        assert_eq!(may_rotate_itself(&key, None, now()), Ok(()));
        let in_grace = ended(&record(None), &key.id, 60, now());
        assert_eq!(
            may_rotate_itself(&key, Some(&in_grace), now()),
            Err(SelfRotationRefused::PredecessorInGrace {
                until: in_grace.expires_at
            })
        );
        let later = now() + TimeDelta::seconds(61);
        assert_eq!(may_rotate_itself(&key, Some(&in_grace), later), Ok(()));
        let revoked_at_once = ended(&record(None), &key.id, 0, now());
        assert_eq!(
            may_rotate_itself(&key, Some(&revoked_at_once), now()),
            Ok(())
        );
    }

    #[test]
    fn a_successor_inherits_the_right_to_rotate_and_knows_who_made_it() {
        let mut old = record(None);
        old.self_rotation = true;
        let fresh = record(None);
        let by_key = successor(&old, fresh.clone(), Rotator::KeyHolder, None, now());
        assert!(by_key.self_rotation && by_key.self_rotated);
        assert_eq!(by_key.rotated_from, Some(old.id.clone()));
        let by_admin = successor(&old, fresh, Rotator::Administrator, None, now());
        assert!(by_admin.self_rotation && !by_admin.self_rotated);
    }
}
