//! Updating a key's fields (`PATCH admin/api/keys/{id}`). The expiry may only move earlier:
//! an update can end a key sooner, never give it a longer life. Every update takes effect on
//! the very next verification, cached or not, as revocation does.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::app::App;
use crate::audit::Origin;
use crate::error::ApiError;
use crate::http::text_field;
use crate::issue::{meta_field, owner_field, scopes_field, MAX_NAME_CHARS};
use crate::key::KeyHash;
use crate::limit::{quota_field, rate_limit_field, Quota, RateLimit, Refill};
use crate::record::{timestamp, to_millis, KeyRecord};
use crate::scope::Scopes;
use crate::store::StoreError;

const FIELDS: [&str; 7] = [
    "name",
    "owner",
    "meta",
    "scopes",
    "expires_at",
    "rate_limit",
    "quota",
];

/// The fields a request asks to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyUpdate {
    pub name: Option<String>,
    pub owner: Option<Option<String>>,
    pub meta: Option<Option<Map<String, Value>>>,
    pub scopes: Option<Scopes>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rate_limit: Option<Option<RateLimit>>,
    /// The quota's new `remaining` and refill; `Some(None)` removes the quota.
    pub quota: Option<Option<(u64, Option<Refill>)>>,
}

impl KeyUpdate {
    pub fn from_json(body: &Map<String, Value>) -> Result<Self, ApiError> {
        if let Some(unknown) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(ApiError::BadRequest(format!(
                "`{}` cannot be updated; send any of {}.",
                unknown
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(40)
                    .collect::<String>(),
                FIELDS.join(", ")
            )));
        }
        if body.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "Send at least one of {}.",
                FIELDS.join(", ")
            )));
        }
        let expires_at = match body.get("expires_at") {
            None => None,
            Some(Value::String(s)) => Some(
                DateTime::parse_from_rfc3339(s.trim())
                    .map_err(|_| {
                        ApiError::BadRequest(
                            "`expires_at` must be an RFC 3339 date-time such as 2030-01-31T12:00:00Z."
                                .to_owned(),
                        )
                    })?
                    .with_timezone(&Utc),
            ),
            Some(Value::Null) => {
                return Err(ApiError::BadRequest(
                    "`expires_at` may only move earlier; it cannot be removed.".to_owned(),
                ))
            }
            Some(_) => {
                return Err(ApiError::BadRequest(
                    "`expires_at` must be a string (RFC 3339).".to_owned(),
                ))
            }
        };
        Ok(Self {
            name: body
                .contains_key("name")
                .then(|| text_field(body, "name", MAX_NAME_CHARS))
                .transpose()?,
            owner: body
                .contains_key("owner")
                .then(|| owner_field(body))
                .transpose()?,
            meta: body
                .contains_key("meta")
                .then(|| meta_field(body))
                .transpose()?,
            scopes: body
                .contains_key("scopes")
                .then(|| scopes_field(body))
                .transpose()?,
            expires_at: expires_at.map(to_millis),
            rate_limit: body
                .contains_key("rate_limit")
                .then(|| rate_limit_field(body))
                .transpose()?,
            quota: body
                .contains_key("quota")
                .then(|| quota_field(body))
                .transpose()?,
        })
    }

    /// The record after this update, and the names of the fields that really changed. A
    /// quota that is sent is a new setting, even with the same numbers: it starts over from
    /// its `remaining`, in a new generation that live counters will not carry on from.
    pub fn apply(
        &self,
        record: &KeyRecord,
        now: DateTime<Utc>,
    ) -> Result<(KeyRecord, Vec<String>), ApiError> {
        let mut new = record.clone();
        new.version += 1;
        if let Some(at) = self.expires_at {
            if record.expires_at.is_some_and(|current| at > current) {
                return Err(ApiError::BadRequest(format!(
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
        if let Some(meta) = &self.meta {
            new.meta = meta.clone();
        }
        if let Some(scopes) = &self.scopes {
            new.scopes = scopes.clone();
        }
        if let Some(rate_limit) = self.rate_limit {
            new.rate_limit = rate_limit;
        }
        let mut quota_set = false;
        if let Some(quota) = self.quota {
            // The new version: it only grows, also across a removal and a new quota.
            let generation = new.version;
            new.quota =
                quota.map(|(remaining, refill)| Quota::set(remaining, refill, generation, now));
            quota_set = new.quota.is_some() || record.quota.is_some();
        }
        let mut changes = Vec::new();
        for (field, changed) in [
            ("name", new.name != record.name),
            ("owner", new.owner != record.owner),
            ("meta", new.meta != record.meta),
            ("scopes", new.scopes != record.scopes),
            ("expires_at", new.expires_at != record.expires_at),
            ("rate_limit", new.rate_limit != record.rate_limit),
            ("quota", quota_set),
        ] {
            if changed {
                changes.push(field.to_owned());
            }
        }
        Ok((new, changes))
    }
}

/// Applies `update` to the key with this hash, with its `update` event in the same
/// transaction, then replaces the cache entry. `Ok(None)` when no key has this hash.
pub async fn update(
    app: &App,
    hash: &KeyHash,
    update: &KeyUpdate,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<Option<KeyRecord>, ApiError> {
    for _ in 0..3 {
        let Some(old) = app.store.get(hash).await? else {
            return Ok(None);
        };
        let (mut new, changes) = update.apply(&old, now)?;
        if changes.is_empty() {
            new = old;
        } else {
            match app
                .store
                .update(hash, &old, &new, changes, origin, now)
                .await
            {
                Ok(()) => {}
                Err(StoreError::Conflict) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        tracing::Span::current().record("key_id", new.id.as_str());
        // Replaced even when nothing changed: an earlier attempt may have stopped here.
        if let Err(err) = app.cache.replace(hash, &new, now).await {
            tracing::error!(error = %err, "key updated in DynamoDB but its cache entry was not replaced");
            return Err(ApiError::Unavailable(format!(
                "The key is updated in the database, but the cache could not be updated, so \
                 verifications may see the old values for up to {} seconds. Retry this request; \
                 sending the same update again is safe.",
                app.config.cache.ttl.as_secs()
            )));
        }
        return Ok(Some(new));
    }
    Err(ApiError::Conflict(
        "The key changed while it was being updated; retry.".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyId;
    use chrono::TimeDelta;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn parse(v: Value) -> Result<KeyUpdate, String> {
        KeyUpdate::from_json(v.as_object().unwrap()).map_err(|e| e.detail())
    }

    fn record(expires_in: Option<TimeDelta>) -> KeyRecord {
        KeyRecord {
            expires_at: expires_in.map(|d| now() + d),
            ..KeyRecord::new(KeyId::generate().unwrap(), "n".into(), "kg_0".into(), now())
        }
    }

    #[test]
    fn an_empty_or_unknown_update_is_rejected() {
        assert!(parse(json!({})).unwrap_err().contains("at least one"));
        assert!(parse(json!({"state": "active"}))
            .unwrap_err()
            .contains("`state`"));
    }

    #[test]
    fn expiry_may_only_move_earlier() {
        let r = record(Some(TimeDelta::hours(1)));
        let later = parse(json!({"expires_at": "2026-01-01T02:00:00Z"})).unwrap();
        assert!(later
            .apply(&r, now())
            .unwrap_err()
            .detail()
            .contains("earlier"));
        let earlier = parse(json!({"expires_at": "2026-01-01T00:30:00Z"})).unwrap();
        assert_eq!(earlier.apply(&r, now()).unwrap().1, ["expires_at"]);
        assert!(parse(json!({"expires_at": null}))
            .unwrap_err()
            .contains("earlier"));
    }

    #[test]
    fn a_key_without_expiry_may_be_given_one() {
        let u = parse(json!({"expires_at": "2030-01-01T00:00:00Z"})).unwrap();
        assert!(u.apply(&record(None), now()).is_ok());
    }

    #[test]
    fn only_fields_that_really_change_are_reported() {
        let u = parse(json!({"name": "n", "owner": "team"})).unwrap();
        assert_eq!(u.apply(&record(None), now()).unwrap().1, ["owner"]);
    }

    #[test]
    fn setting_a_quota_starts_a_new_generation_and_null_removes_limits() {
        let set = parse(
            json!({"quota": {"remaining": 5}, "rate_limit": {"limit": 2, "window_seconds": 9}}),
        )
        .unwrap();
        let (first, changes) = set.apply(&record(None), now()).unwrap();
        assert_eq!(changes, ["rate_limit", "quota"]);
        assert_eq!(first.quota.as_ref().unwrap().generation, 1);
        let (second, changes) = set.apply(&first, now()).unwrap();
        assert_eq!(changes, ["quota"], "the same quota again is a reset");
        assert_eq!(second.quota.as_ref().unwrap().generation, 2);
        let clear = parse(json!({"quota": null, "rate_limit": null})).unwrap();
        let (cleared, _) = clear.apply(&second, now()).unwrap();
        assert_eq!((&cleared.quota, cleared.rate_limit), (&None, None));
        let (again, _) = set.apply(&cleared, now()).unwrap();
        assert_eq!(
            again.quota.unwrap().generation,
            4,
            "never an earlier generation"
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        for (body, field) in [
            (json!({"name": ""}), "name"),
            (json!({"owner": 1}), "owner"),
            (json!({"meta": []}), "meta"),
            (json!({"scopes": ["A"]}), "scopes"),
            (json!({"expires_at": "soon"}), "expires_at"),
            (
                json!({"rate_limit": {"limit": 0, "window_seconds": 1}}),
                "rate_limit.limit",
            ),
            (json!({"quota": {"remaining": -5}}), "quota.remaining"),
        ] {
            assert!(
                parse(body.clone())
                    .unwrap_err()
                    .contains(&format!("`{field}`")),
                "{body}"
            );
        }
    }
}
