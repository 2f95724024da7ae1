//! Rotation's rules: how long the old key lives on, how it ends, and what the replacement
//! inherits. The operation that applies them is `ops/rotate.rs`.

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::key::KeyId;
use crate::domain::limit::{Quota, QuotaCount};
use crate::domain::record::{KeyRecord, State};
use crate::domain::time::to_millis;

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
/// (its live count, or else the stored one). From here on the two keys count separately:
/// uses of the old key in its grace period do not draw on the new key's quota.
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
}
