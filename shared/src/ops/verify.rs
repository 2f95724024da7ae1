//! Verification: from a presented key to an [`Outcome`], with as little I/O as possible.
//!
//! A malformed key is rejected offline. Otherwise the cache answers (one Redis round trip,
//! which also counts the request against the key's limits), and only on a miss, or while
//! Redis is in trouble, does DynamoDB answer (one strongly consistent GetItem), after which
//! the cache is filled (and, for a key with limits, the request counted).

use chrono::{DateTime, Utc};

use super::verify_identity::{identity_from_store, with_identity};
use crate::cache::{Cache, CacheError, Entry, IdentityRead, Lookup, Read, ReadAhead};
use crate::domain::identity::IdentityId;
use crate::domain::key::{ApiKey, KeyHash};
use crate::domain::legacy::Presented;
use crate::domain::limit::{count_to_store, usage, Cost, Counted, QuotaCount, WhenCacheDown};
use crate::domain::outcome::{KeyDetails, KeyInfo, Outcome, Source, Unavailable, Verification};
use crate::domain::record::{KeyRecord, Status};
use crate::domain::usage::{Hour, UsageTicket};
use crate::store::Store;

/// Verifies a client key: Keygate's own, or one imported from the old system while the
/// deployment accepts those (`domain/legacy.rs`). An admin credential is not one:
/// `Invalid`, with no I/O.
pub async fn verify(store: &Store, cache: &Cache, raw: &str, now: DateTime<Utc>) -> Verification {
    verify_with_cost(store, cache, raw, Cost::ONE, now).await
}

/// [`verify`] for a request that costs `cost` against the key's rate limit and quota (the
/// verify API's `cost`, test-protected's `?cost=`).
pub async fn verify_with_cost(
    store: &Store,
    cache: &Cache,
    raw: &str,
    cost: Cost,
    now: DateTime<Utc>,
) -> Verification {
    let hash = match Presented::parse(raw) {
        Ok(Presented::Key(key)) => Some(key.hash()),
        Ok(Presented::Legacy(key)) if store.legacy_keys_accepted().await => Some(key.hash()),
        _ => None,
    };
    verify_parsed(store, cache, hash, false, cost, now).await
}

/// Verifies an admin credential (`kga_…`) by the same path as a client key: one cache round
/// trip on a hit, and a revoke seen on the very next request. A client key is not one.
pub async fn verify_admin(
    store: &Store,
    cache: &Cache,
    raw: &str,
    now: DateTime<Utc>,
) -> Verification {
    let hash = ApiKey::parse_admin(raw).ok().map(|key| key.hash());
    verify_parsed(store, cache, hash, true, Cost::ONE, now).await
}

async fn verify_parsed(
    store: &Store,
    cache: &Cache,
    hash: Option<KeyHash>,
    admin: bool,
    cost: Cost,
    now: DateTime<Utc>,
) -> Verification {
    let Some(hash) = hash else {
        return Verification {
            outcome: Outcome::Invalid,
            key_id: None,
            source: Source::Format,
            details: None,
            usage: None,
        };
    };
    // An admin credential's use is not a verification anyone's usage reports.
    let mut verification = verify_key(store, cache, hash, !admin, cost, now).await;
    // The prefixes already keep the kinds apart; the record's role says it again.
    if let Outcome::Valid(info) = &verification.outcome {
        if info.role.is_some() != admin {
            verification.outcome = Outcome::Invalid;
            verification.details = None;
        }
    }
    verification
}

async fn verify_key(
    store: &Store,
    cache: &Cache,
    hash: KeyHash,
    count_use: bool,
    cost: Cost,
    now: DateTime<Utc>,
) -> Verification {
    let ReadAhead { read, identity } = cache.verify_read_ahead(&hash, now, cost, count_use).await;
    let mut presented = matches!(&read, Ok(r) if r.presented);
    let missed =
        count_use && matches!(&read, Ok(r) if !r.presented && matches!(r.lookup, Lookup::Miss));
    let mut found = lookup(store, cache, &hash, (read, identity), cost, now).await;
    let ticket = UsageTicket {
        hash,
        hour: Hour::of(now),
    };
    // A miss is counted once DynamoDB has said the key exists (one more call, on a path
    // that has just paid for a database read): a made-up key leaves no count behind.
    if missed && found.verification.key_id.is_some() {
        match cache.count_presented(&ticket).await {
            Ok(()) => presented = true,
            Err(err) => {
                tracing::warn!(error = %err, "could not count the request in the key's usage")
            }
        }
    }
    if presented {
        found.verification.usage = Some(ticket);
    }
    if found.active {
        // Once per key per minute at most (the cache's marker says when), and on a quota's
        // refill: never a write per request, and none at all while Redis is down. A quota
        // shared with a replacement is the replacement's to record.
        let (own_quota, shared_quota) = match found.quota {
            Some((owner, count)) if owner == hash => (Some(count), None),
            other => (None, other),
        };
        if found.first_use || own_quota.is_some() {
            if let Err(err) = store.touch(&hash, Some(now), own_quota.as_ref()).await {
                tracing::warn!(error = %err, "could not record the key's last use");
            }
        }
        if let Some((owner, count)) = shared_quota {
            if let Err(err) = store.touch(&owner, None, Some(&count)).await {
                tracing::warn!(error = %err, "could not record the shared quota's count");
            }
        }
        if let Some((identity, count)) = found.identity_quota {
            if let Err(err) = store.touch_identity(&identity, &count).await {
                tracing::warn!(error = %err, "could not record the identity's quota count");
            }
        }
    }
    found.verification
}

/// A verification, whether the key is active (refused by a limit or not), whether this is
/// its first use in the last-used window, and the quota count to write to DynamoDB, if one
/// is due, with the key it belongs to (a rotated key's replacement, in its grace period).
pub(super) struct Found {
    pub(super) verification: Verification,
    pub(super) active: bool,
    pub(super) first_use: bool,
    pub(super) quota: Option<(KeyHash, QuotaCount)>,
    /// The identity's quota count to write to DynamoDB, if one is due.
    pub(super) identity_quota: Option<(IdentityId, QuotaCount)>,
}

impl Found {
    /// An outcome about a key that is not there, or could not be looked at.
    pub(super) fn without_key(outcome: Outcome, source: Source) -> Self {
        Self {
            verification: Verification {
                outcome,
                key_id: None,
                source,
                details: None,
                usage: None,
            },
            active: false,
            first_use: false,
            quota: None,
            identity_quota: None,
        }
    }
}

/// The outcome, from the cache's `read` (with the identity's count when it was made in
/// the same round trip) or else from DynamoDB.
async fn lookup(
    store: &Store,
    cache: &Cache,
    hash: &KeyHash,
    (read, ahead): (
        Result<Read, CacheError>,
        Option<Result<IdentityRead, CacheError>>,
    ),
    cost: Cost,
    now: DateTime<Utc>,
) -> Found {
    let (cache_works, first_use) = match read {
        Ok(Read {
            lookup: Lookup::Known(entry),
            first_use,
            counted,
            ..
        }) => match entry.judge(now).and_then(|j| Ok((j, entry.details()?))) {
            Ok(((status, info), details)) => {
                if let (Some(identity), Status::Active) = (entry.identity_id(), status) {
                    let key = (info, details);
                    let source = Source::Cache;
                    let at = When {
                        first_use,
                        cost,
                        now,
                    };
                    let subject = (hash, &*entry, &identity);
                    return with_identity(store, cache, subject, key, source, at, ahead).await;
                }
                let shared = match entry.successor() {
                    Some(next) if status == Status::Active && entry.has_limits() => {
                        Some(shared_counters(store, cache, hash, &next, cost, now).await)
                    }
                    _ => None,
                };
                let limits = match &shared {
                    Some(Some((owner, entry, counted))) => Some((owner, &**entry, counted)),
                    Some(None) => None,
                    None => Some((hash, &*entry, &counted)),
                };
                let key = (info, details);
                let mut found = judged(status, key, Source::Cache, first_use, limits, cost, now);
                if matches!(shared, Some(None)) {
                    uncounted(&mut found, cache);
                }
                return found;
            }
            Err(err) => {
                tracing::warn!(error = %err, "ignoring a malformed cache entry");
                (false, false)
            }
        },
        Ok(Read {
            lookup: Lookup::Unknown,
            ..
        }) => return Found::without_key(Outcome::Invalid, Source::Cache),
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

    let source = if cache_works {
        Source::Database
    } else {
        Source::DatabaseWithoutCache
    };
    let record = match store.get_local(hash).await {
        Ok(record) => record,
        Err(err) => {
            tracing::error!(error = %err, "DynamoDB request failed");
            return Found::without_key(Outcome::Unavailable(Unavailable::Store), source);
        }
    };
    if cache_works {
        if let Err(err) = cache.fill(hash, record.as_ref(), now).await {
            tracing::warn!(error = %err, "cache fill failed");
        }
    }
    let Some(record) = record else {
        return Found::without_key(Outcome::Invalid, source);
    };
    let status = record.status_at(now);
    if let (Some(identity), Status::Active) = (&record.identity_id, status) {
        let at = When {
            first_use,
            cost,
            now,
        };
        if cache_works {
            let entry = Entry::from_record(&record);
            let subject = (hash, &entry, identity);
            return with_identity(store, cache, subject, key_of(&record), source, at, None).await;
        }
        return identity_from_store(store, cache, identity, key_of(&record), source, at).await;
    }
    let limited = !record.limits.is_empty() || record.quota.is_some();
    if status != Status::Active || !limited {
        return judged(status, key_of(&record), source, first_use, None, cost, now);
    }
    // The entry is there now (ours or a newer one): count against it, as a hit would, or
    // against the replacement's in a grace period.
    let counted = match (cache_works, record.rotated_to_hash) {
        (false, _) => None,
        (true, Some(next)) => shared_counters(store, cache, hash, &next, cost, now).await,
        (true, None) => match cache.count(hash, now, cost).await {
            Ok(Read {
                lookup: Lookup::Known(entry),
                counted,
                ..
            }) if entry.has_limits() => Some((*hash, entry, counted)),
            Ok(_) => None,
            Err(err) => {
                tracing::warn!(error = %err, "could not count the request against the key's limits");
                None
            }
        },
    };
    match counted {
        Some((owner, entry, counted)) => judged(
            status,
            key_of(&record),
            source,
            first_use,
            Some((&owner, &entry, &counted)),
            cost,
            now,
        ),
        None => {
            let mut found = judged(status, key_of(&record), source, first_use, None, cost, now);
            uncounted(&mut found, cache);
            found
        }
    }
}

/// What a handler learns about the key, and what the verify API shows, from its record.
fn key_of(record: &KeyRecord) -> (KeyInfo, KeyDetails) {
    let details = KeyDetails {
        name: record.name.clone(),
        owner: record.owner.clone(),
        scopes: record.scopes.clone(),
        meta: record
            .meta
            .as_ref()
            .map(|m| serde_json::to_string(m).expect("a JSON object always serializes")),
        expires_at: record.expires_at,
        limits: record.limits.clone(),
        has_quota: record.quota.is_some(),
        rates: Vec::new(),
        quota_remaining: None,
        identity: None,
    };
    (record.key_info(), details)
}

/// A key with limits that Redis could not count: let it through or refuse it, as the
/// deployment chose.
pub(super) fn uncounted(found: &mut Found, cache: &Cache) {
    if found.verification.outcome.is_valid()
        && cache.settings().limits_when_down == WhenCacheDown::Deny
    {
        found.verification.outcome = Outcome::Unavailable(Unavailable::LimitsUncounted);
    }
}

/// The counters a rotated key shares with its replacement `next` during its grace period:
/// the replacement's entry (filled from DynamoDB on a miss) and what its counters said,
/// with the hash they belong to. A second round trip, to the replacement's hash slot, paid
/// only by keys in a grace period. When the replacement cannot count (gone, revoked,
/// without limits), the key counts on its own counters. `None` when Redis cannot count.
async fn shared_counters(
    store: &Store,
    cache: &Cache,
    hash: &KeyHash,
    next: &KeyHash,
    cost: Cost,
    now: DateTime<Utc>,
) -> Option<(KeyHash, Box<Entry>, Counted)> {
    let counted = |read: Read| match read.lookup {
        Lookup::Known(entry) if read.counted != Counted::default() => Some((entry, read.counted)),
        _ => None,
    };
    for _ in 0..2 {
        match cache.count(next, now, cost).await {
            Ok(read) if matches!(read.lookup, Lookup::Miss) => {
                let record = store.get_local(next).await.ok()??;
                cache.fill(next, Some(&record), now).await.ok()?;
            }
            Ok(read) => match counted(read) {
                Some((entry, c)) => return Some((*next, entry, c)),
                None => break,
            },
            Err(err) => {
                tracing::warn!(error = %err, "could not count the request against the replacement's limits");
                return None;
            }
        }
    }
    let own = cache.count_own(hash, now, cost).await.ok()?;
    counted(own).map(|(entry, c)| (*hash, entry, c))
}

/// The outcome for a key in `status`, with what its limit counters said when they counted
/// this request of `cost`.
pub(super) fn judged(
    status: Status,
    (info, mut details): (KeyInfo, KeyDetails),
    source: Source,
    first_use: bool,
    limits: Option<(&KeyHash, &Entry, &Counted)>,
    cost: Cost,
    now: DateTime<Utc>,
) -> Found {
    let key_id = Some(info.id.clone());
    let (outcome, quota) = match (status, limits) {
        (Status::Revoked, _) => (Outcome::Revoked, None),
        (Status::Expired, _) => (Outcome::Expired, None),
        (Status::Active, None) => (Outcome::Valid(Box::new(info)), None),
        (Status::Active, Some((owner, entry, counted))) => {
            let quota = entry.quota();
            let limits = entry.limits();
            let usage = usage(&limits, quota.as_ref(), counted, cost, now);
            details.limits = limits;
            details.has_quota = quota.is_some();
            details.rates = usage.rates.clone();
            details.quota_remaining = usage.quota_remaining;
            (
                Outcome::limited(info, usage),
                count_to_store(quota.as_ref(), counted, first_use).map(|q| (*owner, q)),
            )
        }
    };
    Found {
        verification: Verification {
            outcome,
            key_id,
            source,
            details: Some(Box::new(details)),
            usage: None,
        },
        active: status == Status::Active,
        first_use,
        quota,
        identity_quota: None,
    }
}

/// When a request is judged: its key's first use in the last-used window, its cost, and
/// the time.
#[derive(Debug, Clone, Copy)]
pub(super) struct When {
    pub first_use: bool,
    pub cost: Cost,
    pub now: DateTime<Utc>,
}
