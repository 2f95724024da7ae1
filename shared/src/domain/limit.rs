//! Per-key limits: named rate limits (requests per sliding window, see `window.rs`) and a
//! usage quota that may refill.
//!
//! Both are enforced in Redis by the same script that reads the cache entry (see
//! `cache/verify.lua`), so a limited key costs one round trip, like any other. This file
//! holds the types and the rules; the counting itself happens in that script, and what the
//! counters said comes back here as [`Counted`] to be judged by [`usage`].
//!
//! A key carries up to [`MAX_LIMITS`] named limits, all of which a request must pass. The
//! older single `rate_limit` field is the limit named [`DEFAULT_LIMIT`], so a key issued
//! with it, and every client reading it, works as before.
//!
//! A quota's live counter is in Redis too; DynamoDB keeps a copy that is brought up to date
//! on a key's first use in each minute and on every refill, so losing Redis loses at most a
//! minute of use and never gives a used quota back in full.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use serde::Serialize;

use crate::domain::window::{Window, WindowCount};

pub const MAX_RATE_LIMIT: u64 = 1_000_000;
pub const MAX_WINDOW_SECONDS: u64 = 86_400;
pub const MAX_QUOTA: u64 = 1_000_000_000_000;
/// How many named limits a key may carry.
pub const MAX_LIMITS: usize = 5;
/// The name of the limit the `rate_limit` field reads and writes.
pub const DEFAULT_LIMIT: &str = "default";
pub const MAX_LIMIT_NAME_CHARS: usize = 32;

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

/// At most `limit` requests per `window_seconds`: the `rate_limit` field, which is the
/// limit named [`DEFAULT_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimit {
    pub limit: u64,
    pub window_seconds: u64,
}

/// One named limit: at most `limit` requests per sliding window of `window_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limit {
    pub name: String,
    pub limit: u64,
    pub window_seconds: u64,
}

impl Limit {
    /// A name is 1 to 32 of `a-z`, `0-9`, `_` and `-`, starting with a letter: it appears in
    /// the cache entry, where the script finds it by pattern, and in a 429's message.
    pub fn valid_name(name: &str) -> bool {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && name.len() <= MAX_LIMIT_NAME_CHARS
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    }

    pub fn window(&self) -> Window {
        Window {
            limit: self.limit,
            window_ms: self.window_seconds * 1000,
        }
    }
}

/// Why a list of limits cannot be a key's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    #[error("a key has at most {MAX_LIMITS} limits")]
    TooMany,
    #[error("the limit name {0:?} is used twice")]
    Duplicate(String),
    #[error("the limit name {0:?} must be 1 to 32 of a-z, 0-9, _ and -, starting with a letter")]
    BadName(String),
}

/// A key's named limits, in the order given: at most [`MAX_LIMITS`], names unique.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Limits(Vec<Limit>);

impl Limits {
    pub fn new(list: Vec<Limit>) -> Result<Self, LimitsError> {
        if list.len() > MAX_LIMITS {
            return Err(LimitsError::TooMany);
        }
        for (i, limit) in list.iter().enumerate() {
            if !Limit::valid_name(&limit.name) {
                return Err(LimitsError::BadName(limit.name.clone()));
            }
            if list[..i].iter().any(|l| l.name == limit.name) {
                return Err(LimitsError::Duplicate(limit.name.clone()));
            }
        }
        Ok(Self(list))
    }

    /// The limits of a key set with the single `rate_limit` field.
    pub fn from_rate_limit(rate_limit: Option<RateLimit>) -> Self {
        Self::default()
            .with_rate_limit(rate_limit)
            .expect("an empty list has room for one limit")
    }

    /// The limit named `default`, as the `rate_limit` field shows it.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.0
            .iter()
            .find(|l| l.name == DEFAULT_LIMIT)
            .map(|l| RateLimit {
                limit: l.limit,
                window_seconds: l.window_seconds,
            })
    }

    /// These limits with `default` set to `rate_limit` (in its place, or last when new), or
    /// removed: what an update of `rate_limit` does, leaving the other limits alone. A key
    /// with five other limits has no room for `default`.
    pub fn with_rate_limit(&self, rate_limit: Option<RateLimit>) -> Result<Self, LimitsError> {
        let mut list = self.0.clone();
        let at = list.iter().position(|l| l.name == DEFAULT_LIMIT);
        match (rate_limit, at) {
            (Some(rl), at) => {
                let limit = Limit {
                    name: DEFAULT_LIMIT.to_owned(),
                    limit: rl.limit,
                    window_seconds: rl.window_seconds,
                };
                match at {
                    Some(i) => list[i] = limit,
                    None if list.len() < MAX_LIMITS => list.push(limit),
                    None => return Err(LimitsError::TooMany),
                }
            }
            (None, Some(i)) => {
                list.remove(i);
            }
            (None, None) => {}
        }
        Ok(Self(list))
    }

    pub fn as_slice(&self) -> &[Limit] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
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
        // Written from the date's numbers: chrono's `format` parses its pattern on every
        // call, which cost the verify script's call 3,900 instructions per request for the
        // two periods it passes (bench/PROFILE.md).
        let date = at.date_naive();
        match self {
            Every::Day => format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day()),
            Every::Month => format!("{:04}-{:02}", date.year(), date.month()),
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

/// Where a key stands against one of its limits after this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateStatus {
    pub name: String,
    pub limit: u64,
    /// Whole requests left now.
    pub remaining: u64,
    /// Seconds until the current window ends, or, for the limit that refused a request,
    /// until the request would pass (its `Retry-After`). Never 0: a client told 0 would
    /// retry at once.
    pub reset: u64,
}

fn seconds(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}

/// What the limits say about one request made with a valid key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Usage {
    /// The limit closest to refusal (the one that refused, when one did): what the
    /// `RateLimit-*` headers describe. Present when the key has limits and Redis counted.
    pub rate: Option<RateStatus>,
    /// Every limit, in the key's order, when counted.
    pub rates: Vec<RateStatus>,
    /// Calls left after this one, when the key has a quota and Redis counted it.
    pub quota_remaining: Option<u64>,
    /// Set when this request is refused by a limit.
    pub refusal: Option<Refusal>,
}

impl Usage {
    /// The usage of a request that must pass two sets of limits, a key's own (`self`) and
    /// its identity's: refused when either refuses (the script counted neither then); the
    /// headers describe the limit that refused, else the one of both closest to refusal;
    /// the quota left is the smaller.
    pub fn and(self, shared: Usage) -> Usage {
        let rate = match (&self.refusal, &shared.refusal) {
            (Some(_), _) => self.rate,
            (None, Some(_)) => shared.rate,
            (None, None) => [self.rate, shared.rate]
                .into_iter()
                .flatten()
                .min_by_key(|r| r.remaining),
        };
        Usage {
            rate,
            rates: self.rates,
            quota_remaining: match (self.quota_remaining, shared.quota_remaining) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            refusal: self.refusal.or(shared.refusal),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    RateLimited { retry_after: u64, limit: String },
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

/// What the limit counters said when a request was counted. Empty for a key without
/// limits, and for a request not counted (the key is not active).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counted {
    /// Each limit's windows before this request, in the key's order. A request refused by
    /// one limit took nothing from any of them.
    pub windows: Vec<WindowCount>,
    /// Absent also when a rate limit refused the request: the quota was not asked.
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

/// The usage a key's limits and counters add up to, for a request of `cost`. The script
/// made the same decision with the same integer inequality (`window.rs`).
pub fn usage(
    limits: &Limits,
    quota: Option<&Quota>,
    counted: &Counted,
    cost: Cost,
    now: DateTime<Utc>,
) -> Usage {
    let mut usage = Usage::default();
    let pairs: Vec<(&Limit, WindowCount)> = limits
        .as_slice()
        .iter()
        .zip(counted.windows.iter().copied())
        .collect();
    let refused = pairs.iter().any(|(l, c)| !l.window().passes(*c, cost));
    let mut refusing: Option<(u64, usize)> = None;
    for (i, (limit, before)) in pairs.iter().enumerate() {
        let window = limit.window();
        let mut status = RateStatus {
            name: limit.name.clone(),
            limit: limit.limit,
            remaining: window.remaining(*before),
            reset: seconds(window.to_window_end(*before)),
        };
        if !window.passes(*before, cost) {
            status.reset = seconds(window.retry_after_ms(*before, cost));
            if refusing.is_none_or(|(longest, _)| status.reset > longest) {
                refusing = Some((status.reset, i));
            }
        } else if !refused {
            let after = WindowCount {
                current: before.current + cost.get(),
                ..*before
            };
            status.remaining = window.remaining(after);
        }
        usage.rates.push(status);
    }
    if let Some((retry_after, i)) = refusing {
        usage.refusal = Some(Refusal::RateLimited {
            retry_after,
            limit: usage.rates[i].name.clone(),
        });
        usage.rate = Some(usage.rates[i].clone());
    } else {
        usage.rate = usage.rates.iter().min_by_key(|r| r.remaining).cloned();
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

    fn status(name: &str, remaining: u64) -> RateStatus {
        RateStatus {
            name: name.to_owned(),
            limit: 10,
            remaining,
            reset: 1,
        }
    }

    #[test]
    fn a_request_under_two_sets_of_limits_is_refused_by_either_and_reports_the_closest() {
        let own = Usage {
            rate: Some(status("own", 5)),
            rates: vec![status("own", 5)],
            quota_remaining: Some(90),
            refusal: None,
        };
        let shared = Usage {
            rate: Some(status("shared", 2)),
            rates: vec![status("shared", 2)],
            quota_remaining: Some(40),
            refusal: None,
        };
        let both = own.clone().and(shared.clone());
        assert_eq!(both.rate, Some(status("shared", 2)));
        assert_eq!(both.quota_remaining, Some(40));
        assert_eq!(both.refusal, None);
        let refusing = Usage {
            refusal: Some(Refusal::RateLimited {
                retry_after: 3,
                limit: "shared".to_owned(),
            }),
            rate: Some(status("shared", 0)),
            ..shared
        };
        let refused = own.and(refusing);
        assert_eq!(refused.rate, Some(status("shared", 0)));
        assert!(matches!(refused.refusal, Some(Refusal::RateLimited { .. })));
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
    fn periods_are_written_as_before_so_stored_ones_still_compare() {
        // Stored quotas carry periods written with chrono's `%Y-%m-%d` and `%Y-%m`.
        let mut t = at("2026-01-01T00:00:00Z");
        while t < at("2029-01-01T00:00:00Z") {
            assert_eq!(Every::Day.period(t), t.format("%Y-%m-%d").to_string());
            assert_eq!(Every::Month.period(t), t.format("%Y-%m").to_string());
            t += TimeDelta::hours(13);
        }
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

    fn noon() -> DateTime<Utc> {
        "2026-11-30T12:00:00Z".parse().unwrap()
    }

    fn limit(name: &str, limit: u64, window_seconds: u64) -> Limit {
        Limit {
            name: name.into(),
            limit,
            window_seconds,
        }
    }

    fn rate(limit: u64) -> Limits {
        Limits::from_rate_limit(Some(RateLimit {
            limit,
            window_seconds: 60,
        }))
    }

    /// One limit's windows: nothing in the previous one, `current` so far, 30 s in.
    fn counted_rate(current: u64) -> Counted {
        Counted {
            windows: vec![WindowCount {
                previous: 0,
                current,
                elapsed_ms: 30_000,
            }],
            quota: None,
        }
    }

    fn refused_by(u: &Usage) -> Option<&str> {
        match &u.refusal {
            Some(Refusal::RateLimited { limit, .. }) => Some(limit),
            _ => None,
        }
    }

    #[test]
    fn the_last_request_within_the_limit_passes_and_the_next_is_refused() {
        let at_limit = usage(&rate(3), None, &counted_rate(2), Cost::ONE, noon());
        assert_eq!(at_limit.refusal, None);
        let status = at_limit.rate.unwrap();
        assert_eq!(
            (status.name.as_str(), status.remaining, status.reset),
            ("default", 0, 30)
        );
        // Full at 30 s: the next request passes 20 s into the next window, once this
        // window's 3 weigh no more than 2.
        let over = usage(&rate(3), None, &counted_rate(3), Cost::ONE, noon());
        assert_eq!(
            over.refusal,
            Some(Refusal::RateLimited {
                retry_after: 50,
                limit: "default".into()
            })
        );
    }

    #[test]
    fn every_limit_must_pass_and_the_one_that_refuses_is_named() {
        let limits = Limits::new(vec![
            limit("per_second", 2, 1),
            limit("per_hour", 100, 3600),
        ])
        .unwrap();
        let counted = |per_second, per_hour| Counted {
            windows: vec![
                WindowCount {
                    previous: 0,
                    current: per_second,
                    elapsed_ms: 500,
                },
                WindowCount {
                    previous: 0,
                    current: per_hour,
                    elapsed_ms: 500,
                },
            ],
            quota: None,
        };
        let ok = usage(&limits, None, &counted(0, 10), Cost::ONE, noon());
        assert_eq!(ok.refusal, None);
        // The headers describe the limit closest to refusal: 1 left per second.
        assert_eq!(
            ok.rate.as_ref().map(|r| (r.name.as_str(), r.remaining)),
            Some(("per_second", 1))
        );
        assert_eq!(ok.rates[1].remaining, 89);
        let by_second = usage(&limits, None, &counted(2, 10), Cost::ONE, noon());
        assert_eq!(refused_by(&by_second), Some("per_second"));
        // Nothing was taken from the limit that passed either.
        assert_eq!(by_second.rates[1].remaining, 90);
        let by_hour = usage(&limits, None, &counted(0, 100), Cost::ONE, noon());
        assert_eq!(refused_by(&by_hour), Some("per_hour"));
        assert_eq!(by_hour.rate.unwrap().name, "per_hour");
    }

    #[test]
    fn limits_hold_at_most_five_uniquely_and_well_named() {
        let five: Vec<Limit> = (0..5).map(|i| limit(&format!("l{i}"), 1, 1)).collect();
        assert!(Limits::new(five.clone()).is_ok());
        let mut six = five.clone();
        six.push(limit("l5", 1, 1));
        assert_eq!(Limits::new(six), Err(LimitsError::TooMany));
        assert_eq!(
            Limits::new(vec![limit("a", 1, 1), limit("a", 2, 2)]),
            Err(LimitsError::Duplicate("a".into()))
        );
        for bad in ["", "Upper", "1st", "has space", "q\"", &"x".repeat(33)] {
            assert!(!Limit::valid_name(bad), "{bad}");
        }
        for good in ["per_second", "burst-1", &"x".repeat(32)] {
            assert!(Limit::valid_name(good), "{good}");
        }
    }

    #[test]
    fn rate_limit_is_the_limit_named_default_and_leaves_the_others_alone() {
        let rl = RateLimit {
            limit: 5,
            window_seconds: 9,
        };
        let limits = Limits::new(vec![limit("per_second", 2, 1)]).unwrap();
        let with = limits.with_rate_limit(Some(rl)).unwrap();
        assert_eq!(with.rate_limit(), Some(rl));
        assert_eq!(with.as_slice()[0].name, "per_second");
        assert_eq!(with.with_rate_limit(None).unwrap(), limits);
        assert_eq!(limits.rate_limit(), None);
        let five = Limits::new((0..5).map(|i| limit(&format!("l{i}"), 1, 1)).collect()).unwrap();
        assert_eq!(five.with_rate_limit(Some(rl)), Err(LimitsError::TooMany));
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
            windows: Vec::new(),
            quota: Some(QuotaCounted {
                remaining: 0,
                exhausted: true,
                refilled: false,
                period: "2026-11-30".into(),
            }),
        };
        let u = usage(
            &Limits::default(),
            Some(&quota),
            &counted,
            Cost::ONE,
            noon(),
        );
        assert_eq!(
            u.refusal,
            Some(Refusal::QuotaExhausted {
                retry_after: Some(12 * 3600)
            })
        );
        let no_refill = Quota::set(0, None, 1, noon());
        let u = usage(
            &Limits::default(),
            Some(&no_refill),
            &counted,
            Cost::ONE,
            noon(),
        );
        assert_eq!(
            u.refusal,
            Some(Refusal::QuotaExhausted { retry_after: None })
        );
    }

    #[test]
    fn a_cost_over_what_is_left_is_refused_and_leaves_what_was_left() {
        let cost = Cost::new(5).unwrap();
        // 7 used before, 5 more asked of a limit of 10: refused, 3 still left.
        let u = usage(&rate(10), None, &counted_rate(7), cost, noon());
        assert_eq!(refused_by(&u), Some("default"));
        assert_eq!(u.rate.unwrap().remaining, 3);
        // 5 used before, 5 more: exactly the limit, passes with nothing left.
        let u = usage(&rate(10), None, &counted_rate(5), cost, noon());
        assert_eq!((u.refusal, u.rate.unwrap().remaining), (None, 0));
    }

    #[test]
    fn cost_zero_passes_while_anything_is_left_and_uses_nothing() {
        let zero = Cost::new(0).unwrap();
        let u = usage(&rate(3), None, &counted_rate(2), zero, noon());
        assert_eq!((u.refusal, u.rate.unwrap().remaining), (None, 1));
        let u = usage(&rate(3), None, &counted_rate(3), zero, noon());
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
            usage(
                &Limits::default(),
                None,
                &Counted::default(),
                Cost::ONE,
                noon()
            ),
            Usage::default()
        );
    }
}
