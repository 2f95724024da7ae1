//! Usage: each verification counted by outcome, the counts folded into DynamoDB, and read
//! back per key, identity, owner or for the whole deployment.
//!
//! 1. **Counting** (`domain/usage.rs`). The cache read a verification makes anyway counts
//!    the request as presented, in the key's Redis usage hash; a refusal is counted with a
//!    second call once the outcome is final ([`conclude`]). A valid request costs no extra
//!    round trip. A cache miss is counted once DynamoDB has said the key exists
//!    (`ops/verify.rs`), so a made-up key leaves nothing behind.
//! 2. **Folding** ([`fold_all`], every minute: the `usage-fold` function in AWS,
//!    `keygate-local fold-usage` locally). Per key: the counts are moved aside in Redis under
//!    a fresh fold id, added to the key's, its identity's, its owner's and a total shard's
//!    hour and day items in one DynamoDB transaction guarded by that id, then deleted from
//!    Redis. A fold that stops anywhere is finished by the next one with the same id, and
//!    the id's marker makes the transaction add nothing the second time. Losing Redis loses
//!    at most the counts since the last fold.
//! 3. **Reading** ([`report`]): DynamoDB's buckets, plus for a key or an identity what Redis
//!    holds that DynamoDB does not yet (a fold's counts only when its marker is absent).
//!    [`top_keys`] ranks keys by volume or refusals per day, from the `usage_top` index.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::OpError;
use crate::cache::{Cache, LiveUsage};
use crate::domain::key::{KeyHash, KeyId};
use crate::domain::outcome::{Outcome, Verification};
use crate::domain::usage::{total_shard, Counts, Granularity, Hour, Subject, Tally, UsageRange};
use crate::store::{FoldTarget, FoldWrite, Store};

/// Applies the scopes the caller requires to a verification, then counts its outcome if it
/// is a refusal: the last step of every verification a client's request makes (the guard,
/// the authorizer, the verify API).
pub async fn conclude(
    cache: &Cache,
    mut verification: Verification,
    required: &[&str],
) -> Verification {
    let outcome = std::mem::replace(&mut verification.outcome, Outcome::Missing);
    verification.outcome = outcome.require_scopes(required);
    count_outcome(cache, &verification).await;
    verification
}

/// Counts a refusal beside the request's presentation. A failure is logged: the request
/// then shows as valid in the usage counts (CloudWatch still has its outcome).
pub async fn count_outcome(cache: &Cache, verification: &Verification) {
    let (Some(ticket), Some(tally)) = (
        verification.usage.as_ref(),
        Tally::refusal(&verification.outcome),
    ) else {
        return;
    };
    if let Err(err) = cache.count_refusal(ticket, tally).await {
        tracing::warn!(error = %err, outcome = verification.outcome.name(), "could not count a refusal in the key's usage");
    }
}

/// What one fold of every key did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FoldReport {
    /// Keys with counts in Redis.
    pub keys: usize,
    /// Keys whose counts were added to DynamoDB.
    pub folded: usize,
    /// Keys whose counts an earlier try had added (finished now).
    pub finished: usize,
    /// Counts of hashes that are no client key (unknown, deleted, an admin credential),
    /// dropped.
    pub dropped: usize,
    /// Keys that could not be folded this time (their counts wait for the next fold).
    pub failed: usize,
}

/// What became of one key's fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folded {
    Nothing,
    Added,
    Finished,
    Dropped,
}

/// Keys folded at once.
const FOLD_CONCURRENCY: usize = 16;

/// Folds the counts of every key that has some in Redis.
pub async fn fold_all(
    store: &Store,
    cache: &Cache,
    now: DateTime<Utc>,
) -> Result<FoldReport, OpError> {
    let hashes = cache.usage_hashes().await?;
    let mut report = FoldReport {
        keys: hashes.len(),
        ..FoldReport::default()
    };
    for chunk in hashes.chunks(FOLD_CONCURRENCY) {
        let folds = chunk.iter().map(|hash| fold_key(store, cache, hash, now));
        for result in futures_util::future::join_all(folds).await {
            match result {
                Ok(Folded::Added) => report.folded += 1,
                Ok(Folded::Finished) => report.finished += 1,
                Ok(Folded::Dropped) => report.dropped += 1,
                Ok(Folded::Nothing) => {}
                Err(err) => {
                    report.failed += 1;
                    tracing::warn!(error = %err, "could not fold a key's usage; the next fold tries again");
                }
            }
        }
    }
    Ok(report)
}

/// Folds one key's counts: takes them (or what an unfinished fold took), adds them to
/// DynamoDB once, deletes them from Redis.
pub async fn fold_key(
    store: &Store,
    cache: &Cache,
    hash: &KeyHash,
    now: DateTime<Utc>,
) -> Result<Folded, OpError> {
    let fold_id = hex::encode(rand::random::<[u8; 12]>());
    let Some(folding) = cache.take_usage(hash, &fold_id).await? else {
        return Ok(Folded::Nothing);
    };
    let record = match store.get(hash).await? {
        Some(record) if record.role.is_none() => record,
        // Counts of a hash that is no client key: a made-up key presented before the cache
        // knew it was unknown, a deleted key.
        _ => {
            cache.release_usage(hash, &folding.fold_id).await?;
            return Ok(Folded::Dropped);
        }
    };
    let target = FoldTarget {
        key_id: record.id,
        identity: record.identity_id,
        owner: record.owner,
        shard: total_shard(hash),
    };
    let written = store
        .apply_fold(&folding.fold_id, &target, &folding.hours, now)
        .await?;
    cache.release_usage(hash, &folding.fold_id).await?;
    Ok(match written {
        FoldWrite::Applied => Folded::Added,
        FoldWrite::AlreadyApplied => Folded::Finished,
    })
}

/// A subject's usage over a range: a bucket per step, and their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    pub range: UsageRange,
    pub buckets: Vec<(DateTime<Utc>, Counts)>,
    pub totals: Counts,
}

/// The usage of `subject` over `range`: DynamoDB's buckets, plus the counts Redis holds
/// that DynamoDB does not yet, for a key, an identity (its keys') and the deployment. An
/// owner's usage is as of the last fold (a minute at most).
pub async fn report(
    store: &Store,
    cache: &Cache,
    subject: &Subject,
    range: UsageRange,
) -> Result<UsageReport, OpError> {
    let hashes = match subject {
        Subject::Key(id) => match store.find_by_id(id).await? {
            Some((hash, record)) if record.role.is_none() => vec![hash],
            _ => return Err(OpError::NotFound),
        },
        Subject::Identity(id) => {
            if store.get_identity(id).await?.is_none() {
                return Err(OpError::IdentityNotFound);
            }
            store.hashes_of_identity(id).await?
        }
        Subject::Owner(_) => Vec::new(),
        Subject::Total => match cache.usage_hashes().await {
            Ok(hashes) => hashes,
            Err(err) => {
                tracing::warn!(error = %err, "usage answered without the counts not yet folded");
                Vec::new()
            }
        },
    };
    let folded = store.usage_buckets(subject, &range).await?;
    let mut buckets: BTreeMap<DateTime<Utc>, Counts> =
        range.starts().into_iter().zip(folded).collect();
    for hash in &hashes {
        let live = match cache.live_usage(hash).await {
            Ok(live) => live,
            Err(err) => {
                tracing::warn!(error = %err, "usage answered without the counts not yet folded");
                break;
            }
        };
        for (hour, counts) in unfolded(store, live).await? {
            let start = range.granularity.floor(hour.start());
            if let Some(bucket) = buckets.get_mut(&start) {
                bucket.merge(&counts);
            }
        }
    }
    let mut totals = Counts::default();
    for counts in buckets.values() {
        totals.merge(counts);
    }
    Ok(UsageReport {
        range,
        buckets: buckets.into_iter().collect(),
        totals,
    })
}

/// A key's Redis counts that DynamoDB does not hold: the live ones, and a fold's unless its
/// marker says DynamoDB has them.
async fn unfolded(store: &Store, live: LiveUsage) -> Result<Vec<(Hour, Counts)>, OpError> {
    let mut hours: Vec<(Hour, Counts)> = live.live.into_iter().collect();
    if let Some(folding) = live.folding {
        if !store.fold_applied(&folding.fold_id).await? {
            hours.extend(folding.hours);
        }
    }
    Ok(hours)
}

/// What the top keys are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopBy {
    /// Verifications answered (presented).
    Volume,
    /// Refusals reported (rate limited, quota exhausted, missing scope, revoked, expired).
    Refusals,
}

/// A key's place in a ranking, with its count over the ranked days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopKey {
    pub key_id: KeyId,
    pub count: u64,
}

/// Keys read per day: the ranking of one day is exact; over several days, each day's first
/// this many are added up, so a key below that on every day is missed.
const TOP_PER_DAY: i32 = 100;

/// The keys ranked highest by `by` over the last `days` UTC days (today included), at most
/// `limit`, as of the last fold.
pub async fn top_keys(
    store: &Store,
    by: TopBy,
    days: u32,
    limit: usize,
    now: DateTime<Utc>,
) -> Result<Vec<TopKey>, OpError> {
    let today = Granularity::Day.floor(now);
    let mut counts: std::collections::HashMap<KeyId, u64> = std::collections::HashMap::new();
    for back in 0..days {
        let day = today - chrono::Duration::days(i64::from(back));
        let ranked = store
            .top_keys_of_day(by == TopBy::Refusals, day, TOP_PER_DAY)
            .await?;
        for (key_id, count) in ranked {
            *counts.entry(key_id).or_default() += count;
        }
    }
    let mut top: Vec<TopKey> = counts
        .into_iter()
        .map(|(key_id, count)| TopKey { key_id, count })
        .collect();
    top.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.key_id.as_str().cmp(b.key_id.as_str()))
    });
    top.truncate(limit);
    Ok(top)
}
