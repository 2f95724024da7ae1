//! Issuing a key: validate the request, generate, store, and show the key once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::app::App;
use crate::audit::Origin;
use crate::error::ApiError;
use crate::http::text_field;
use crate::key::{ApiKey, KeyId};
use crate::limit::{quota_field, rate_limit_field, Quota, RateLimit};
use crate::record::{to_millis, KeyRecord, KeyView};
use crate::scope::Scopes;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_OWNER_CHARS: usize = 200;
pub const MAX_META_BYTES: usize = 4 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub name: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub owner: Option<String>,
    pub meta: Option<Map<String, Value>>,
    pub scopes: Scopes,
    pub rate_limit: Option<RateLimit>,
    pub quota: Option<Quota>,
}

impl NewKey {
    pub fn from_json(body: &Map<String, Value>, now: DateTime<Utc>) -> Result<Self, ApiError> {
        let name = text_field(body, "name", MAX_NAME_CHARS)?;
        let expires_at = expires_at_field(body, now)?;
        Ok(Self {
            name,
            expires_at,
            owner: owner_field(body)?,
            meta: meta_field(body)?,
            scopes: scopes_field(body)?,
            rate_limit: rate_limit_field(body)?,
            quota: quota_field(body)?
                .map(|(remaining, refill)| Quota::set(remaining, refill, 0, now)),
        })
    }
}

/// `owner`: absent or null for none, else a non-blank string of at most 200 characters.
pub fn owner_field(body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match body.get("owner") {
        None | Some(Value::Null) => Ok(None),
        Some(_) => text_field(body, "owner", MAX_OWNER_CHARS).map(Some),
    }
}

/// `meta`: absent or null for none, else a JSON object of at most 4 KiB serialized.
pub fn meta_field(body: &Map<String, Value>) -> Result<Option<Map<String, Value>>, ApiError> {
    match body.get("meta") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => {
            let size = serde_json::to_vec(map)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            if size > MAX_META_BYTES {
                return Err(ApiError::BadRequest(
                    "`meta` must be at most 4 KiB when serialized as JSON.".to_owned(),
                ));
            }
            Ok(Some(map.clone()))
        }
        Some(_) => Err(ApiError::BadRequest(
            "`meta` must be a JSON object or null.".to_owned(),
        )),
    }
}

pub fn scopes_field(body: &Map<String, Value>) -> Result<Scopes, ApiError> {
    body.get("scopes")
        .map(Scopes::from_json)
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `expires_at`: absent or null for none, else an RFC 3339 time in the future.
pub fn expires_at_field(
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let expires_at = match body.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let at = DateTime::parse_from_rfc3339(s.trim())
                .map_err(|_| {
                    ApiError::BadRequest(
                        "`expires_at` must be an RFC 3339 date-time such as 2030-01-31T12:00:00Z."
                            .to_owned(),
                    )
                })?
                .with_timezone(&Utc);
            if at <= now {
                return Err(ApiError::BadRequest(
                    "`expires_at` must be in the future.".to_owned(),
                ));
            }
            Some(to_millis(at))
        }
        Some(_) => {
            return Err(ApiError::BadRequest(
                "`expires_at` must be a string (RFC 3339) or null.".to_owned(),
            ))
        }
    };
    Ok(expires_at)
}

/// A freshly issued key: the only value in Keygate that holds a raw key.
#[derive(Debug)]
pub struct Issued {
    pub key: ApiKey,
    pub record: KeyRecord,
}

/// The issue response, the one place a raw key is ever written: the key's record as every
/// endpoint shows it, plus the key.
#[derive(Serialize)]
pub struct IssuedView<'a> {
    #[serde(flatten)]
    pub record: KeyView<'a>,
    pub key: &'a str,
}

impl Issued {
    pub fn view(&self, now: DateTime<Utc>) -> IssuedView<'_> {
        IssuedView {
            record: self.record.view(now),
            key: self.key.expose(),
        }
    }
}

/// Stores the new key before anything is returned: a key the caller sees is always a key
/// that verifies.
pub async fn issue(
    app: &App,
    new: NewKey,
    now: DateTime<Utc>,
    origin: &Origin,
) -> Result<Issued, ApiError> {
    let key = ApiKey::generate(&app.config.key_prefix)
        .map_err(|e| ApiError::Internal(format!("OS random source failed: {e}")))?;
    let id = KeyId::generate()
        .map_err(|e| ApiError::Internal(format!("OS random source failed: {e}")))?;
    let record = KeyRecord {
        expires_at: new.expires_at,
        owner: new.owner,
        meta: new.meta,
        scopes: new.scopes,
        rate_limit: new.rate_limit,
        quota: new.quota,
        ..KeyRecord::new(id, new.name, key.display_prefix(), to_millis(now))
    };
    app.store.issue(&key.hash(), &record, origin).await?;
    tracing::Span::current().record("key_id", record.id.as_str());
    Ok(Issued { key, record })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn parse(body: Value) -> Result<NewKey, String> {
        let Value::Object(map) = body else { panic!() };
        NewKey::from_json(&map, now()).map_err(|e| e.detail())
    }

    #[test]
    fn a_name_alone_is_enough() {
        let new = parse(json!({"name": "  billing  "})).unwrap();
        assert_eq!(new.name, "billing");
        assert_eq!(new.expires_at, None);
    }

    #[test]
    fn a_future_expiry_in_any_offset_is_kept_in_utc() {
        let new = parse(json!({"name": "x", "expires_at": "2026-01-01T02:00:00+01:00"})).unwrap();
        assert_eq!(
            new.expires_at,
            Some("2026-01-01T01:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn bad_names_are_rejected_with_the_field_named() {
        for body in [
            json!({}),
            json!({"name": null}),
            json!({"name": 5}),
            json!({"name": "   "}),
            json!({"name": "x".repeat(201)}),
            json!({"name": "a\u{0007}b"}),
        ] {
            let detail = parse(body.clone()).unwrap_err();
            assert!(detail.contains("`name`"), "{body}: {detail}");
        }
    }

    #[test]
    fn names_with_bidi_overrides_or_invisible_characters_are_rejected() {
        for name in ["evil\u{202E}gnp.exe", "a\u{200B}b", "line\u{2028}break"] {
            let detail = parse(json!({ "name": name })).unwrap_err();
            assert!(detail.contains("`name`"), "{detail}");
        }
    }

    #[test]
    fn a_name_of_200_characters_is_accepted() {
        assert!(parse(json!({"name": "é".repeat(200)})).is_ok());
    }

    #[test]
    fn bad_expiries_are_rejected_with_the_field_named() {
        for value in [
            json!("tomorrow"),
            json!(5),
            json!("2025-12-31T23:59:59Z"),
            json!("2026-01-01T00:00:00Z"),
        ] {
            let detail = parse(json!({"name": "x", "expires_at": value})).unwrap_err();
            assert!(detail.contains("`expires_at`"), "{value}: {detail}");
        }
    }
}
