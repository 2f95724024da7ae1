//! Key writes, each with its audit event in the same transaction, and the verify path's one
//! database read. Writes are conditioned on the record's version (optimistic concurrency):
//! a write that finds the item changed fails with [`StoreError::Conflict`], and the
//! operation reads again (`ops/retry.rs`).

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::codec::{from_item, n, pk, s, to_item, unchanged};
use super::{Store, StoreError};
use crate::domain::audit::{Action, Actor, AuditEvent, Origin};
use crate::domain::key::KeyHash;
use crate::domain::limit::QuotaCount;
use crate::domain::record::{KeyRecord, State};
use crate::domain::role::Role;
use crate::domain::time::timestamp;

/// A rotation to write: the old key as it was read and as it ends, the new key, and who
/// rotated it when.
#[derive(Debug, Clone, Copy)]
pub struct Rotation<'a> {
    pub hash: &'a KeyHash,
    pub old: &'a KeyRecord,
    pub old_ended: &'a KeyRecord,
    pub new_hash: &'a KeyHash,
    pub new: &'a KeyRecord,
    pub origin: &'a Origin,
    pub now: DateTime<Utc>,
}

impl Store {
    /// Stores a new key with its `issue` event, in one transaction; never overwrites.
    pub async fn issue(
        &self,
        hash: &KeyHash,
        record: &KeyRecord,
        origin: &Origin,
    ) -> Result<(), StoreError> {
        let event = AuditEvent::new(Action::Issue, &record.id, origin, record.created_at);
        let put_key = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(hash, record)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let result = self
            .transact(vec![
                TransactWriteItem::builder().put(put_key).build(),
                self.put_event(&event)?,
            ])
            .await;
        match result {
            Err(StoreError::Conflict) => Err(StoreError::AlreadyExists),
            other => other,
        }
    }

    /// Stores a key without an audit event: for tests and benchmarks that set up states
    /// the API cannot create. Never overwrites.
    pub async fn insert(&self, hash: &KeyHash, record: &KeyRecord) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(hash, record)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::AlreadyExists)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// A key's record, read at home: strongly consistent, so a key revoked a moment ago is
    /// seen as revoked. The reads that decide a write use this.
    pub async fn get(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        Self::get_from(&self.client, &self.table, hash).await
    }

    /// The verify path's only database read, from this region's replica (the home region's
    /// table in a single region). Strongly consistent within the region; a change made at
    /// home arrives with the replication delay, and its cache entry through the stream
    /// (`ops/sync.rs`).
    pub async fn get_local(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        Self::get_from(
            self.local.as_ref().unwrap_or(&self.client),
            &self.table,
            hash,
        )
        .await
    }

    async fn get_from(
        client: &aws_sdk_dynamodb::Client,
        table: &str,
        hash: &KeyHash,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let output = client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk(hash)))
            .consistent_read(true)
            .send()
            .await?;
        output.item.as_ref().map(from_item).transpose()
    }

    /// Marks these keys revoked, each with its `revoke` event, in one transaction, on the
    /// condition that every item is still as its record was read (the caller reads again and
    /// retries on [`StoreError::Conflict`]). At most 49 keys: DynamoDB takes 100 items in a
    /// transaction, two a key and one for a leak report. Returns the records as they now are.
    pub async fn revoke(
        &self,
        keys: &[(KeyHash, KeyRecord)],
        now: DateTime<Utc>,
        origin: &Origin,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        self.revoke_keeping(keys, now, origin, None).await
    }

    /// [`Store::revoke`], on the further condition that the admin credential `keep` is an
    /// active, unexpired `admin`-role credential when the transaction commits. Two admins
    /// revoking each other at once then cannot both succeed: DynamoDB serializes the two
    /// transactions, and the second finds its condition false.
    pub async fn revoke_keeping(
        &self,
        keys: &[(KeyHash, KeyRecord)],
        now: DateTime<Utc>,
        origin: &Origin,
        keep: Option<&KeyHash>,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        let mut items = Vec::with_capacity(keys.len() * 2 + 1);
        if let Some(keep) = keep {
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(pk(keep)))
                .condition_expression(
                    "#state = :active AND #role = :admin AND \
                     (attribute_not_exists(expires_at) OR expires_at > :now)",
                )
                .expression_attribute_names("#state", "state")
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":active", s(State::Active.as_str()))
                .expression_attribute_values(":admin", s(Role::Admin.as_str()))
                .expression_attribute_values(":now", s(&timestamp(now)))
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            items.push(TransactWriteItem::builder().condition_check(check).build());
        }
        let mut revoked = Vec::with_capacity(keys.len());
        for (i, (hash, record)) in keys.iter().enumerate() {
            let update = Update::builder()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(pk(hash)))
                .update_expression("SET #state = :revoked, revoked_at = :now, v = :next")
                .condition_expression(unchanged(record.version))
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":revoked", s(State::Revoked.as_str()))
                .expression_attribute_values(":now", s(&timestamp(now)))
                .expression_attribute_values(":v", n(record.version))
                .expression_attribute_values(":next", n(record.version + 1))
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let mut event = AuditEvent::new(Action::Revoke, &record.id, origin, now);
            if i > 0 {
                // A self-made successor ends because its first key did: Keygate's doing.
                event.actor = Actor::System {
                    reason: format!("revoked with {}", keys[0].1.id),
                };
            }
            items.push(TransactWriteItem::builder().update(update).build());
            items.push(self.put_event(&event)?);
            if let (0, Some(leak)) = (i, &origin.leak) {
                // A revoke for a leak report records where the key was found, in the same
                // transaction.
                let reported = AuditEvent::leak_reported(&record.id, origin, leak, now);
                items.push(self.put_event(&reported)?);
            }
            let mut record = record.clone();
            record.state = State::Revoked;
            record.revoked_at = Some(now);
            record.version += 1;
            revoked.push(record);
        }
        self.transact(items).await?;
        Ok(revoked)
    }

    /// Writes a rotation: stores the new key, ends the old one as `old_ended` says, and
    /// records the `rotate` event, all in one transaction. The old key's item must still be
    /// as `old` was read: active, not rotated, same expiry.
    pub async fn rotate(&self, rotation: &Rotation<'_>) -> Result<(), StoreError> {
        let Rotation {
            hash,
            old,
            old_ended,
            new_hash,
            new,
            origin,
            now,
        } = *rotation;
        let put_new = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(new_hash, new)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // The old key must still be exactly as it was read (active, not yet rotated).
        let mut end = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk(hash)))
            .condition_expression(unchanged(old.version))
            .expression_attribute_values(":v", n(old.version))
            .expression_attribute_values(":next", n(old_ended.version))
            .expression_attribute_values(":to", s(new.id.as_str()));
        // The new key's hash, so the old key's limits are shared and a revoke finds it.
        end = end.expression_attribute_values(":to_hash", s(&new_hash.to_hex()));
        end = match (old_ended.state, old_ended.expires_at) {
            (State::Revoked, _) => end
                .update_expression(
                    "SET #state = :revoked, revoked_at = :now, rotated_to = :to, \
                     rotated_to_hash = :to_hash, v = :next",
                )
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":revoked", s(State::Revoked.as_str()))
                .expression_attribute_values(":now", s(&timestamp(now))),
            (State::Active, Some(at)) => end
                .update_expression(
                    "SET expires_at = :end, rotated_to = :to, rotated_to_hash = :to_hash, \
                     v = :next",
                )
                .expression_attribute_values(":end", s(&timestamp(at))),
            (State::Active, None) => {
                return Err(StoreError::Corrupt(
                    "a rotated key must end: revoked or expiring".to_owned(),
                ))
            }
        };
        let end = end
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut event = AuditEvent::new(Action::Rotate, &old.id, origin, now);
        event.new_key_id = Some(new.id.clone());
        self.transact(vec![
            TransactWriteItem::builder().put(put_new).build(),
            TransactWriteItem::builder().update(end).build(),
            self.put_event(&event)?,
        ])
        .await
    }

    /// Writes the fields of `new` named in `changes`, with the `update` event, in one
    /// transaction, on the condition that the key is still as `old` was read.
    pub async fn update(
        &self,
        hash: &KeyHash,
        old: &KeyRecord,
        new: &KeyRecord,
        changes: Vec<String>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let item = to_item(hash, new);
        let mut sets = vec!["v = :next".to_owned()];
        let mut removes = Vec::new();
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk(hash)))
            .condition_expression(unchanged(old.version))
            .expression_attribute_values(":v", n(old.version))
            .expression_attribute_values(":next", n(old.version + 1));
        for (i, field) in changes.iter().flat_map(|c| attributes_of(c)).enumerate() {
            let name = format!("#f{i}");
            update = update.expression_attribute_names(&name, field);
            match item.get(field) {
                Some(value) => {
                    let placeholder = format!(":f{i}");
                    sets.push(format!("{name} = {placeholder}"));
                    update = update.expression_attribute_values(placeholder, value.clone());
                }
                None => removes.push(name),
            }
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let update = update
            .update_expression(expression)
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut event = AuditEvent::new(Action::Update, &old.id, origin, now);
        event.changes = changes;
        self.transact(vec![
            TransactWriteItem::builder().update(update).build(),
            self.put_event(&event)?,
        ])
        .await
    }

    /// Records a key's use (`used_at`), and the quota's live count when there is one. Not a
    /// change to the key: no event, no new version (the cache entry does not hold it), so it
    /// never conflicts with one.
    ///
    /// The count is written only if it is the quota's latest word: same setting
    /// (generation), and a later period or no more left than is stored. Two such writes
    /// racing in either order thus keep the lower count, and a write from before an admin
    /// set the quota never overwrites the new setting.
    pub async fn touch(
        &self,
        hash: &KeyHash,
        used_at: Option<DateTime<Utc>>,
        quota: Option<&QuotaCount>,
    ) -> Result<(), StoreError> {
        self.touch_item(pk(hash), used_at, quota).await
    }

    /// [`Store::touch`] of the item `pk`: a key's, or an identity's (its quota only).
    pub(super) async fn touch_item(
        &self,
        item_pk: String,
        used_at: Option<DateTime<Utc>>,
        quota: Option<&QuotaCount>,
    ) -> Result<(), StoreError> {
        let mut sets = Vec::with_capacity(3);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(item_pk.clone()));
        if let Some(at) = used_at {
            sets.push("last_used_at = :now");
            request = request.expression_attribute_values(":now", s(&timestamp(at)));
        }
        let mut condition = "attribute_exists(pk)";
        if let Some(q) = quota {
            sets.extend(["#q.#r = :r", "#q.#p = :p"]);
            condition = "attribute_exists(pk) AND #q.#g = :g AND \
                         (#q.#p < :p OR (#q.#p = :p AND #q.#r >= :r))";
            request = request
                .expression_attribute_names("#q", "quota")
                .expression_attribute_names("#r", "remaining")
                .expression_attribute_names("#p", "period")
                .expression_attribute_names("#g", "generation")
                .expression_attribute_values(":r", n(q.remaining))
                .expression_attribute_values(":p", s(&q.period))
                .expression_attribute_values(":g", n(q.generation));
        }
        if sets.is_empty() {
            return Ok(());
        }
        let request = request
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(condition);
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                if quota.is_some() {
                    // The stored quota is newer than this count; the use itself still
                    // gets recorded.
                    return Box::pin(self.touch_item(item_pk, used_at, None)).await;
                }
                Ok(())
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// The item's attributes a change names: a field's own, except the limits, which both
/// `rate_limit` and `limits` change and which are stored as `limits`; an item written before
/// named limits has `rate_limit` instead, removed with any change of them so that it can
/// never be read again in place of a `limits` that is now empty.
fn attributes_of(change: &str) -> Vec<&str> {
    match change {
        "rate_limit" | "limits" => vec!["limits", "rate_limit"],
        field => vec![field],
    }
}
