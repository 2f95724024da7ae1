//! Verification: from a presented key to a verdict, with as little I/O as possible.
//!
//! A malformed key is rejected offline. Otherwise the cache answers (one Redis round trip,
//! which also counts the request against the key's limits), and only on a miss, or while
//! Redis is in trouble, does DynamoDB answer (one strongly consistent GetItem), after which
//! the cache is filled (and, for a key with limits, the request counted).

use chrono::{DateTime, Utc};

use crate::cache::{Cache, CacheError, Counted, Entry, Lookup, Read};
use crate::key::{ApiKey, KeyHash, KeyId};
use crate::limit::{Quota, RateLimit, RateStatus, Refusal, Usage, WhenCacheDown};
use crate::record::{status_at, KeyRecord, State, Status};
use crate::scope::Scopes;
use crate::store::{QuotaCount, Store, StoreError};

/// What a handler learns about the key that was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: KeyId,
    pub name: String,
    pub owner: Option<String>,
    pub scopes: Scopes,
    /// Where the key stands against its limits; empty for a key without any.
    pub usage: Usage,
}

impl KeyInfo {
    /// `RateLimit-*` headers for a response to this key, when it has a rate limit.
    pub fn write_limit_headers(&self, headers: &mut lambda_http::http::HeaderMap) {
        if let Some(rate) = &self.usage.rate {
            rate.write_headers(headers);
        }
    }
}

/// Why a key was refused. Unknown and malformed keys share `Invalid`, so a caller cannot
/// tell a made-up key from one that never existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    Missing,
    Invalid,
    Revoked,
    Expired,
}

impl Denial {
    /// The public message, kept from the system Keygate replaces.
    pub fn message(self) -> &'static str {
        match self {
            Denial::Missing => "API Key is missing. Send it in the X-API-KEY header.",
            Denial::Invalid => "Invalid API Key.",
            Denial::Revoked => "API Key is not active or has been revoked.",
            Denial::Expired => "API Key has expired.",
        }
    }

    pub fn outcome(self) -> &'static str {
        match self {
            Denial::Missing => "missing",
            Denial::Invalid => "invalid",
            Denial::Revoked => "revoked",
            Denial::Expired => "expired",
        }
    }
}

/// Where a verdict came from, for logs, tests and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Rejected by the format check: no I/O at all.
    Format,
    Cache,
    /// Cache miss, then DynamoDB.
    Database,
    /// Redis failed or is being skipped, so DynamoDB answered alone.
    DatabaseWithoutCache,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub verdict: Result<KeyInfo, Denial>,
    /// The key's public id whenever the key exists, also when it is refused.
    pub key_id: Option<KeyId>,
    pub source: Source,
}

pub async fn verify(
    store: &Store,
    cache: &Cache,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<Verification, StoreError> {
    let Ok(key) = ApiKey::parse(raw) else {
        return Ok(Verification {
            verdict: Err(Denial::Invalid),
            key_id: None,
            source: Source::Format,
        });
    };
    let hash = key.hash();
    let found = lookup(store, cache, &hash, now).await?;
    if found.verification.verdict.is_ok() && (found.first_use || found.quota.is_some()) {
        // Once per key per minute at most (the cache's marker says when), and on a quota's
        // refill: never a write per request, and none at all while Redis is down.
        if let Err(err) = store.touch(&hash, now, found.quota.as_ref()).await {
            tracing::warn!(error = %err, "could not record the key's last use");
        }
    }
    Ok(found.verification)
}

/// A verdict, whether this is the key's first use in the last-used window, and the quota
/// count to write to DynamoDB, if one is due.
struct Found {
    verification: Verification,
    first_use: bool,
    quota: Option<QuotaCount>,
}

/// The verdict, from the cache or else from DynamoDB.
async fn lookup(
    store: &Store,
    cache: &Cache,
    hash: &KeyHash,
    now: DateTime<Utc>,
) -> Result<Found, StoreError> {
    let (cache_works, first_use) = match cache.get(hash, now).await {
        Ok(Read {
            lookup: Lookup::Known(entry),
            first_use,
            counted,
        }) => match judge_entry(&entry, now) {
            Ok(mut verification) => {
                let quota = limit(&mut verification, &entry, &counted, first_use, now);
                return Ok(Found {
                    verification,
                    first_use,
                    quota,
                });
            }
            Err(err) => {
                tracing::warn!(error = %err, "ignoring a malformed cache entry");
                (false, false)
            }
        },
        Ok(Read {
            lookup: Lookup::Unknown,
            ..
        }) => {
            let verification = Verification {
                verdict: Err(Denial::Invalid),
                key_id: None,
                source: Source::Cache,
            };
            return Ok(Found {
                verification,
                first_use: false,
                quota: None,
            });
        }
        Ok(Read {
            lookup: Lookup::Miss,
            first_use,
            ..
        }) => (true, first_use),
        Err(CacheError::Skipped) => (false, false),
        Err(err) => {
            tracing::warn!(error = %err, "cache read failed; verifying from DynamoDB");
            (false, false)
        }
    };

    let record = store.get(hash).await?;
    if cache_works {
        if let Err(err) = cache.fill(hash, record.as_ref(), now).await {
            tracing::warn!(error = %err, "cache fill failed");
        }
    }
    let source = if cache_works {
        Source::Database
    } else {
        Source::DatabaseWithoutCache
    };
    let Some(record) = record else {
        let verification = Verification {
            verdict: Err(Denial::Invalid),
            key_id: None,
            source,
        };
        return Ok(Found {
            verification,
            first_use,
            quota: None,
        });
    };
    let mut verification = judge(&record, now, source);
    let limited = record.rate_limit.is_some() || record.quota.is_some();
    let mut quota = None;
    if verification.verdict.is_ok() && limited {
        // The entry is there now (ours or a newer one): count against it, as a hit would.
        let counted = if cache_works {
            match cache.count(hash, now).await {
                Ok(Read {
                    lookup: Lookup::Known(entry),
                    counted,
                    ..
                }) if entry.has_limits() => Some((entry, counted)),
                Ok(_) => None,
                Err(err) => {
                    tracing::warn!(error = %err, "could not count the request against the key's limits");
                    None
                }
            }
        } else {
            None
        };
        match counted {
            Some((entry, counted)) => {
                quota = limit(&mut verification, &entry, &counted, first_use, now);
            }
            None => uncounted(&mut verification, cache.settings().limits_when_down),
        }
    }
    Ok(Found {
        verification,
        first_use,
        quota,
    })
}

/// Applies what the counters said to a valid key's verdict, and returns the quota count to
/// write to DynamoDB when one is due: on the key's first use in the window, and on a refill.
fn limit(
    verification: &mut Verification,
    entry: &Entry,
    counted: &Counted,
    first_use: bool,
    now: DateTime<Utc>,
) -> Option<QuotaCount> {
    let Ok(info) = &mut verification.verdict else {
        return None;
    };
    let quota = entry.quota();
    info.usage = usage(entry.rate_limit(), quota.as_ref(), counted, now);
    let (quota, counted) = (quota?, counted.quota.as_ref()?);
    (first_use || counted.refilled).then(|| QuotaCount {
        remaining: counted.remaining,
        period: counted.period.clone(),
        generation: quota.generation,
    })
}

/// A key with limits that Redis could not count: let it through or refuse it, as the
/// deployment chose.
fn uncounted(verification: &mut Verification, when_down: WhenCacheDown) {
    if let (Ok(info), WhenCacheDown::Deny) = (&mut verification.verdict, when_down) {
        info.usage.refusal = Some(Refusal::CacheDown);
    }
}

/// The usage a key's limits and counters add up to.
pub fn usage(
    rate_limit: Option<RateLimit>,
    quota: Option<&Quota>,
    counted: &Counted,
    now: DateTime<Utc>,
) -> Usage {
    let mut usage = Usage::default();
    if let (Some(rl), Some((count, ttl))) = (rate_limit, counted.rate) {
        let status = RateStatus::from_counter(rl.limit, count, ttl.as_millis() as u64);
        if count > rl.limit {
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

fn judge(r: &KeyRecord, now: DateTime<Utc>, source: Source) -> Verification {
    verdict(
        status_at(r.state, r.expires_at, now),
        KeyInfo {
            id: r.id.clone(),
            name: r.name.clone(),
            owner: r.owner.clone(),
            scopes: r.scopes.clone(),
            usage: Usage::default(),
        },
        source,
    )
}

fn judge_entry(e: &Entry, now: DateTime<Utc>) -> Result<Verification, CacheError> {
    let state: State = e.state()?;
    let info = KeyInfo {
        id: e.key_id()?,
        name: e.name.clone(),
        owner: e.ow.clone(),
        scopes: Scopes::from_stored(e.sc.clone()),
        usage: Usage::default(),
    };
    Ok(verdict(
        status_at(state, e.expires_at()?, now),
        info,
        Source::Cache,
    ))
}

fn verdict(status: Status, info: KeyInfo, source: Source) -> Verification {
    let key_id = Some(info.id.clone());
    let verdict = match status {
        Status::Active => Ok(info),
        Status::Revoked => Err(Denial::Revoked),
        Status::Expired => Err(Denial::Expired),
    };
    Verification {
        verdict,
        key_id,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::QuotaCounted;
    use crate::limit::{Every, Refill};
    use std::time::Duration;

    fn now() -> DateTime<Utc> {
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
        let at_limit = usage(rate(3), None, &counted_rate(3, 30_000), now());
        assert_eq!(at_limit.refusal, None);
        assert_eq!(at_limit.rate.unwrap().remaining, 0);
        let over = usage(rate(3), None, &counted_rate(4, 29_100), now());
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
            now(),
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
        let u = usage(None, Some(&quota), &counted, now());
        assert_eq!(
            u.refusal,
            Some(Refusal::QuotaExhausted {
                retry_after: Some(12 * 3600)
            })
        );
        let no_refill = Quota::set(0, None, 1, now());
        let u = usage(None, Some(&no_refill), &counted, now());
        assert_eq!(
            u.refusal,
            Some(Refusal::QuotaExhausted { retry_after: None })
        );
    }

    #[test]
    fn a_key_without_limits_has_no_usage() {
        assert_eq!(
            usage(None, None, &Counted::default(), now()),
            Usage::default()
        );
    }
}
