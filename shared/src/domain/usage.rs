//! Usage: how many verifications each key (and identity, owner, deployment) answered, by
//! outcome and hour. No I/O here: the tallies' names, the arithmetic, the buckets and the
//! ranges the usage API accepts.
//!
//! A verification is counted twice over in Redis, never per outcome: every request a key is
//! presented with is counted in the call that reads its entry (so a valid request costs no
//! extra round trip), and every refusal with a second call. Valid is what is left:
//! `presented − refusals`. See `ops/usage.rs` for the path of a count to DynamoDB.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeDelta, Utc};

use super::identity::IdentityId;
use super::invalid::Invalid;
use super::key::{KeyHash, KeyId};
use super::outcome::Outcome;

/// What one counter counts. `Presented` is every request; the rest are refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tally {
    Presented,
    RateLimited,
    QuotaExhausted,
    MissingScope,
    Revoked,
    Expired,
    /// Answered while the stores could not judge the key, or refused as not a key of this
    /// kind: subtracted from `presented`, reported only in the CloudWatch metrics.
    Other,
}

impl Tally {
    pub const ALL: [Tally; 7] = [
        Tally::Presented,
        Tally::RateLimited,
        Tally::QuotaExhausted,
        Tally::MissingScope,
        Tally::Revoked,
        Tally::Expired,
        Tally::Other,
    ];

    /// The one-letter code of its Redis hash field and DynamoDB attribute.
    pub fn code(self) -> &'static str {
        match self {
            Tally::Presented => "p",
            Tally::RateLimited => "r",
            Tally::QuotaExhausted => "q",
            Tally::MissingScope => "s",
            Tally::Revoked => "x",
            Tally::Expired => "e",
            Tally::Other => "o",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Tally::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The refusal an outcome is counted as; `None` for a valid one (counted as presented
    /// only) and for no key at all (nothing was read, so nothing was presented).
    pub fn refusal(outcome: &Outcome) -> Option<Self> {
        match outcome {
            Outcome::Valid(_) | Outcome::Missing => None,
            Outcome::RateLimited { .. } => Some(Tally::RateLimited),
            Outcome::QuotaExhausted { .. } => Some(Tally::QuotaExhausted),
            Outcome::MissingScope(_) => Some(Tally::MissingScope),
            Outcome::Revoked => Some(Tally::Revoked),
            Outcome::Expired => Some(Tally::Expired),
            Outcome::Invalid | Outcome::Unavailable(_) => Some(Tally::Other),
        }
    }
}

/// An hour, as whole hours since the Unix epoch: the unit Redis counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hour(pub i64);

impl Hour {
    pub fn of(at: DateTime<Utc>) -> Self {
        Hour(at.timestamp().div_euclid(3600))
    }

    pub fn start(self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0.saturating_mul(3600), 0).unwrap_or_default()
    }

    /// The Redis hash field that counts `tally` in this hour: `<hour>:<code>`.
    pub fn field(self, tally: Tally) -> String {
        format!("{}:{}", self.0, tally.code())
    }
}

/// A presentation the cache counted: the key's hash and the hour it was counted in, so that
/// a refusal decided later (a scope the caller requires) is counted beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageTicket {
    pub hash: KeyHash,
    pub hour: Hour,
}

/// The counts of one bucket (or a total), as stored: presented and each refusal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub presented: u64,
    pub rate_limited: u64,
    pub quota_exhausted: u64,
    pub missing_scope: u64,
    pub revoked: u64,
    pub expired: u64,
    pub other: u64,
}

impl Counts {
    pub fn get(&self, tally: Tally) -> u64 {
        match tally {
            Tally::Presented => self.presented,
            Tally::RateLimited => self.rate_limited,
            Tally::QuotaExhausted => self.quota_exhausted,
            Tally::MissingScope => self.missing_scope,
            Tally::Revoked => self.revoked,
            Tally::Expired => self.expired,
            Tally::Other => self.other,
        }
    }

    pub fn add(&mut self, tally: Tally, n: u64) {
        let slot = match tally {
            Tally::Presented => &mut self.presented,
            Tally::RateLimited => &mut self.rate_limited,
            Tally::QuotaExhausted => &mut self.quota_exhausted,
            Tally::MissingScope => &mut self.missing_scope,
            Tally::Revoked => &mut self.revoked,
            Tally::Expired => &mut self.expired,
            Tally::Other => &mut self.other,
        };
        *slot = slot.saturating_add(n);
    }

    pub fn merge(&mut self, other: &Counts) {
        for tally in Tally::ALL {
            self.add(tally, other.get(tally));
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
    }

    /// Every refusal that is reported (not `other`).
    pub fn refused(&self) -> u64 {
        [
            Tally::RateLimited,
            Tally::QuotaExhausted,
            Tally::MissingScope,
            Tally::Revoked,
            Tally::Expired,
        ]
        .iter()
        .map(|t| self.get(*t))
        .sum()
    }

    /// Presented and not refused. A refusal counted in a later fold than its presentation
    /// can make one bucket's share briefly short; never below zero.
    pub fn valid(&self) -> u64 {
        let refused = Tally::ALL[1..].iter().map(|t| self.get(*t)).sum::<u64>();
        self.presented.saturating_sub(refused)
    }
}

/// A key's Redis usage hash (`<hour>:<code>` → count) read into counts per hour; fields it
/// does not know (the fold's id) are skipped.
pub fn counts_by_hour<'a>(
    fields: impl IntoIterator<Item = (&'a str, u64)>,
) -> BTreeMap<Hour, Counts> {
    let mut hours: BTreeMap<Hour, Counts> = BTreeMap::new();
    for (field, n) in fields {
        let Some((hour, code)) = field.split_once(':') else {
            continue;
        };
        let (Ok(hour), Some(tally)) = (hour.parse::<i64>(), Tally::from_code(code)) else {
            continue;
        };
        hours.entry(Hour(hour)).or_default().add(tally, n);
    }
    hours
}

/// The bucket size of a usage answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Granularity {
    Hour,
    Day,
}

impl Granularity {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hour" => Some(Granularity::Hour),
            "day" => Some(Granularity::Day),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }

    pub fn step(self) -> TimeDelta {
        match self {
            Granularity::Hour => Duration::hours(1),
            Granularity::Day => Duration::days(1),
        }
    }

    /// The start of the bucket `at` falls in. In whole seconds: chrono's own rounding works
    /// in nanoseconds, which end in 2262.
    pub fn floor(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let (t, step) = (at.timestamp(), self.step().num_seconds());
        DateTime::from_timestamp(t - t.rem_euclid(step), 0).unwrap_or(at)
    }

    /// The range asked for when none is: the last 24 hours, or the last 30 days.
    fn default_span(self) -> TimeDelta {
        match self {
            Granularity::Hour => Duration::hours(24),
            Granularity::Day => Duration::days(30),
        }
    }

    /// How long DynamoDB keeps a bucket (its TTL attribute): 90 days of hours, 2 years of
    /// days.
    pub fn retention(self) -> TimeDelta {
        match self {
            Granularity::Hour => Duration::days(90),
            Granularity::Day => Duration::days(731),
        }
    }

    /// The bucket's name in its DynamoDB item's key: `2026120110` for an hour, `20261201`
    /// for a day.
    pub fn label(self, start: DateTime<Utc>) -> String {
        match self {
            Granularity::Hour => start.format("%Y%m%d%H").to_string(),
            Granularity::Day => start.format("%Y%m%d").to_string(),
        }
    }
}

/// The most buckets one answer holds.
pub const MAX_BUCKETS: i64 = 2_000;

/// A range of whole buckets, `from` included, `to` excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageRange {
    pub granularity: Granularity,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl UsageRange {
    /// The buckets from `from` to `to`, widened to whole buckets; either bound, when
    /// absent, from the default span ending now. Refusals name the parameter.
    pub fn new(
        granularity: Granularity,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, Invalid> {
        let step = granularity.step();
        let to = match to {
            Some(to) => to,
            None => granularity.floor(now) + step,
        };
        let from = match from {
            Some(from) => from,
            None => to - granularity.default_span(),
        };
        if from >= to {
            return Err(Invalid::new("`from` must be before `to`"));
        }
        let (from, to) = (granularity.floor(from), ceil(granularity, to));
        let buckets = (to - from).num_seconds() / step.num_seconds();
        if buckets > MAX_BUCKETS {
            return Err(Invalid::new(format!(
                "`from` to `to` spans {buckets} {}s; at most {MAX_BUCKETS} buckets are answered at once",
                granularity.name()
            )));
        }
        Ok(UsageRange {
            granularity,
            from,
            to,
        })
    }

    /// Each bucket's start, oldest first.
    pub fn starts(&self) -> Vec<DateTime<Utc>> {
        let mut starts = Vec::new();
        let mut at = self.from;
        while at < self.to {
            starts.push(at);
            at += self.granularity.step();
        }
        starts
    }
}

fn ceil(granularity: Granularity, at: DateTime<Utc>) -> DateTime<Utc> {
    let floor = granularity.floor(at);
    if floor == at {
        at
    } else {
        floor + granularity.step()
    }
}

/// Whose usage: one key's, one identity's, one owner's, or the deployment's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Key(KeyId),
    Identity(IdentityId),
    Owner(String),
    Total,
}

/// The deployment's totals are kept in this many items per bucket, a key's counts going to
/// the shard its hash picks: no single item takes every fold's write.
pub const TOTAL_SHARDS: u8 = 8;

pub fn total_shard(hash: &KeyHash) -> u8 {
    hash.to_hex().as_bytes()[0] % TOTAL_SHARDS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn valid_is_presented_less_every_refusal() {
        let mut c = Counts::default();
        c.add(Tally::Presented, 10);
        c.add(Tally::Revoked, 2);
        c.add(Tally::RateLimited, 3);
        c.add(Tally::Other, 1);
        assert_eq!(c.valid(), 4);
    }

    #[test]
    fn valid_never_goes_below_zero() {
        let mut c = Counts::default();
        c.add(Tally::MissingScope, 1);
        assert_eq!(c.valid(), 0);
    }

    #[test]
    fn every_outcome_with_a_key_is_counted_as_one_refusal_or_valid() {
        assert_eq!(Tally::refusal(&Outcome::Revoked), Some(Tally::Revoked));
        assert_eq!(Tally::refusal(&Outcome::Expired), Some(Tally::Expired));
        assert_eq!(
            Tally::refusal(&Outcome::MissingScope("x".into())),
            Some(Tally::MissingScope)
        );
        assert_eq!(Tally::refusal(&Outcome::Missing), None);
    }

    #[test]
    fn codes_read_back() {
        for t in Tally::ALL {
            assert_eq!(Tally::from_code(t.code()), Some(t));
        }
    }

    #[test]
    fn hash_fields_read_as_counts_per_hour_and_others_are_skipped() {
        let hours = counts_by_hour([
            ("100:p", 5),
            ("100:x", 1),
            ("101:p", 2),
            ("#", 7),
            ("100:zz", 9),
        ]);
        assert_eq!(hours.len(), 2);
        assert_eq!(hours[&Hour(100)].valid(), 4);
        assert_eq!(hours[&Hour(101)].presented, 2);
    }

    #[test]
    fn an_hour_is_named_by_its_field_and_starts_on_the_hour() {
        let hour = Hour::of(at("2026-12-01T10:59:59Z"));
        assert_eq!(hour.start(), at("2026-12-01T10:00:00Z"));
        assert_eq!(hour.field(Tally::Presented), format!("{}:p", hour.0));
    }

    #[test]
    fn the_default_range_is_the_last_24_hours_or_30_days() {
        let now = at("2026-12-01T10:20:00Z");
        let r = UsageRange::new(Granularity::Hour, None, None, now).unwrap();
        assert_eq!(r.to, at("2026-12-01T11:00:00Z"));
        assert_eq!(r.starts().len(), 24);
        let r = UsageRange::new(Granularity::Day, None, None, now).unwrap();
        assert_eq!(r.starts().len(), 30);
        assert_eq!(r.to, at("2026-12-02T00:00:00Z"));
    }

    #[test]
    fn a_range_is_widened_to_whole_buckets() {
        let r = UsageRange::new(
            Granularity::Hour,
            Some(at("2026-12-01T10:30:00Z")),
            Some(at("2026-12-01T12:10:00Z")),
            at("2026-12-02T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(r.from, at("2026-12-01T10:00:00Z"));
        assert_eq!(r.to, at("2026-12-01T13:00:00Z"));
        assert_eq!(r.starts().len(), 3);
    }

    #[test]
    fn a_backwards_range_is_refused() {
        let now = at("2026-12-01T10:00:00Z");
        let err = UsageRange::new(Granularity::Hour, Some(now), Some(now), now).unwrap_err();
        assert!(err.0.contains("`from`"), "{err}");
    }

    #[test]
    fn more_than_2000_buckets_are_refused() {
        let now = at("2026-12-01T00:00:00Z");
        let from = now - Duration::hours(2001);
        let err = UsageRange::new(Granularity::Hour, Some(from), Some(now), now).unwrap_err();
        assert!(err.0.contains("2001 hours"), "{err}");
        assert!(UsageRange::new(
            Granularity::Hour,
            Some(now - Duration::hours(2000)),
            Some(now),
            now
        )
        .is_ok());
    }

    #[test]
    fn ranges_far_from_now_are_whole_buckets_too() {
        let from = at("9999-06-01T10:30:00Z");
        let r = UsageRange::new(
            Granularity::Day,
            Some(from),
            Some(at("9999-06-03T00:00:00Z")),
            from,
        )
        .unwrap();
        assert_eq!(r.from, at("9999-06-01T00:00:00Z"));
        assert_eq!(r.starts().len(), 2);
    }

    #[test]
    fn buckets_are_labelled_for_their_items() {
        let start = at("2026-12-01T09:00:00Z");
        assert_eq!(Granularity::Hour.label(start), "2026120109");
        assert_eq!(Granularity::Day.label(start), "20261201");
    }
}
