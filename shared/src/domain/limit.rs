//! Per-key limits: a rate limit (requests per window) and a usage quota that may refill.
//!
//! Both are enforced in Redis by the same script that reads the cache entry (see
//! `cache/verify.lua`), so a limited key costs one round trip, like any other. This file
//! holds the types and the rules; the counting itself happens in that script, and what the
//! counters said comes back here as [`Counted`] to be judged by [`usage`].
//!
//! The rate limit is a fixed window that opens with the first request after the previous
//! window closed: `INCR` a counter, and give it the window as its expiry when it is new.
//! That is exact under any concurrency (Redis runs each script alone), needs no clock
//! agreement between Lambda instances, and makes `RateLimit-Reset` the counter's own TTL.
//!
//! A quota's live counter is in Redis too; DynamoDB keeps a copy that is brought up to date
//! on a key's first use in each minute and on every refill, so losing Redis loses at most a
//! minute of use and never gives a used quota back in full.

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use serde::Serialize;

pub const MAX_RATE_LIMIT: u64 = 1_000_000;
pub const MAX_WINDOW_SECONDS: u64 = 86_400;
pub const MAX_QUOTA: u64 = 1_000_000_000_000;

/// What one request costs against a key's rate limit and quota alike: 1 unless the caller
/// says otherwise (the verify API's `cost`, test-protected's `?cost=`), at most
/// [`Cost::MAX`]. A request is refused when a limit has less left than its cost, and a
/// refused request takes nothing from that limit; cost 0 checks a key without using
/// anything, and is refused only by a limit with nothing left at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cost(u16);

impl Cost {
    pub const ONE: Cost = Cost(1);
    pub const MAX: u64 = 1_000;

    /// A cost in `0..=Cost::MAX`.
    pub fn new(n: u64) -> Option<Self> {
        u16::try_from(n).ok().filter(|_| n <= Self::MAX).map(Cost)
    }

    pub fn get(self) -> u64 {
        u64::from(self.0)
    }

    /// What a limit must have left for the request to pass: its cost, and at least 1.
    pub fn needs(self) -> u64 {
        self.get().max(1)
    }
}

impl Default for Cost {
    fn default() -> Self {
        Cost::ONE
    }
}

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

    /// Calls left at `now`: the live count when the cache has one for this setting of the
    /// quota, else the stored one; a refill period that has begun since then means a full
    /// quota.
    pub fn remaining_at(&self, live: Option<&QuotaCount>, now: DateTime<Utc>) -> u64 {
        let (remaining, period) = match live {
            Some(l) if l.generation == self.generation => (l.remaining, l.period.as_str()),
            _ => (self.remaining, self.period.as_str()),
        };
        match self.refill {
            Some(r) if r.every.period(now).as_str() > period => r.amount,
            _ => remaining,
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

    /// From the window's count including a request of `cost` (as the script returns it,
    /// given back or not): whether the request is refused, and where the window stands
    /// after it. A refused request took nothing, so what is left is what was left before.
    /// For cost 1 this is [`RateStatus::from_counter`] and `count > limit`, as before costs.
    pub fn after(limit: u64, count: u64, cost: Cost, ttl_ms: u64) -> (bool, Self) {
        let before = count.saturating_sub(cost.get());
        let refused = before + cost.needs() > limit;
        let counted = if refused { before } else { count };
        (refused, Self::from_counter(limit, counted, ttl_ms))
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
    RateLimited { retry_after: u64 },
    QuotaExhausted { retry_after: Option<u64> },
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

/// A quota's live count, as Redis had it after a request (or as written to DynamoDB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaCount {
    pub remaining: u64,
    pub period: String,
    pub generation: u64,
}

/// What the limit counters said after a request was counted. Both are `None` for a key
/// without limits, and for a request not counted (the key is not active).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counted {
    /// The rate window's count including this request's cost (also when the request was
    /// refused and its cost given back: see [`RateStatus::after`]), and the window's time
    /// left.
    pub rate: Option<(u64, Duration)>,
    pub quota: Option<QuotaCounted>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct QuotaCounted {
    /// Calls left after this one (as many as before it, when it was refused).
    pub remaining: u64,
    /// True when less than the request's cost was left, so it was refused.
    pub exhausted: bool,
    /// True when this request began a new refill period.
    pub refilled: bool,
    /// The refill period the count belongs to.
    pub period: String,
}

/// The usage a key's limits and counters add up to, for a request of `cost`.
pub fn usage(
    rate_limit: Option<RateLimit>,
    quota: Option<&Quota>,
    counted: &Counted,
    cost: Cost,
    now: DateTime<Utc>,
) -> Usage {
    let mut usage = Usage::default();
    if let (Some(rl), Some((count, ttl))) = (rate_limit, counted.rate) {
        let (refused, status) = RateStatus::after(rl.limit, count, cost, ttl.as_millis() as u64);
        if refused {
            usage.refusal = Some(Refusal::RateLimited {
                retry_after: status.reset,
            });
        }
        usage.rate = Some(status);
    }
    if let (Some(q), Some(c)) = (quota, &counted.quota) {
        usage.quota_remaining = Some(c.remaining);
        if c.exhausted && usage.refusal.is_none() {
            usage.refusal = Some(Refusal::QuotaExhausted {
                retry_after: q.seconds_to_refill(now),
            });
        }
    }
    usage
}

/// The quota count to write to DynamoDB after a request, if one is due: on the key's first
/// use in the last-used window, and on a refill (so a refill is never lost with Redis).
pub fn count_to_store(
    quota: Option<&Quota>,
    counted: &Counted,
    first_use: bool,
) -> Option<QuotaCount> {
    let (quota, counted) = (quota?, counted.quota.as_ref()?);
    (first_use || counted.refilled).then(|| QuotaCount {
        remaining: counted.remaining,
        period: counted.period.clone(),
        generation: quota.generation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
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
        assert_eq!(q.remaining_at(None, at("2026-11-30T23:00:00Z")), 3);
        assert_eq!(q.remaining_at(None, at("2026-12-01T00:00:00Z")), 50);
        let mut no_refill = Quota::set(7, None, 1, at("2026-11-30T10:00:00Z"));
        no_refill.remaining = 2;
        assert_eq!(no_refill.remaining_at(None, at("2027-01-01T00:00:00Z")), 2);
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

    fn noon() -> DateTime<Utc> {
        "2026-11-30T12:00:00Z".parse().unwrap()
    }

    fn rate(limit: u64) -> Option<RateLimit> {
        Some(RateLimit {
            limit,
            window_seconds: 60,
        })
    }

    fn counted_rate(count: u64, ttl_ms: u64) -> Counted {
        Counted {
            rate: Some((count, Duration::from_millis(ttl_ms))),
            quota: None,
        }
    }

    #[test]
    fn the_last_request_within_the_limit_passes_and_the_next_is_refused() {
        let at_limit = usage(rate(3), None, &counted_rate(3, 30_000), Cost::ONE, noon());
        assert_eq!(at_limit.refusal, None);
        assert_eq!(at_limit.rate.unwrap().remaining, 0);
        let over = usage(rate(3), None, &counted_rate(4, 29_100), Cost::ONE, noon());
        assert_eq!(over.refusal, Some(Refusal::RateLimited { retry_after: 30 }));
    }

    #[test]
    fn an_exhausted_quota_says_when_it_refills() {
        let quota = Quota::set(
            0,
            Some(Refill {
                every: Every::Day,
                amount: 10,
            }),
            1,
            noon(),
        );
        let counted = Counted {
            rate: None,
            quota: Some(QuotaCounted {
                remaining: 0,
                exhausted: true,
                refilled: false,
                period: "2026-11-30".into(),
            }),
        };
        let u = usage(None, Some(&quota), &counted, Cost::ONE, noon());
        assert_eq!(
            u.refusal,
            Some(Refusal::QuotaExhausted {
                retry_after: Some(12 * 3600)
            })
        );
        let no_refill = Quota::set(0, None, 1, noon());
        let u = usage(None, Some(&no_refill), &counted, Cost::ONE, noon());
        assert_eq!(
            u.refusal,
            Some(Refusal::QuotaExhausted { retry_after: None })
        );
    }

    #[test]
    fn a_cost_over_what_is_left_is_refused_and_leaves_what_was_left() {
        let cost = Cost::new(5).unwrap();
        // 7 used before, 5 more asked of a limit of 10: refused, 3 still left.
        let u = usage(rate(10), None, &counted_rate(12, 30_000), cost, noon());
        assert_eq!(u.refusal, Some(Refusal::RateLimited { retry_after: 30 }));
        assert_eq!(u.rate.unwrap().remaining, 3);
        // 5 used before, 5 more: exactly the limit, passes with nothing left.
        let u = usage(rate(10), None, &counted_rate(10, 30_000), cost, noon());
        assert_eq!((u.refusal, u.rate.unwrap().remaining), (None, 0));
    }

    #[test]
    fn cost_zero_passes_while_anything_is_left_and_uses_nothing() {
        let zero = Cost::new(0).unwrap();
        let u = usage(rate(3), None, &counted_rate(2, 30_000), zero, noon());
        assert_eq!((u.refusal, u.rate.unwrap().remaining), (None, 1));
        let u = usage(rate(3), None, &counted_rate(3, 30_000), zero, noon());
        assert!(u.refusal.is_some());
        assert_eq!(u.rate.unwrap().remaining, 0);
    }

    #[test]
    fn costs_run_from_zero_to_a_thousand() {
        assert_eq!(Cost::new(0).map(Cost::get), Some(0));
        assert_eq!(Cost::new(1000).map(Cost::get), Some(1000));
        assert_eq!(Cost::new(1001), None);
        assert_eq!(Cost::default(), Cost::ONE);
        assert_eq!((Cost::new(0).unwrap().needs(), Cost::ONE.needs()), (1, 1));
    }

    #[test]
    fn a_key_without_limits_has_no_usage() {
        assert_eq!(
            usage(None, None, &Counted::default(), Cost::ONE, noon()),
            Usage::default()
        );
    }
}
