//! A key's record and its lifecycle: active, revoked, expired.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::audit::Actor;
use crate::domain::identity::IdentityId;
use crate::domain::key::{KeyHash, KeyId};
use crate::domain::limit::{Limits, Quota, QuotaCount, RateLimit, Refill};
use crate::domain::outcome::KeyInfo;
use crate::domain::role::Role;
use crate::domain::scope::Scopes;
use crate::domain::time::timestamp;

/// What is stored about a key. Never the key itself: the store keys this record by the
/// key's hash.
///
/// An admin credential is a record of the same kind with a `role`: it is stored, cached,
/// verified, revoked and rotated by the same code as a client key, so that revoking one
/// takes effect on the very next request, cached or not. The two never mix: their secrets
/// and ids have their own prefixes, and the guard refuses a record with a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: KeyId,
    pub name: String,
    /// The display prefix (`kg_3fa9c1d2`), for people to recognise the key.
    pub prefix: String,
    pub state: State,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who the key belongs to (a team, a customer id), for people and searches.
    pub owner: Option<String>,
    /// The caller's own JSON object, kept and returned as given, never interpreted.
    pub meta: Option<Map<String, Value>>,
    pub scopes: Scopes,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The key that replaced this one by rotation.
    pub rotated_to: Option<KeyId>,
    /// That key's hash: while this key is in its grace period, its requests count against
    /// the replacement's limits (one rate limit and one quota for the pair), and revoking
    /// this key finds a replacement it made itself without a lookup by id.
    pub rotated_to_hash: Option<KeyHash>,
    /// The key this one replaced.
    pub rotated_from: Option<KeyId>,
    /// Whether the key may rotate itself (`POST rotate` with the key). Off unless an
    /// administrator allows it: a leaked key must not be able to mint its own successor.
    pub self_rotation: bool,
    /// Whether this key was made by its predecessor rotating itself: such a key is revoked
    /// with its predecessor, so a thief's successor dies with the leaked key.
    pub self_rotated: bool,
    /// The identity the key belongs to: its limits and quota are shared with the
    /// identity's other keys, and suspending it refuses the key.
    pub identity_id: Option<IdentityId>,
    /// Named rate limits; the `rate_limit` field is the one named `default`.
    pub limits: Limits,
    pub quota: Option<Quota>,
    /// Set on admin credentials only: what the credential may do.
    pub role: Option<Role>,
    /// Who created it (admin credentials; keys have their `issue` event).
    pub created_by: Option<Actor>,
    /// Bumped by every change. DynamoDB writes are conditioned on it (optimistic
    /// concurrency), and the cache keeps the highest version it is given, so two racing
    /// changes can never leave the older one in the cache.
    pub version: u64,
}

/// The stored state. Expiry is not stored as a state: it follows from `expires_at` and the
/// clock, so a key expires on time without anything being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Active,
    Revoked,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(State::Active),
            "revoked" => Some(State::Revoked),
            _ => None,
        }
    }
}

/// The status a key has at a given moment, as shown to people and checked by the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Revoked,
    Expired,
}

/// Revocation wins over expiry: a revoked key stays revoked whatever its expiry says.
pub fn status_at(state: State, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Status {
    match state {
        State::Revoked => Status::Revoked,
        State::Active if expires_at.is_some_and(|at| at <= now) => Status::Expired,
        State::Active => Status::Active,
    }
}

impl KeyRecord {
    /// An active key with nothing optional set.
    pub fn new(id: KeyId, name: String, prefix: String, created_at: DateTime<Utc>) -> Self {
        Self {
            id,
            name,
            prefix,
            state: State::Active,
            created_at,
            expires_at: None,
            revoked_at: None,
            owner: None,
            meta: None,
            scopes: Scopes::default(),
            last_used_at: None,
            rotated_to: None,
            rotated_to_hash: None,
            rotated_from: None,
            self_rotation: false,
            self_rotated: false,
            identity_id: None,
            limits: Limits::default(),
            quota: None,
            role: None,
            created_by: None,
            version: 0,
        }
    }

    pub fn status_at(&self, now: DateTime<Utc>) -> Status {
        status_at(self.state, self.expires_at, now)
    }

    /// What a handler learns about this key when it verifies.
    pub fn key_info(&self) -> KeyInfo {
        KeyInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            owner: self.owner.clone(),
            identity: None,
            scopes: self.scopes.clone(),
            role: self.role,
            rate: None,
            quota_remaining: None,
        }
    }

    /// An admin credential as the admin API shows it: never its secret or its hash.
    pub fn admin_view(&self, now: DateTime<Utc>) -> AdminView<'_> {
        AdminView {
            id: self.id.as_str(),
            name: &self.name,
            role: self.role,
            prefix: &self.prefix,
            status: self.status_at(now),
            created_at: timestamp(self.created_at),
            expires_at: self.expires_at.map(timestamp),
            revoked_at: self.revoked_at.map(timestamp),
            last_used_at: self.last_used_at.map(timestamp),
            created_by: self.created_by.as_ref(),
            rotated_from: self.rotated_from.as_ref().map(KeyId::as_str),
        }
    }

    /// The public view of the record, as every endpoint returns it, with the quota as
    /// stored (at most a minute behind the live count).
    pub fn view(&self, now: DateTime<Utc>) -> KeyView<'_> {
        self.view_live(now, None)
    }

    /// The public view, with the quota's live count from the cache when there is one.
    pub fn view_live(&self, now: DateTime<Utc>, live: Option<&QuotaCount>) -> KeyView<'_> {
        KeyView {
            id: self.id.as_str(),
            name: &self.name,
            prefix: &self.prefix,
            status: self.status_at(now),
            created_at: timestamp(self.created_at),
            expires_at: self.expires_at.map(timestamp),
            revoked_at: self.revoked_at.map(timestamp),
            owner: self.owner.as_deref(),
            identity_id: self.identity_id.as_ref().map(IdentityId::as_str),
            meta: self.meta.as_ref(),
            scopes: self.scopes.as_slice(),
            last_used_at: self.last_used_at.map(timestamp),
            rotated_to: self.rotated_to.as_ref().map(KeyId::as_str),
            rotated_from: self.rotated_from.as_ref().map(KeyId::as_str),
            self_rotation: self.self_rotation,
            rate_limit: self.limits.rate_limit(),
            limits: &self.limits,
            quota: self.quota.as_ref().map(|q| QuotaView {
                remaining: q.remaining_at(live, now),
                refill: q.refill,
            }),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct KeyView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub prefix: &'a str,
    pub status: Status,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub owner: Option<&'a str>,
    pub identity_id: Option<&'a str>,
    pub meta: Option<&'a Map<String, Value>>,
    pub scopes: &'a [String],
    pub last_used_at: Option<String>,
    pub rotated_to: Option<&'a str>,
    pub rotated_from: Option<&'a str>,
    pub self_rotation: bool,
    /// The limit named `default`, as before named limits existed.
    pub rate_limit: Option<RateLimit>,
    pub limits: &'a Limits,
    pub quota: Option<QuotaView>,
}

#[derive(Debug, Serialize)]
pub struct AdminView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub role: Option<Role>,
    pub prefix: &'a str,
    pub status: Status,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
    pub created_by: Option<&'a Actor>,
    pub rotated_from: Option<&'a str>,
}

/// A quota as shown: the calls left now (a refill period that has begun counts as full).
#[derive(Debug, Serialize)]
pub struct QuotaView {
    pub remaining: u64,
    pub refill: Option<Refill>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn an_active_key_without_expiry_stays_active() {
        assert_eq!(status_at(State::Active, None, now()), Status::Active);
    }

    #[test]
    fn an_active_key_expires_at_its_expiry_time() {
        let at = now();
        assert_eq!(
            status_at(State::Active, Some(at), at - TimeDelta::milliseconds(1)),
            Status::Active
        );
        assert_eq!(status_at(State::Active, Some(at), at), Status::Expired);
    }

    #[test]
    fn revocation_wins_over_expiry() {
        let past = now() - TimeDelta::days(1);
        assert_eq!(
            status_at(State::Revoked, Some(past), now()),
            Status::Revoked
        );
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in [State::Active, State::Revoked] {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("expired"), None);
    }
}
