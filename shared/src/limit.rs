//! Per-key limits: a rate limit (requests per window) and a usage quota that may refill.
//!
//! Both are enforced in Redis by the same script that reads the cache entry (see
//! [`crate::cache`]), so a limited key costs one round trip, like any other.
//!
//! The rate limit is a fixed window that opens with the first request after the previous
//! window closed: `INCR` a counter, and give it the window as its expiry when it is new.
//! That is exact under any concurrency (Redis runs each script alone), needs no clock
//! agreement between Lambda instances, and makes `RateLimit-Reset` the counter's own TTL.
//!
//! A quota's live counter is in Redis too; DynamoDB keeps a copy that is brought up to date
//! on a key's first use in each minute and on every refill, so losing Redis loses at most a
//! minute of use and never gives a used quota back in full.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ApiError;

pub const MAX_RATE_LIMIT: u64 = 1_000_000;
pub const MAX_WINDOW_SECONDS: u64 = 86_400;
pub const MAX_QUOTA: u64 = 1_000_000_000_000;

/// At most `limit` requests per `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimit {
    pub limit: u64,
    pub window_seconds: u64,
}

/// How often a quota refills: at 00:00 UTC each day, or on the first of each month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Every {
    Day,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Refill {
    pub every: Every,
    pub amount: u64,
}

/// A usage quota, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Calls left in `period`, as of the last write to DynamoDB (Redis holds the live count).
    pub remaining: u64,
    pub refill: Option<Refill>,
    /// The refill period `remaining` belongs to (`2026-11-30`, `2026-11`; empty without a
    /// refill): read in a later period, the quota is full again.
    pub period: String,
    /// Bumped each time the quota is set, so that a live counter started from an older
    /// setting is dropped rather than carried on.
    pub generation: u64,
}

impl Every {
    pub fn as_str(self) -> &'static str {
        match self {
            Every::Day => "day",
            Every::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "day" => Some(Every::Day),
            "month" => Some(Every::Month),
            _ => None,
        }
    }

    /// The refill period `at` falls in. Later periods sort after earlier ones as strings,
    /// which the cache's script relies on to refill only forwards.
    pub fn period(self, at: DateTime<Utc>) -> String {
        match self {
            Every::Day => at.format("%Y-%m-%d").to_string(),
            Every::Month => at.format("%Y-%m").to_string(),
        }
    }

    /// The start of the next period after `at`.
    pub fn next_refill(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let date = at.date_naive();
        let next = match self {
            Every::Day => date + TimeDelta::days(1),
            Every::Month => {
                let (y, m) = if date.month() == 12 {
                    (date.year() + 1, 1)
                } else {
                    (date.year(), date.month() + 1)
                };
                NaiveDate::from_ymd_opt(y, m, 1).expect("the first of a month exists")
            }
        };
        next.and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
    }
}

impl Quota {
    /// A quota set now (by issue or by an admin update).
    pub fn set(
        remaining: u64,
        refill: Option<Refill>,
        generation: u64,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            remaining,
            refill,
            period: refill.map(|r| r.every.period(now)).unwrap_or_default(),
            generation,
        }
    }

    /// Calls left at `now`: a refill period that has begun since `period` means a full
    /// quota.
    pub fn remaining_at(&self, now: DateTime<Utc>) -> u64 {
        match self.refill {
            Some(r) if r.every.period(now) > self.period => r.amount,
            _ => self.remaining,
        }
    }

    /// Seconds until the next refill, if the quota has one.
    pub fn seconds_to_refill(&self, now: DateTime<Utc>) -> Option<u64> {
        self.refill
            .map(|r| seconds_until(r.every.next_refill(now), now))
    }
}

/// Whole seconds from `now` until `at`, rounded up, at least 1: a client told to retry
/// after 0 seconds would retry at once and be refused again.
pub fn seconds_until(at: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let ms = (at - now).num_milliseconds().max(0) as u64;
    ms.div_ceil(1000).max(1)
}

/// Where a key stands against its rate limit after this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window resets.
    pub reset: u64,
}

impl RateStatus {
    /// From the window's counter after this request and the counter's TTL.
    pub fn from_counter(limit: u64, count: u64, ttl_ms: u64) -> Self {
        Self {
            limit,
            remaining: limit.saturating_sub(count),
            reset: ttl_ms.div_ceil(1000).max(1),
        }
    }

    /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            ("ratelimit-limit", self.limit),
            ("ratelimit-remaining", self.remaining),
            ("ratelimit-reset", self.reset),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
}

/// What the limits say about one request made with a valid key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Usage {
    /// Present when the key has a rate limit and Redis counted this request.
    pub rate: Option<RateStatus>,
    /// Calls left after this one, when the key has a quota and Redis counted it.
    pub quota_remaining: Option<u64>,
    /// Set when this request is refused by a limit.
    pub refusal: Option<Refusal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    RateLimited {
        retry_after: u64,
    },
    QuotaExhausted {
        retry_after: Option<u64>,
    },
    /// The key has limits, Redis cannot count them, and the deployment says deny.
    CacheDown,
}

/// `RATE_LIMIT_WHEN_CACHE_DOWN`: what a key with limits gets while Redis is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenCacheDown {
    /// Verify from DynamoDB and let the request through uncounted.
    #[default]
    Allow,
    /// Answer 503.
    Deny,
}

impl WhenCacheDown {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(WhenCacheDown::Allow),
            "deny" => Some(WhenCacheDown::Deny),
            _ => None,
        }
    }
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

fn only_fields(
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

fn integer(
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

fn bad(detail: &str) -> ApiError {
    ApiError::BadRequest(detail.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

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

    #[test]
    fn periods_sort_in_time_order() {
        let day = Every::Day;
        assert_eq!(day.period(at("2026-11-30T23:59:59Z")), "2026-11-30");
        assert!(day.period(at("2026-12-01T00:00:00Z")) > day.period(at("2026-11-30T23:59:59Z")));
        assert_eq!(Every::Month.period(at("2026-02-28T12:00:00Z")), "2026-02");
        assert!(
            Every::Month.period(at("2027-01-01T00:00:00Z"))
                > Every::Month.period(at("2026-12-31T00:00:00Z"))
        );
    }

    #[test]
    fn the_next_refill_is_the_next_midnight_or_first_of_month() {
        assert_eq!(
            Every::Day.next_refill(at("2026-11-30T13:00:00Z")),
            at("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            Every::Month.next_refill(at("2026-12-15T00:00:00Z")),
            at("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            Every::Month.next_refill(at("2026-01-01T00:00:00Z")),
            at("2026-02-01T00:00:00Z")
        );
    }

    #[test]
    fn a_quota_read_in_a_later_period_is_full() {
        let refill = Some(Refill {
            every: Every::Day,
            amount: 50,
        });
        let mut q = Quota::set(50, refill, 1, at("2026-11-30T10:00:00Z"));
        assert_eq!(q.period, "2026-11-30");
        q.remaining = 3;
        assert_eq!(q.remaining_at(at("2026-11-30T23:00:00Z")), 3);
        assert_eq!(q.remaining_at(at("2026-12-01T00:00:00Z")), 50);
        let mut no_refill = Quota::set(7, None, 1, at("2026-11-30T10:00:00Z"));
        no_refill.remaining = 2;
        assert_eq!(no_refill.remaining_at(at("2027-01-01T00:00:00Z")), 2);
        assert_eq!(
            no_refill.seconds_to_refill(at("2026-11-30T10:00:00Z")),
            None
        );
        assert_eq!(q.seconds_to_refill(at("2026-11-30T23:59:59.500Z")), Some(1));
    }

    #[test]
    fn rate_status_counts_down_and_never_resets_in_zero_seconds() {
        let s = RateStatus::from_counter(10, 12, 400);
        assert_eq!((s.remaining, s.reset), (0, 1));
        let s = RateStatus::from_counter(10, 3, 59_001);
        assert_eq!((s.remaining, s.reset), (7, 60));
    }
}
