//! Reading request bodies into the operations' inputs: every field checked, every bad value
//! a 400 whose `detail` names the field. Nothing here does I/O.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::domain::identity::IdentityId;
use crate::domain::limit::Quota;
use crate::domain::role::Role;
use crate::domain::rotation::{DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS};
use crate::domain::scope::Scopes;
use crate::domain::time::{parse_rfc3339, storable, to_millis, STORABLE_YEARS};
use crate::domain::update::{KeyUpdate, FIELDS};
use crate::ops::admins::NewAdmin;
use crate::ops::issue::NewKey;

use super::limits_input::one_kind_of_limits;
pub use super::limits_input::{limits_field, new_limits, quota_field, rate_limit_field};

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_OWNER_CHARS: usize = 200;
pub const MAX_META_BYTES: usize = 4 * 1024;

/// The fields of an issue body.
pub const ISSUE_FIELDS: [&str; 10] = [
    "name",
    "expires_at",
    "owner",
    "identity_id",
    "meta",
    "scopes",
    "rate_limit",
    "limits",
    "quota",
    "self_rotation",
];

/// The body of an issue request.
pub fn new_key(body: &Map<String, Value>, now: DateTime<Utc>) -> Result<NewKey, ApiError> {
    only_fields_of_request(body, &ISSUE_FIELDS)?;
    let name = text_field(body, "name", MAX_NAME_CHARS)?;
    let expires_at = expires_at_field(body, now)?;
    Ok(NewKey {
        name,
        expires_at,
        owner: owner_field(body)?,
        identity_id: identity_id_field(body)?,
        meta: meta_field(body)?,
        scopes: scopes_field(body)?,
        limits: new_limits(body)?,
        quota: quota_field(body)?.map(|(remaining, refill)| Quota::set(remaining, refill, 0, now)),
        self_rotation: self_rotation_field(body)?.unwrap_or(false),
    })
}

/// The fields of `POST admin/api/admins`.
pub const ADMIN_FIELDS: [&str; 3] = ["name", "role", "expires_at"];

/// The body of `POST admin/api/admins`: a name, a role, and an optional expiry.
pub fn new_admin(body: &Map<String, Value>, now: DateTime<Utc>) -> Result<NewAdmin, ApiError> {
    only_fields_of_request(body, &ADMIN_FIELDS)?;
    let name = text_field(body, "name", MAX_NAME_CHARS)?;
    let names = || {
        Role::ALL
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let role = match body.get("role") {
        Some(Value::String(text)) => Role::parse(text)
            .ok_or_else(|| ApiError::BadRequest(format!("`role` must be one of {}.", names())))?,
        None => {
            return Err(ApiError::BadRequest(format!(
                "`role` is required: one of {}.",
                names()
            )))
        }
        Some(_) => {
            return Err(ApiError::BadRequest(format!(
                "`role` must be a string: one of {}.",
                names()
            )))
        }
    };
    Ok(NewAdmin {
        name,
        role,
        expires_at: expires_at_field(body, now)?,
    })
}

/// The body of an update (`PATCH admin/api/keys/{id}`): the fields to change.
pub fn key_update(body: &Map<String, Value>) -> Result<KeyUpdate, ApiError> {
    only_fields_of_request(body, &FIELDS)?;
    if body.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "Send at least one of {}.",
            FIELDS.join(", ")
        )));
    }
    let expires_at = match body.get("expires_at") {
        None => None,
        Some(Value::String(s)) => Some(time("expires_at", s)?),
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
    Ok(KeyUpdate {
        name: body
            .contains_key("name")
            .then(|| text_field(body, "name", MAX_NAME_CHARS))
            .transpose()?,
        owner: body
            .contains_key("owner")
            .then(|| owner_field(body))
            .transpose()?,
        identity_id: body
            .contains_key("identity_id")
            .then(|| identity_id_field(body))
            .transpose()?,
        meta: body
            .contains_key("meta")
            .then(|| meta_field(body))
            .transpose()?,
        scopes: body
            .contains_key("scopes")
            .then(|| scopes_field(body))
            .transpose()?,
        expires_at,
        rate_limit: match one_kind_of_limits(body)? {
            true => Some(rate_limit_field(body)?),
            false => None,
        },
        limits: body
            .contains_key("limits")
            .then(|| limits_field(body))
            .transpose()?,
        quota: body
            .contains_key("quota")
            .then(|| quota_field(body))
            .transpose()?,
        self_rotation: self_rotation_field(body)?,
    })
}

/// `owner`: absent or null for none, else a non-blank string of at most 200 characters.
pub fn owner_field(body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match body.get("owner") {
        None | Some(Value::Null) => Ok(None),
        Some(_) => text_field(body, "owner", MAX_OWNER_CHARS).map(Some),
    }
}

/// `identity_id`: absent or null for none, else an identity's id (`idt_…`).
pub fn identity_id_field(body: &Map<String, Value>) -> Result<Option<IdentityId>, ApiError> {
    match body.get("identity_id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if IdentityId::parse(text).is_some() => {
            Ok(IdentityId::parse(text))
        }
        Some(_) => Err(bad(
            "`identity_id` must be an identity's id: idt_ followed by 24 lowercase hexadecimal \
             digits, or null.",
        )),
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

/// `self_rotation`: absent for "as it is" (false on issue), else a boolean.
pub(super) fn self_rotation_field(body: &Map<String, Value>) -> Result<Option<bool>, ApiError> {
    match body.get("self_rotation") {
        None => Ok(None),
        Some(Value::Bool(on)) => Ok(Some(*on)),
        Some(_) => Err(bad("`self_rotation` must be true or false.")),
    }
}

pub fn scopes_field(body: &Map<String, Value>) -> Result<Scopes, ApiError> {
    body.get("scopes")
        .map(Scopes::from_json)
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `expires_at` on issue: absent or null for none, else an RFC 3339 time in the future.
fn expires_at_field(
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    match body.get("expires_at") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let at = time("expires_at", s)?;
            if at <= now {
                return Err(bad("`expires_at` must be in the future."));
            }
            Ok(Some(at))
        }
        Some(_) => Err(bad("`expires_at` must be a string (RFC 3339) or null.")),
    }
}

/// A time field's value: RFC 3339 in any offset, kept in UTC to the millisecond, and only
/// a time that can be stored and read back (the one time parser for every body).
pub(super) fn time(field: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    let at = parse_rfc3339(text).map(to_millis).ok_or_else(|| {
        bad(&format!(
            "`{field}` must be an RFC 3339 date-time such as 2030-01-31T12:00:00Z."
        ))
    })?;
    if !storable(at) {
        return Err(bad(&format!(
            "`{field}` must fall between the years {} and {} in UTC.",
            STORABLE_YEARS.start(),
            STORABLE_YEARS.end()
        )));
    }
    Ok(at)
}

pub(super) fn only_fields(
    object: &Map<String, Value>,
    parent: &str,
    allowed: &[&str],
) -> Result<(), ApiError> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(_) => Err(bad(&format!(
            "`{parent}` accepts only {}.",
            allowed.join(" and ")
        ))),
    }
}

pub(super) fn integer(
    object: &Map<String, Value>,
    parent: &str,
    field: &str,
    min: u64,
    max: u64,
) -> Result<u64, ApiError> {
    object
        .get(field)
        .and_then(Value::as_u64)
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| {
            bad(&format!(
                "`{parent}.{field}` must be an integer from {min} to {max}."
            ))
        })
}

pub(super) fn bad(detail: &str) -> ApiError {
    ApiError::BadRequest(detail.to_owned())
}

/// `grace_seconds` from an optional rotate body: 0 to 604800, default 86400.
pub fn grace_seconds(body: Option<&Map<String, Value>>) -> Result<u64, ApiError> {
    if let Some(body) = body {
        only_fields_of_request(body, &["grace_seconds"])?;
    }
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

/// `key` of a revoke body: the key to revoke.
pub fn key_field(body: &Map<String, Value>) -> Result<&str, ApiError> {
    only_fields_of_request(body, &["key"])?;
    match body.get("key") {
        Some(Value::String(raw)) => Ok(raw),
        None | Some(Value::Null) => Err(bad("`key` is required.")),
        Some(_) => Err(bad("`key` must be a string.")),
    }
}

/// Refuses a body with a field its request does not have. Ignoring it would be worse than
/// refusing: `"scope"` for `scopes` would issue a key without the rights the caller meant,
/// `"expires"` a key that never ends.
pub fn only_fields_of_request(body: &Map<String, Value>, fields: &[&str]) -> Result<(), ApiError> {
    let Some(unknown) = body.keys().find(|k| !fields.contains(&k.as_str())) else {
        return Ok(());
    };
    let name = printable(unknown);
    Err(bad(&match closest(unknown, fields) {
        Some(meant) => format!("`{name}` is not a field of this request; did you mean `{meant}`?"),
        None => format!(
            "`{name}` is not a field of this request; send any of {}.",
            fields.join(", ")
        ),
    }))
}

/// The field a misspelt name most likely meant: one it starts or ends, or one at most two
/// edits away.
fn closest<'f>(name: &str, fields: &[&'f str]) -> Option<&'f str> {
    let name = name.to_ascii_lowercase();
    fields
        .iter()
        .map(|f| (edits(&name, f), *f))
        .filter(|(d, f)| {
            *d <= 2 || (name.len() >= 3 && (f.starts_with(&name) || name.starts_with(f)))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

/// Levenshtein distance, for short field names.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A name from a request for an error message: printable, and short.
pub fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(40).collect()
}

/// A required, non-blank string field of at most `max_chars` characters, with no control
/// characters.
pub fn text_field(
    body: &Map<String, Value>,
    field: &str,
    max_chars: usize,
) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::BadRequest(format!("`{field}` {why}."));
    let value = match body.get(field) {
        None | Some(Value::Null) => return Err(bad("is required")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad("must be a string")),
    };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(bad("must not be blank"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(bad(&format!("must be at most {max_chars} characters")));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Err(bad(
            "must not contain control characters or invisible formatting characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Characters that change how text around them is shown without being visible themselves:
/// bidirectional overrides (which can make a name read backwards on the admin page), zero
/// widths and line or paragraph separators.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    mod issue_body {
        use super::super::*;

        use serde_json::json;

        fn now() -> DateTime<Utc> {
            "2026-01-01T00:00:00Z".parse().unwrap()
        }

        fn parse(body: Value) -> Result<NewKey, String> {
            let Value::Object(map) = body else { panic!() };
            new_key(&map, now()).map_err(|e| e.detail())
        }

        #[test]
        fn a_name_alone_is_enough() {
            let new = parse(json!({"name": "  billing  "})).unwrap();
            assert_eq!(new.name, "billing");
            assert_eq!(new.expires_at, None);
        }

        #[test]
        fn a_future_expiry_in_any_offset_is_kept_in_utc() {
            let new =
                parse(json!({"name": "x", "expires_at": "2026-01-01T02:00:00+01:00"})).unwrap();
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

        #[test]
        fn an_expiry_past_the_year_9999_in_utc_is_rejected_naming_the_field() {
            let detail =
                parse(json!({"name": "x", "expires_at": "9999-12-31T23:00:00-05:00"})).unwrap_err();
            assert!(
                detail.contains("`expires_at`") && detail.contains("9999"),
                "{detail}"
            );
            let last = parse(json!({"name": "x", "expires_at": "9999-12-31T23:59:59.999Z"}));
            assert!(last.is_ok());
            let update = key_update(
                json!({"expires_at": "0001-01-01T00:00:00+01:00"})
                    .as_object()
                    .unwrap(),
            );
            assert!(update.unwrap_err().detail().contains("`expires_at`"));
        }
    }

    mod update_body {
        use super::super::*;

        use crate::domain::key::KeyId;
        use crate::domain::record::KeyRecord;
        use chrono::TimeDelta;
        use serde_json::json;

        fn now() -> DateTime<Utc> {
            "2026-01-01T00:00:00Z".parse().unwrap()
        }

        fn parse(v: Value) -> Result<KeyUpdate, String> {
            key_update(v.as_object().unwrap()).map_err(|e| e.detail())
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
                .to_string()
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
            assert_eq!((&cleared.quota, cleared.limits.rate_limit()), (&None, None));
            let (again, _) = set.apply(&cleared, now()).unwrap();
            assert_eq!(
                again.quota.unwrap().generation,
                4,
                "never an earlier generation"
            );
        }

        #[test]
        fn rate_limit_changes_the_default_limit_and_limits_the_whole_list() {
            let named = parse(json!({"limits": [
                {"name": "per_second", "limit": 2, "window_seconds": 1},
                {"name": "default", "limit": 50, "window_seconds": 60}]}))
            .unwrap();
            let (with_both, changes) = named.apply(&record(None), now()).unwrap();
            assert_eq!(changes, ["limits"]);
            let default_only =
                parse(json!({"rate_limit": {"limit": 7, "window_seconds": 60}})).unwrap();
            let (changed, changes) = default_only.apply(&with_both, now()).unwrap();
            assert_eq!(changes, ["rate_limit"]);
            let names: Vec<_> = changed
                .limits
                .as_slice()
                .iter()
                .map(|l| (l.name.as_str(), l.limit))
                .collect();
            assert_eq!(names, [("per_second", 2), ("default", 7)]);
            let removed = parse(json!({"rate_limit": null})).unwrap();
            let (only_named, _) = removed.apply(&changed, now()).unwrap();
            assert_eq!(only_named.limits.as_slice().len(), 1);
            assert_eq!(only_named.limits.as_slice()[0].name, "per_second");
        }

        #[test]
        fn bad_limits_lists_name_the_entry() {
            let one = |v: Value| json!({"limits": [v]});
            for (body, field) in [
                (json!({"limits": {"name": "x"}}), "`limits`"),
                (json!({"limits": [1]}), "`limits`"),
                (
                    one(json!({"limit": 1, "window_seconds": 1})),
                    "`limits[0].name`",
                ),
                (
                    one(json!({"name": "Per Second", "limit": 1, "window_seconds": 1})),
                    "`limits[0].name`",
                ),
                (
                    one(json!({"name": "a", "limit": 0, "window_seconds": 1})),
                    "`limits[0].limit`",
                ),
                (
                    one(json!({"name": "a", "limit": 1, "window_seconds": 86_401})),
                    "`limits[0].window_seconds`",
                ),
                (
                    one(json!({"name": "a", "limit": 1, "window_seconds": 1, "burst": 2})),
                    "`limits[0]`",
                ),
                (
                    json!({"limits": [
                    {"name": "a", "limit": 1, "window_seconds": 1},
                    {"name": "a", "limit": 2, "window_seconds": 2}]}),
                    "`limits[1].name`",
                ),
                (
                    json!({"limits": (0..6).map(|i| json!({"name": format!("l{i}"), "limit": 1, "window_seconds": 1})).collect::<Vec<_>>()}),
                    "at most 5",
                ),
                (json!({"limits": [], "rate_limit": null}), "not both"),
            ] {
                let detail = parse(body.clone()).unwrap_err();
                assert!(detail.contains(field), "{body}: {detail}");
            }
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

    mod unknown_fields {
        use super::super::*;
        use serde_json::json;

        fn detail(body: Value, read: fn(&Map<String, Value>) -> Result<(), ApiError>) -> String {
            read(body.as_object().unwrap()).unwrap_err().detail()
        }

        #[test]
        fn a_misspelt_field_is_refused_with_the_field_it_likely_meant() {
            let issue = |b: &Map<String, Value>| new_key(b, Utc::now()).map(|_| ());
            assert_eq!(
                detail(json!({"name": "x", "scope": ["orders:read"]}), issue),
                "`scope` is not a field of this request; did you mean `scopes`?"
            );
            assert_eq!(
                detail(
                    json!({"name": "x", "expires": "2030-01-01T00:00:00Z"}),
                    issue
                ),
                "`expires` is not a field of this request; did you mean `expires_at`?"
            );
            let update = |b: &Map<String, Value>| key_update(b).map(|_| ());
            assert!(detail(json!({"nmae": "x"}), update).contains("did you mean `name`?"));
            let rotate = |b: &Map<String, Value>| grace_seconds(Some(b)).map(|_| ());
            assert!(detail(json!({"grace": 5}), rotate).contains("`grace_seconds`"));
            let revoke = |b: &Map<String, Value>| key_field(b).map(|_| ());
            assert!(detail(json!({"key": "k", "keys": []}), revoke).contains("`keys`"));
        }

        #[test]
        fn a_field_like_none_lists_the_fields_of_the_request() {
            let revoke = |b: &Map<String, Value>| key_field(b).map(|_| ());
            assert_eq!(
                detail(json!({"key": "k", "reason": "leaked"}), revoke),
                "`reason` is not a field of this request; send any of key."
            );
        }
    }

    mod grace {
        use super::super::*;
        use serde_json::json;

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
    }
}
