//! The body of `POST admin/api/keys/import`: `{"keys": [...]}`, at most
//! [`MAX_IMPORT`] keys. A body that is not that shape is a 400; a key in it that cannot be
//! imported is skipped with its reason (its `detail`, as a 400 would word it), so one bad
//! row never holds up the others.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::input::{
    meta_field, new_limits, only_fields_of_request, owner_field, quota_field, scopes_field,
    self_rotation_field, text_field, time, MAX_NAME_CHARS,
};
use crate::domain::key::KeyHash;
use crate::domain::legacy::{LegacyKey, LEGACY_MAX_LEN, LEGACY_MIN_LEN};
use crate::domain::limit::Quota;
use crate::domain::record::State;
use crate::domain::time::to_millis;
use crate::ops::import::{ImportKey, Secret, MAX_IMPORT};
use crate::ops::issue::NewKey;

/// The largest import body: a thousand keys of a few hundred bytes each, with room for
/// their `meta`, well inside Lambda's 6 MB request limit.
pub const IMPORT_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The fields of one imported key.
pub const IMPORT_FIELDS: [&str; 13] = [
    "key",
    "sha256",
    "name",
    "status",
    "created_at",
    "expires_at",
    "owner",
    "meta",
    "scopes",
    "rate_limit",
    "limits",
    "quota",
    "self_rotation",
];

/// Each key of the body, or why it cannot be imported.
pub fn import_keys(
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Vec<Result<ImportKey, String>>, ApiError> {
    only_fields_of_request(body, &["keys"])?;
    let keys = match body.get("keys") {
        Some(Value::Array(keys)) => keys,
        None | Some(Value::Null) => return Err(bad("`keys` is required.")),
        Some(_) => return Err(bad("`keys` must be an array of keys to import.")),
    };
    if keys.is_empty() {
        return Err(bad("`keys` must hold at least one key."));
    }
    if keys.len() > MAX_IMPORT {
        return Err(bad(&format!(
            "`keys` holds {} keys; send at most {MAX_IMPORT} a call.",
            keys.len()
        )));
    }
    Ok(keys
        .iter()
        .map(|key| match key {
            Value::Object(key) => import_key(key, now).map_err(detail),
            _ => Err(
                "Each key must be an object such as {\"key\": \"...\", \"name\": \"...\"}."
                    .to_owned(),
            ),
        })
        .collect())
}

fn import_key(body: &Map<String, Value>, now: DateTime<Utc>) -> Result<ImportKey, ApiError> {
    only_fields_of_request(body, &IMPORT_FIELDS)?;
    let secret = match (body.get("key"), body.get("sha256")) {
        (Some(Value::String(raw)), None) => Secret::Raw(LegacyKey::parse(raw).map_err(|_| {
            bad(&format!(
                "`key` must be {LEGACY_MIN_LEN} to {LEGACY_MAX_LEN} letters, digits, '-', '_' \
                 or '.', and not in Keygate's own format: other keys could never be presented."
            ))
        })?),
        (None, Some(Value::String(hex))) => Secret::Hash(
            Some(hex.as_str())
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| KeyHash::from_hex(&h.to_ascii_lowercase()))
                .ok_or_else(|| bad("`sha256` must be 64 hexadecimal digits."))?,
        ),
        (None, None) => return Err(bad("`key` or `sha256` is required.")),
        (Some(_), Some(_)) => return Err(bad("Send `key` or `sha256`, not both.")),
        _ => return Err(bad("`key` and `sha256` must be strings.")),
    };
    let name = text_field(body, "name", MAX_NAME_CHARS)?;
    let state = match body.get("status") {
        None | Some(Value::Null) => State::Active,
        Some(Value::String(s)) => {
            State::parse(s).ok_or_else(|| bad("`status` must be \"active\" or \"revoked\"."))?
        }
        Some(_) => return Err(bad("`status` must be \"active\" or \"revoked\".")),
    };
    let created_at = match optional_time(body, "created_at")? {
        Some(at) if at > now => return Err(bad("`created_at` must not be in the future.")),
        Some(at) => at,
        None => to_millis(now),
    };
    Ok(ImportKey {
        secret,
        key: NewKey {
            name,
            // Past expiries are kept: the key is imported expired, as it was.
            expires_at: optional_time(body, "expires_at")?,
            owner: owner_field(body)?,
            identity_id: None,
            meta: meta_field(body)?,
            scopes: scopes_field(body)?,
            limits: new_limits(body)?,
            quota: quota_field(body)?
                .map(|(remaining, refill)| Quota::set(remaining, refill, 0, now)),
            self_rotation: self_rotation_field(body)?.unwrap_or(false),
        },
        state,
        created_at,
    })
}

fn optional_time(
    body: &Map<String, Value>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => time(field, s).map(Some),
        Some(_) => Err(bad(&format!(
            "`{field}` must be a string (RFC 3339) or null."
        ))),
    }
}

fn detail(err: ApiError) -> String {
    match err {
        ApiError::BadRequest(detail) => detail,
        other => other.to_string(),
    }
}

fn bad(detail: &str) -> ApiError {
    ApiError::BadRequest(detail.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
    }

    fn read(body: Value) -> Result<Vec<Result<ImportKey, String>>, String> {
        import_keys(body.as_object().unwrap(), now()).map_err(detail)
    }

    fn one(key: Value) -> Result<ImportKey, String> {
        read(json!({ "keys": [key] })).unwrap().remove(0)
    }

    const RAW: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b";

    #[test]
    fn a_key_and_a_name_are_enough_and_the_rest_defaults() {
        let key = one(json!({"key": RAW, "name": "old"})).unwrap();
        assert_eq!(key.state, State::Active);
        assert_eq!(key.created_at, now());
        assert_eq!(key.key.expires_at, None);
        assert!(matches!(key.secret, Secret::Raw(_)));
    }

    #[test]
    fn a_past_expiry_and_a_revoked_status_are_kept() {
        let key = one(json!({"key": RAW, "name": "old", "status": "revoked",
            "created_at": "2020-01-01T00:00:00Z", "expires_at": "2021-01-01T00:00:00+02:00"}))
        .unwrap();
        assert_eq!(key.state, State::Revoked);
        assert_eq!(
            key.key.expires_at,
            Some(Utc.with_ymd_and_hms(2020, 12, 31, 22, 0, 0).unwrap())
        );
    }

    #[test]
    fn a_hash_is_accepted_in_either_case() {
        let hex = "AB".repeat(32);
        let key = one(json!({"sha256": hex, "name": "old"})).unwrap();
        assert!(matches!(key.secret, Secret::Hash(h) if h.to_hex() == "ab".repeat(32)));
    }

    #[test]
    fn a_bad_key_is_skipped_with_its_reason() {
        for (key, words) in [
            (json!({"name": "x"}), "`key` or `sha256` is required"),
            (
                json!({"key": "short", "name": "x"}),
                "`key` must be 16 to 128",
            ),
            (json!({"key": RAW, "sha256": "ab", "name": "x"}), "not both"),
            (json!({"sha256": "xyz", "name": "x"}), "`sha256` must be 64"),
            (json!({"key": RAW}), "`name` is required"),
            (
                json!({"key": RAW, "name": "x", "status": "gone"}),
                "`status` must be",
            ),
            (
                json!({"key": RAW, "name": "x", "created_at": "2030-01-01T00:00:00Z"}),
                "future",
            ),
            (
                json!({"key": RAW, "name": "x", "expires_at": "soon"}),
                "`expires_at` must be an RFC 3339",
            ),
            (
                json!({"key": RAW, "name": "x", "identity": "acme"}),
                "is not a field",
            ),
            (json!("just a string"), "must be an object"),
        ] {
            let err = one(key.clone()).unwrap_err();
            assert!(err.contains(words), "{key}: {err}");
        }
    }

    #[test]
    fn a_body_that_is_not_a_list_of_at_most_a_thousand_keys_is_refused() {
        assert!(read(json!({})).unwrap_err().contains("`keys` is required"));
        assert!(read(json!({"keys": {}})).unwrap_err().contains("array"));
        assert!(read(json!({"keys": []}))
            .unwrap_err()
            .contains("at least one"));
        let many: Vec<Value> = (0..1001)
            .map(|_| json!({"key": RAW, "name": "x"}))
            .collect();
        assert!(read(json!({ "keys": many }))
            .unwrap_err()
            .contains("at most 1000"));
        assert!(read(json!({"keys": [], "extra": 1}))
            .unwrap_err()
            .contains("not a field"));
    }
}
