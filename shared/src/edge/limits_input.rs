//! The limits and quota fields of request bodies (keys' and identities'): every bad value a
//! 400 whose `detail` names the field, down to the entry of a list. Nothing here does I/O.

use serde_json::{Map, Value};

use super::error::ApiError;
use super::input::{bad, integer, only_fields};
use crate::domain::limit::{
    Every, Limit, Limits, RateLimit, Refill, MAX_LIMITS, MAX_QUOTA, MAX_RATE_LIMIT,
    MAX_WINDOW_SECONDS,
};

/// A new key's limits, from `rate_limit` (the limit named `default`) or `limits`.
pub fn new_limits(body: &Map<String, Value>) -> Result<Limits, ApiError> {
    if one_kind_of_limits(body)? {
        Ok(Limits::from_rate_limit(rate_limit_field(body)?))
    } else {
        limits_field(body)
    }
}

/// Whether a body sets its limits with `rate_limit` (rather than `limits`, or neither):
/// one body may not send both.
pub(super) fn one_kind_of_limits(body: &Map<String, Value>) -> Result<bool, ApiError> {
    match (body.contains_key("rate_limit"), body.contains_key("limits")) {
        (true, true) => Err(bad(
            "Send either `rate_limit` (the limit named \"default\") or `limits`, not both.",
        )),
        (uses_rate_limit, _) => Ok(uses_rate_limit),
    }
}

/// The `limits` field: a list of up to 5 named limits, absent or null for none.
pub fn limits_field(body: &Map<String, Value>) -> Result<Limits, ApiError> {
    const SHAPE: &str = "`limits` must be a list such as [{\"name\": \"per_second\", \"limit\": 10, \"window_seconds\": 1}], or null.";
    let list = match body.get("limits") {
        None | Some(Value::Null) => return Ok(Limits::default()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad(SHAPE)),
    };
    if list.len() > MAX_LIMITS {
        return Err(bad(&format!("`limits` holds at most {MAX_LIMITS} limits.")));
    }
    let mut limits = Vec::with_capacity(list.len());
    for (i, value) in list.iter().enumerate() {
        let parent = format!("limits[{i}]");
        let Value::Object(object) = value else {
            return Err(bad(SHAPE));
        };
        only_fields(object, &parent, &["name", "limit", "window_seconds"])?;
        let name = match object.get("name") {
            Some(Value::String(name)) if Limit::valid_name(name) => name.clone(),
            _ => {
                return Err(bad(&format!(
                    "`{parent}.name` must be 1 to 32 of a-z, 0-9, _ and -, starting with a letter."
                )))
            }
        };
        if limits.iter().any(|l: &Limit| l.name == name) {
            return Err(bad(&format!(
                "`{parent}.name`: the name {name:?} is used twice."
            )));
        }
        limits.push(Limit {
            name,
            limit: integer(object, &parent, "limit", 1, MAX_RATE_LIMIT)?,
            window_seconds: integer(object, &parent, "window_seconds", 1, MAX_WINDOW_SECONDS)?,
        });
    }
    Limits::new(limits).map_err(|e| bad(&format!("`limits`: {e}.")))
}

/// The `rate_limit` field of an issue or update body: absent or null for none.
pub fn rate_limit_field(body: &Map<String, Value>) -> Result<Option<RateLimit>, ApiError> {
    let object = match body.get("rate_limit") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => {
            return Err(bad(
                "`rate_limit` must be an object such as {\"limit\": 100, \"window_seconds\": 60}, or null.",
            ))
        }
    };
    only_fields(object, "rate_limit", &["limit", "window_seconds"])?;
    Ok(Some(RateLimit {
        limit: integer(object, "rate_limit", "limit", 1, MAX_RATE_LIMIT)?,
        window_seconds: integer(
            object,
            "rate_limit",
            "window_seconds",
            1,
            MAX_WINDOW_SECONDS,
        )?,
    }))
}

/// The `quota` field of an issue or update body: absent or null for none.
pub fn quota_field(body: &Map<String, Value>) -> Result<Option<(u64, Option<Refill>)>, ApiError> {
    let object = match body.get("quota") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => {
            return Err(bad(
                "`quota` must be an object such as {\"remaining\": 1000, \"refill\": {\"every\": \"month\", \"amount\": 1000}}, or null.",
            ))
        }
    };
    only_fields(object, "quota", &["remaining", "refill"])?;
    let remaining = integer(object, "quota", "remaining", 0, MAX_QUOTA)?;
    let refill = match object.get("refill") {
        None | Some(Value::Null) => None,
        Some(Value::Object(r)) => {
            only_fields(r, "quota.refill", &["every", "amount"])?;
            let every = r
                .get("every")
                .and_then(Value::as_str)
                .and_then(Every::parse)
                .ok_or_else(|| bad("`quota.refill.every` must be \"day\" or \"month\"."))?;
            let amount = integer(r, "quota.refill", "amount", 1, MAX_QUOTA)?;
            Some(Refill { every, amount })
        }
        Some(_) => {
            return Err(bad(
                "`quota.refill` must be an object such as {\"every\": \"day\", \"amount\": 1000}, or null.",
            ))
        }
    };
    Ok(Some((remaining, refill)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::limit::{Every, RateLimit, Refill, MAX_QUOTA};
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_rate_limit_within_bounds_is_accepted() {
        let r = rate_limit_field(&body(
            json!({"rate_limit": {"limit": 5, "window_seconds": 60}}),
        ));
        assert_eq!(
            r.unwrap(),
            Some(RateLimit {
                limit: 5,
                window_seconds: 60
            })
        );
        assert_eq!(
            rate_limit_field(&body(json!({"rate_limit": null}))).unwrap(),
            None
        );
    }

    #[test]
    fn bad_rate_limits_name_the_field() {
        for (value, field) in [
            (json!(5), "`rate_limit`"),
            (
                json!({"limit": 0, "window_seconds": 1}),
                "`rate_limit.limit`",
            ),
            (
                json!({"limit": 1_000_001, "window_seconds": 1}),
                "`rate_limit.limit`",
            ),
            (
                json!({"limit": 1.5, "window_seconds": 1}),
                "`rate_limit.limit`",
            ),
            (
                json!({"limit": "5", "window_seconds": 1}),
                "`rate_limit.limit`",
            ),
            (json!({"limit": 5}), "`rate_limit.window_seconds`"),
            (
                json!({"limit": 5, "window_seconds": 86_401}),
                "`rate_limit.window_seconds`",
            ),
            (
                json!({"limit": 5, "window_seconds": 1, "burst": 2}),
                "`rate_limit`",
            ),
        ] {
            let detail = rate_limit_field(&body(json!({ "rate_limit": value })))
                .unwrap_err()
                .detail();
            assert!(detail.contains(field), "{value}: {detail}");
        }
    }

    #[test]
    fn a_quota_with_and_without_refill_is_accepted() {
        let q = quota_field(&body(json!({"quota": {"remaining": 0}}))).unwrap();
        assert_eq!(q, Some((0, None)));
        let q = quota_field(&body(json!({"quota": {"remaining": 1_000_000_000_000u64,
            "refill": {"every": "month", "amount": 10}}})))
        .unwrap();
        assert_eq!(
            q,
            Some((
                MAX_QUOTA,
                Some(Refill {
                    every: Every::Month,
                    amount: 10
                })
            ))
        );
    }

    #[test]
    fn bad_quotas_name_the_field() {
        for (value, field) in [
            (json!([]), "`quota`"),
            (json!({}), "`quota.remaining`"),
            (json!({"remaining": -1}), "`quota.remaining`"),
            (
                json!({"remaining": 1_000_000_000_001u64}),
                "`quota.remaining`",
            ),
            (json!({"remaining": 1, "refill": 5}), "`quota.refill`"),
            (
                json!({"remaining": 1, "refill": {"every": "week", "amount": 1}}),
                "`quota.refill.every`",
            ),
            (
                json!({"remaining": 1, "refill": {"every": "day", "amount": 0}}),
                "`quota.refill.amount`",
            ),
            (
                json!({"remaining": 1, "refill": {"every": "day"}}),
                "`quota.refill.amount`",
            ),
        ] {
            let detail = quota_field(&body(json!({ "quota": value })))
                .unwrap_err()
                .detail();
            assert!(detail.contains(field), "{value}: {detail}");
        }
    }
}
