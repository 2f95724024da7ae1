//! Changing a key's fields: which fields a change names, and the rules it must obey. The
//! expiry may only move earlier: an update can end a key sooner, never give it a longer
//! life. A quota that is sent is a new setting, even with the same numbers.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::domain::identity::IdentityId;
use crate::domain::invalid::Invalid;
use crate::domain::limit::{Limits, Quota, RateLimit, Refill};
use crate::domain::record::KeyRecord;
use crate::domain::scope::Scopes;
use crate::domain::time::timestamp;

/// The fields an update may name, in the order their changes are reported.
pub const FIELDS: [&str; 10] = [
    "name",
    "owner",
    "identity_id",
    "meta",
    "scopes",
    "expires_at",
    "rate_limit",
    "limits",
    "quota",
    "self_rotation",
];

/// The fields a request asks to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyUpdate {
    pub name: Option<String>,
    pub owner: Option<Option<String>>,
    /// The identity the key moves to; `Some(None)` takes it out of its identity.
    pub identity_id: Option<Option<IdentityId>>,
    pub meta: Option<Option<Map<String, Value>>>,
    pub scopes: Option<Scopes>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The limit named `default`, set or removed, the other limits left alone.
    pub rate_limit: Option<Option<RateLimit>>,
    /// The whole list of limits (never sent together with `rate_limit`).
    pub limits: Option<Limits>,
    /// The quota's new `remaining` and refill; `Some(None)` removes the quota.
    pub quota: Option<Option<(u64, Option<Refill>)>>,
    pub self_rotation: Option<bool>,
}

impl KeyUpdate {
    /// The record after this update, and the names of the fields that really changed. A
    /// quota that is sent is a new setting, even with the same numbers: it starts over from
    /// its `remaining`, in a new generation that live counters will not carry on from.
    pub fn apply(
        &self,
        record: &KeyRecord,
        now: DateTime<Utc>,
    ) -> Result<(KeyRecord, Vec<String>), Invalid> {
        let mut new = record.clone();
        new.version += 1;
        if let Some(at) = self.expires_at {
            if record.expires_at.is_some_and(|current| at > current) {
                return Err(Invalid(format!(
                    "`expires_at` may only move earlier than the key's current expiry, {}.",
                    timestamp(record.expires_at.unwrap_or(at))
                )));
            }
            new.expires_at = Some(at);
        }
        if let Some(name) = &self.name {
            new.name = name.clone();
        }
        if let Some(owner) = &self.owner {
            new.owner = owner.clone();
        }
        if let Some(identity_id) = &self.identity_id {
            new.identity_id = identity_id.clone();
        }
        if let Some(meta) = &self.meta {
            new.meta = meta.clone();
        }
        if let Some(scopes) = &self.scopes {
            new.scopes = scopes.clone();
        }
        if let Some(limits) = &self.limits {
            new.limits = limits.clone();
        }
        if let Some(rate_limit) = self.rate_limit {
            new.limits = new.limits.with_rate_limit(rate_limit).map_err(|_| {
                Invalid(
                    "The key already has 5 other limits: `rate_limit` (the limit named \
                     `default`) would make 6. Send `limits` instead."
                        .to_owned(),
                )
            })?;
        }
        let mut quota_set = false;
        if let Some(quota) = self.quota {
            // The new version: it only grows, also across a removal and a new quota.
            let generation = new.version;
            new.quota =
                quota.map(|(remaining, refill)| Quota::set(remaining, refill, generation, now));
            quota_set = new.quota.is_some() || record.quota.is_some();
        }
        if let Some(allowed) = self.self_rotation {
            new.self_rotation = allowed;
        }
        let mut changes = Vec::new();
        for (field, changed) in [
            ("name", new.name != record.name),
            ("owner", new.owner != record.owner),
            ("identity_id", new.identity_id != record.identity_id),
            ("meta", new.meta != record.meta),
            ("scopes", new.scopes != record.scopes),
            ("expires_at", new.expires_at != record.expires_at),
            (
                "rate_limit",
                self.rate_limit.is_some() && new.limits != record.limits,
            ),
            (
                "limits",
                self.limits.is_some() && new.limits != record.limits,
            ),
            ("quota", quota_set),
            ("self_rotation", new.self_rotation != record.self_rotation),
        ] {
            if changed {
                changes.push(field.to_owned());
            }
        }
        Ok((new, changes))
    }
}
