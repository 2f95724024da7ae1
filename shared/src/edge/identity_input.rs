//! Reading identity requests (`admin/api/identities`): bodies and the list's query, every
//! bad value a 400 whose `detail` names it. Nothing here does I/O.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::input::{limits_field, meta_field, only_fields_of_request, quota_field, text_field};
use crate::domain::identity::{IdentityUpdate, IDENTITY_FIELDS, MAX_EXTERNAL_ID_CHARS};
use crate::domain::limit::Quota;
use crate::ops::identities::NewIdentity;

/// The body of `POST admin/api/identities`.
pub fn new_identity(
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<NewIdentity, ApiError> {
    only_fields_of_request(body, &IDENTITY_FIELDS)?;
    Ok(NewIdentity {
        external_id: text_field(body, "external_id", MAX_EXTERNAL_ID_CHARS)?,
        meta: meta_field(body)?,
        limits: limits_field(body)?,
        quota: quota_field(body)?.map(|(remaining, refill)| Quota::set(remaining, refill, 0, now)),
    })
}

/// The body of `PATCH admin/api/identities/{id}`: the fields to change (`limits` and
/// `quota` replaced whole, null removing them).
pub fn identity_update(body: &Map<String, Value>) -> Result<IdentityUpdate, ApiError> {
    only_fields_of_request(body, &IDENTITY_FIELDS)?;
    if body.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "Send at least one of {}.",
            IDENTITY_FIELDS.join(", ")
        )));
    }
    Ok(IdentityUpdate {
        external_id: body
            .contains_key("external_id")
            .then(|| text_field(body, "external_id", MAX_EXTERNAL_ID_CHARS))
            .transpose()?,
        meta: body
            .contains_key("meta")
            .then(|| meta_field(body))
            .transpose()?,
        limits: body
            .contains_key("limits")
            .then(|| limits_field(body))
            .transpose()?,
        quota: body
            .contains_key("quota")
            .then(|| quota_field(body))
            .transpose()?,
        suspended: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn now() -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn an_identity_needs_an_external_id_and_takes_limits_and_a_quota() {
        let new = new_identity(
            &body(json!({
                "external_id": " acme ",
                "meta": {"plan": "pro"},
                "limits": [{"name": "per_second", "limit": 10, "window_seconds": 1}],
                "quota": {"remaining": 1000}
            })),
            now(),
        )
        .unwrap();
        assert_eq!(new.external_id, "acme");
        assert_eq!(new.limits.as_slice()[0].name, "per_second");
        assert_eq!(new.quota.unwrap().remaining, 1000);
        let missing = new_identity(&body(json!({})), now()).unwrap_err();
        assert_eq!(missing.detail(), "`external_id` is required.");
    }

    #[test]
    fn a_rate_limit_or_an_unknown_field_is_refused() {
        let err = new_identity(
            &body(json!({"external_id": "a", "rate_limit": null})),
            now(),
        );
        assert!(err.unwrap_err().detail().contains("rate_limit"));
        let err = identity_update(&body(json!({"suspended": true}))).unwrap_err();
        assert!(err.detail().contains("suspended"));
    }

    #[test]
    fn an_update_names_only_what_it_sends_and_must_send_something() {
        let update = identity_update(&body(json!({"limits": null}))).unwrap();
        assert_eq!(update.limits.map(|l| l.is_empty()), Some(true));
        assert_eq!(update.external_id, None);
        assert!(identity_update(&body(json!({})))
            .unwrap_err()
            .detail()
            .starts_with("Send at least one of external_id"));
        assert!(identity_update(&body(json!({"external_id": null})))
            .unwrap_err()
            .detail()
            .contains("external_id"));
    }
}
