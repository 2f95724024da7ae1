//! Usage in DynamoDB: one item per subject and bucket, `USE#<subject>#H<yyyymmddhh>` for an
//! hour and `USE#<subject>#D<yyyymmdd>` for a day, with a number per tally (`p`, `r`, `q`,
//! `s`, `x`, `e`, `o`: `domain/usage.rs`) and `ttl`, the epoch second at which DynamoDB's TTL
//! deletes it (90 days after an hour, 2 years after a day). A subject is a key
//! (`K#<key id>`), an identity (`I#<id>`), an owner (`O#<owner>`), or one of the
//! deployment's total shards (`T<n>`).
//!
//! A key's day items are also ranked in the `usage_top` index (`top`, `rank`): `top` is
//! `V#<yyyymmdd>` on the day item, whose `rank` is its presented count, and `F#<yyyymmdd>` on
//! a second item per key and day, `USE#K#<key id>#F<yyyymmdd>`, whose `rank` is its refusals;
//! both carry `key_id`. One query per day then finds the day's busiest keys, or those most
//! refused.
//!
//! A fold adds one key's counts to all of its items in one transaction, with a marker item
//! `FOLD#<fold id>` that may not exist yet: tried again (after a timeout, a crash, a second
//! fold job), the same fold fails its condition and adds nothing.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};
use chrono::{DateTime, Duration, Utc};

use super::codec::{n, s};
use super::schema::INDEX_USAGE_TOP;
use super::{Store, StoreError};
use crate::domain::identity::IdentityId;
use crate::domain::key::{KeyHash, KeyId};
use crate::domain::usage::{Counts, Granularity, Hour, Subject, Tally, UsageRange, TOTAL_SHARDS};

/// Where one key's counts go: its own items, its identity's and owner's, and its share of
/// the deployment's total.
#[derive(Debug, Clone)]
pub struct FoldTarget {
    pub key_id: KeyId,
    pub identity: Option<IdentityId>,
    pub owner: Option<String>,
    pub shard: u8,
}

/// Where a key's day item stands in the `usage_top` index: its partition (`V#<yyyymmdd>`
/// for volume, `F#<yyyymmdd>` for refusals) and what it adds to its rank.
struct Ranked<'a> {
    top: String,
    key_id: &'a KeyId,
    rank: u64,
}

/// The `usage_top` partition prefixes.
const TOP_VOLUME: &str = "V";
const TOP_REFUSALS: &str = "F";

/// What became of a fold's write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldWrite {
    Applied,
    /// An earlier try of the same fold had written it.
    AlreadyApplied,
}

/// Hours per transaction: each brings up to eight items (four subjects, an hour and a day),
/// and a transaction holds at most 100.
const HOURS_PER_WRITE: usize = 10;
/// How long a fold's marker is kept: far longer than the counts it guards wait in Redis.
const MARKER_DAYS: i64 = 30;
/// Tries of a transaction that ran into another one on the same item (two keys of one
/// identity folded at once).
const ATTEMPTS: u32 = 5;

fn subject_part(subject: &Subject) -> String {
    match subject {
        Subject::Key(id) => format!("K#{id}"),
        Subject::Identity(id) => format!("I#{}", id.as_str()),
        Subject::Owner(owner) => format!("O#{owner}"),
        Subject::Total => "T".to_owned(),
    }
}

fn item_pk(subject_part: &str, granularity: Granularity, start: DateTime<Utc>) -> String {
    let letter = match granularity {
        Granularity::Hour => 'H',
        Granularity::Day => 'D',
    };
    format!("USE#{subject_part}#{letter}{}", granularity.label(start))
}

fn marker_pk(fold_id: &str) -> String {
    format!("FOLD#{fold_id}")
}

impl Store {
    /// Adds one key's counts (`hours`, taken by fold `fold_id`) to its items, at most once
    /// whatever the number of tries.
    pub async fn apply_fold(
        &self,
        fold_id: &str,
        target: &FoldTarget,
        hours: &BTreeMap<Hour, Counts>,
        now: DateTime<Utc>,
    ) -> Result<FoldWrite, StoreError> {
        let hours: Vec<(Hour, Counts)> = hours
            .iter()
            .filter(|(_, c)| !c.is_empty())
            .map(|(h, c)| (*h, *c))
            .collect();
        let mut result = FoldWrite::AlreadyApplied;
        for (i, chunk) in hours.chunks(HOURS_PER_WRITE).enumerate() {
            // Each transaction its own marker: a fold of many hours (a job that was down)
            // is several, each added once.
            let marker = if i == 0 {
                fold_id.to_owned()
            } else {
                format!("{fold_id}.{i}")
            };
            if self.write_chunk(&marker, target, chunk, now).await? == FoldWrite::Applied {
                result = FoldWrite::Applied;
            }
        }
        Ok(result)
    }

    async fn write_chunk(
        &self,
        marker: &str,
        target: &FoldTarget,
        hours: &[(Hour, Counts)],
        now: DateTime<Utc>,
    ) -> Result<FoldWrite, StoreError> {
        let mut subjects = vec![subject_part(&Subject::Key(target.key_id.clone()))];
        if let Some(identity) = &target.identity {
            subjects.push(subject_part(&Subject::Identity(identity.clone())));
        }
        if let Some(owner) = &target.owner {
            subjects.push(subject_part(&Subject::Owner(owner.clone())));
        }
        subjects.push(format!("T{}", target.shard));
        // Every bucket's sum: several hours of one day are one update of the day's item
        // (a transaction may not name an item twice).
        let mut buckets: BTreeMap<(Granularity, DateTime<Utc>), Counts> = BTreeMap::new();
        for (hour, counts) in hours {
            for g in [Granularity::Hour, Granularity::Day] {
                buckets
                    .entry((g, g.floor(hour.start())))
                    .or_default()
                    .merge(counts);
            }
        }
        let mut items = vec![self.marker_item(marker, now)?];
        for (i, subject) in subjects.iter().enumerate() {
            for ((g, start), counts) in &buckets {
                // The key's day items are ranked in `usage_top`: by volume here, by refusals
                // in an item of their own (an item has one place in an index).
                let key_day = i == 0 && *g == Granularity::Day;
                let ranked = key_day.then(|| Ranked {
                    top: format!("{}#{}", TOP_VOLUME, g.label(*start)),
                    key_id: &target.key_id,
                    rank: counts.presented,
                });
                items.push(self.add_item(
                    &item_pk(subject, *g, *start),
                    *g,
                    *start,
                    counts,
                    ranked,
                )?);
                let refused = counts.refused();
                if key_day && refused > 0 {
                    let pk = format!("USE#{}#F{}", subjects[0], g.label(*start));
                    let ranked = Ranked {
                        top: format!("{}#{}", TOP_REFUSALS, g.label(*start)),
                        key_id: &target.key_id,
                        rank: refused,
                    };
                    items.push(self.add_item(&pk, *g, *start, &Counts::default(), Some(ranked))?);
                }
            }
        }
        for attempt in 1..=ATTEMPTS {
            match self.transact(items.clone()).await {
                Ok(()) => return Ok(FoldWrite::Applied),
                Err(StoreError::Conflict) => {
                    if self.fold_applied(marker).await? {
                        return Ok(FoldWrite::AlreadyApplied);
                    }
                    if attempt == ATTEMPTS {
                        return Err(StoreError::Conflict);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(attempt)))
                        .await;
                }
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::Conflict)
    }

    fn marker_item(
        &self,
        marker: &str,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(&marker_pk(marker)))
            .item(
                "ttl",
                n((now + Duration::days(MARKER_DAYS)).timestamp().max(0) as u64),
            )
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn add_item(
        &self,
        pk: &str,
        granularity: Granularity,
        start: DateTime<Utc>,
        counts: &Counts,
        ranked: Option<Ranked<'_>>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut adds = Vec::new();
        let mut sets = vec!["#ttl = :ttl".to_owned()];
        let mut update = Update::builder().table_name(&self.table).key("pk", s(pk));
        if let Some(r) = ranked {
            adds.push("#rank :rank".to_owned());
            sets.push("#top = :top, key_id = :key_id".to_owned());
            update = update
                .expression_attribute_names("#rank", "rank")
                .expression_attribute_names("#top", "top")
                .expression_attribute_values(":rank", n(r.rank))
                .expression_attribute_values(":top", s(&r.top))
                .expression_attribute_values(":key_id", s(r.key_id.as_str()));
        }
        for tally in Tally::ALL {
            let value = counts.get(tally);
            if value > 0 {
                let code = tally.code();
                adds.push(format!("#{code} :{code}"));
                update = update
                    .expression_attribute_names(format!("#{code}"), code)
                    .expression_attribute_values(format!(":{code}"), n(value));
            }
        }
        let expires = (start + granularity.retention()).timestamp().max(0) as u64;
        let update = update
            .update_expression(format!("ADD {} SET {}", adds.join(", "), sets.join(", ")))
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":ttl", n(expires))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Whether the fold (or the part of one) with this id is in the table.
    pub async fn fold_applied(&self, fold_id: &str) -> Result<bool, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&marker_pk(fold_id)))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item().is_some())
    }

    /// The folded counts of `subject` in each bucket of `range`, in its order (the
    /// deployment's total is the sum of its shards).
    pub async fn usage_buckets(
        &self,
        subject: &Subject,
        range: &UsageRange,
    ) -> Result<Vec<Counts>, StoreError> {
        let starts = range.starts();
        let parts: Vec<String> = match subject {
            Subject::Total => (0..TOTAL_SHARDS).map(|i| format!("T{i}")).collect(),
            other => vec![subject_part(other)],
        };
        let mut wanted: HashMap<String, usize> = HashMap::new();
        for (i, start) in starts.iter().enumerate() {
            for part in &parts {
                wanted.insert(item_pk(part, range.granularity, *start), i);
            }
        }
        let mut buckets = vec![Counts::default(); starts.len()];
        let pks: Vec<String> = wanted.keys().cloned().collect();
        for chunk in pks.chunks(100) {
            for item in self.batch_get(chunk).await? {
                let Some(AttributeValue::S(pk)) = item.get("pk") else {
                    continue;
                };
                if let Some(&i) = wanted.get(pk) {
                    buckets[i].merge(&counts_of(&item)?);
                }
            }
        }
        Ok(buckets)
    }

    /// Strongly consistent BatchGetItem of up to 100 items, asking again for any DynamoDB
    /// leaves unprocessed.
    async fn batch_get(
        &self,
        pks: &[String],
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let keys = pks
            .iter()
            .map(|pk| HashMap::from([("pk".to_owned(), s(pk))]))
            .collect();
        let mut request = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
        let mut items = Vec::new();
        let mut pause = std::time::Duration::from_millis(20);
        while let Some(keys) = request.take() {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await?;
            if let Some(found) = output.responses().and_then(|r| r.get(&self.table)) {
                items.extend(found.iter().cloned());
            }
            request = output
                .unprocessed_keys()
                .and_then(|u| u.get(&self.table))
                .filter(|k| !k.keys().is_empty())
                .cloned();
            if request.is_some() {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(1));
            }
        }
        Ok(items)
    }

    /// The keys with the highest rank on the day starting `day`, by volume or by
    /// refusals, at most `limit`, highest first.
    pub async fn top_keys_of_day(
        &self,
        refusals: bool,
        day: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<(KeyId, u64)>, StoreError> {
        let prefix = if refusals { TOP_REFUSALS } else { TOP_VOLUME };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_USAGE_TOP)
            .key_condition_expression("#top = :top")
            .expression_attribute_names("#top", "top")
            .expression_attribute_values(
                ":top",
                s(&format!("{prefix}#{}", Granularity::Day.label(day))),
            )
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await?;
        let mut keys = Vec::new();
        for item in output.items() {
            let id = match item.get("key_id") {
                Some(AttributeValue::S(id)) => KeyId::parse(id),
                _ => None,
            };
            let rank = match item.get("rank") {
                Some(AttributeValue::N(n)) => n.parse::<u64>().ok(),
                _ => None,
            };
            match (id, rank) {
                (Some(id), Some(rank)) => keys.push((id, rank)),
                _ => {
                    return Err(StoreError::Corrupt(
                        "a usage_top item without `key_id` or `rank`".to_owned(),
                    ))
                }
            }
        }
        Ok(keys)
    }

    /// The hashes of an identity's keys (the `by_identity` index, eventually consistent).
    pub async fn hashes_of_identity(&self, id: &IdentityId) -> Result<Vec<KeyHash>, StoreError> {
        let mut items = self
            .identity_keys_query(id)
            .projection_expression("pk")
            .into_paginator()
            .items()
            .send();
        let mut hashes = Vec::new();
        while let Some(item) = items.try_next().await? {
            hashes.push(Self::hash_of_item(&item)?);
        }
        Ok(hashes)
    }
}

fn counts_of(item: &HashMap<String, AttributeValue>) -> Result<Counts, StoreError> {
    let mut counts = Counts::default();
    for tally in Tally::ALL {
        match item.get(tally.code()) {
            None => {}
            Some(AttributeValue::N(v)) => {
                let value = v.parse::<u64>().map_err(|_| {
                    StoreError::Corrupt(format!(
                        "usage attribute `{}` is not a count",
                        tally.code()
                    ))
                })?;
                counts.add(tally, value);
            }
            Some(_) => {
                return Err(StoreError::Corrupt(format!(
                    "usage attribute `{}` is not a number",
                    tally.code()
                )))
            }
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_and_a_day_of_one_subject_are_different_items() {
        let start: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        assert_eq!(
            item_pk("T3", Granularity::Hour, start),
            "USE#T3#H2026120110"
        );
        assert_eq!(item_pk("T3", Granularity::Day, start), "USE#T3#D20261201");
    }

    #[test]
    fn an_owner_cannot_pose_as_another_owners_bucket() {
        // The bucket's letter and fixed width end the key: an owner named like a bucket
        // still makes a different item.
        let start: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let a = item_pk("O#x#H2026120110", Granularity::Day, start);
        let b = item_pk("O#x", Granularity::Hour, start);
        assert_ne!(a, b);
    }
}
