//! An identity: the customer or tenant behind keys. Its limits and quota are shared by every
//! key that belongs to it, and suspending it stops all of them at once.

use std::fmt;

use chrono::{DateTime, Utc};
use rand::rngs::OsRng;
use rand::TryRngCore;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::domain::limit::{Limits, Quota, QuotaCount, Refill};
use crate::domain::record::QuotaView;
use crate::domain::time::timestamp;

const ID_PREFIX: &str = "idt_";
const ID_BYTES: usize = 12;
/// The longest `external_id`, in characters.
pub const MAX_EXTERNAL_ID_CHARS: usize = 200;

/// An identity's public id: `idt_` and 24 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityId(String);

impl IdentityId {
    pub fn generate() -> Result<Self, rand::rand_core::OsError> {
        let mut bytes = [0u8; ID_BYTES];
        OsRng.try_fill_bytes(&mut bytes)?;
        Ok(Self(format!("{ID_PREFIX}{}", hex::encode(bytes))))
    }

    pub fn parse(s: &str) -> Option<Self> {
        let hex_part = s.strip_prefix(ID_PREFIX)?;
        (hex_part.len() == ID_BYTES * 2
            && hex_part
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdentityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for IdentityId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What is stored about an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: IdentityId,
    /// The caller's own name for the customer (`acme`): unique in the deployment, so that
    /// the caller can find the identity without keeping Keygate's id.
    pub external_id: String,
    pub meta: Option<Map<String, Value>>,
    /// Shared by every key of the identity: a request must pass these and the key's own.
    pub limits: Limits,
    pub quota: Option<Quota>,
    /// While suspended, every key of the identity is refused as a revoked key is.
    pub suspended: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change, as a key's: writes are conditioned on it and the cache keeps
    /// the newest.
    pub version: u64,
}

/// What a handler and the verify API learn about a key's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityInfo {
    pub id: IdentityId,
    pub external_id: String,
    /// The identity's `meta` as JSON text (see `cache/entry.rs` for why text).
    #[serde(skip)]
    pub meta: Option<String>,
}

impl IdentityInfo {
    /// The `meta` object, parsed back for an answer.
    pub fn meta_value(&self) -> Option<Value> {
        self.meta
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
    }
}

/// The fields an identity update may name, in the order their changes are reported.
pub const IDENTITY_FIELDS: [&str; 4] = ["external_id", "meta", "limits", "quota"];

/// What a request asks to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityUpdate {
    pub external_id: Option<String>,
    pub meta: Option<Option<Map<String, Value>>>,
    pub limits: Option<Limits>,
    /// The quota's new `remaining` and refill; `Some(None)` removes it.
    pub quota: Option<Option<(u64, Option<Refill>)>>,
    /// Suspend (`true`) or resume (`false`): the suspend and resume routes, never a PATCH.
    pub suspended: Option<bool>,
}

impl IdentityUpdate {
    /// The identity after this update, and the names of the fields that really changed. A
    /// quota that is sent is a new setting (a new generation), as for a key.
    pub fn apply(&self, old: &Identity, now: DateTime<Utc>) -> (Identity, Vec<String>) {
        let mut new = old.clone();
        new.version += 1;
        new.updated_at = now;
        if let Some(external_id) = &self.external_id {
            new.external_id = external_id.clone();
        }
        if let Some(meta) = &self.meta {
            new.meta = meta.clone();
        }
        if let Some(limits) = &self.limits {
            new.limits = limits.clone();
        }
        if let Some(quota) = self.quota {
            let generation = old.quota.as_ref().map_or(0, |q| q.generation + 1);
            new.quota =
                quota.map(|(remaining, refill)| Quota::set(remaining, refill, generation, now));
        }
        if let Some(suspended) = self.suspended {
            new.suspended = suspended;
        }
        let mut changes = Vec::new();
        for (field, changed) in [
            ("external_id", new.external_id != old.external_id),
            ("meta", new.meta != old.meta),
            ("limits", new.limits != old.limits),
            ("quota", self.quota.is_some()),
            ("suspended", new.suspended != old.suspended),
        ] {
            if changed {
                changes.push(field.to_owned());
            }
        }
        (new, changes)
    }
}

impl Identity {
    pub fn info(&self) -> IdentityInfo {
        IdentityInfo {
            id: self.id.clone(),
            external_id: self.external_id.clone(),
            meta: self
                .meta
                .as_ref()
                .map(|m| serde_json::to_string(m).expect("a JSON object always serializes")),
        }
    }

    /// The identity as the admin API shows it, with the quota's live count when the cache
    /// has one.
    pub fn view(&self, now: DateTime<Utc>, live: Option<&QuotaCount>) -> IdentityView<'_> {
        IdentityView {
            id: self.id.as_str(),
            external_id: &self.external_id,
            meta: self.meta.as_ref(),
            limits: &self.limits,
            quota: self.quota.as_ref().map(|q| QuotaView {
                remaining: q.remaining_at(live, now),
                refill: q.refill,
            }),
            status: if self.suspended {
                "suspended"
            } else {
                "active"
            },
            created_at: timestamp(self.created_at),
            updated_at: timestamp(self.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct IdentityView<'a> {
    pub id: &'a str,
    pub external_id: &'a str,
    pub meta: Option<&'a Map<String, Value>>,
    pub limits: &'a Limits,
    pub quota: Option<QuotaView>,
    /// `active` or `suspended`.
    pub status: &'static str,
    pub created_at: String,
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        Identity {
            id: IdentityId::generate().unwrap(),
            external_id: "acme".to_owned(),
            meta: None,
            limits: Limits::default(),
            quota: None,
            suspended: false,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    #[test]
    fn ids_round_trip_and_refuse_other_kinds() {
        let id = IdentityId::generate().unwrap();
        assert!(id.as_str().starts_with("idt_"));
        assert_eq!(IdentityId::parse(id.as_str()), Some(id));
        for bad in [
            "idt_",
            "key_0123456789abcdef01234567",
            "idt_0123456789ABCDEF01234567",
            "idt_0123456789abcdef0123456",
        ] {
            assert_eq!(IdentityId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_update_reports_only_what_changed_and_bumps_the_version() {
        let old = identity();
        let now = old.created_at + chrono::TimeDelta::seconds(5);
        let update = IdentityUpdate {
            external_id: Some("acme".to_owned()),
            suspended: Some(true),
            ..IdentityUpdate::default()
        };
        let (new, changes) = update.apply(&old, now);
        assert_eq!(changes, ["suspended"]);
        assert!(new.suspended);
        assert_eq!(new.version, 1);
        assert_eq!(new.updated_at, now);
    }

    #[test]
    fn a_quota_that_is_sent_again_starts_a_new_generation() {
        let mut old = identity();
        old.quota = Some(Quota::set(10, None, 3, old.created_at));
        let update = IdentityUpdate {
            quota: Some(Some((10, None))),
            ..IdentityUpdate::default()
        };
        let (new, changes) = update.apply(&old, old.created_at);
        assert_eq!(changes, ["quota"]);
        assert_eq!(new.quota.unwrap().generation, 4);
    }

    #[test]
    fn the_info_carries_meta_as_text() {
        let mut identity = identity();
        identity.meta = serde_json::json!({"plan": "pro"}).as_object().cloned();
        let info = identity.info();
        assert_eq!(info.meta.as_deref(), Some(r#"{"plan":"pro"}"#));
        assert_eq!(info.meta_value(), Some(serde_json::json!({"plan": "pro"})));
    }
}
