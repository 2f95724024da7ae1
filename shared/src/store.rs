//! DynamoDB, the source of truth.
//!
//! One table, partition key `pk`. A key's item is `pk = "KEY#<sha256 hex>"`, so the verify
//! path's cache miss is a single strongly consistent GetItem. Two indexes serve people, not
//! the hot path: `by_id` (KEYS_ONLY) finds a key's item from its public id, and
//! `by_created` (`kind`, `created_at`) lists keys newest first.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, ScalarAttributeType, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use crate::admin::{status_filter, AuditCursor, AuditQuery, Cursor, EventPage, KeyPage, ListQuery};
use crate::audit::{Action, AuditEvent, Origin};
use crate::key::{KeyHash, KeyId};
use crate::limit::{Every, Quota, RateLimit, Refill};
use crate::record::{timestamp, KeyRecord, State};
use crate::scope::Scopes;

pub const INDEX_BY_ID: &str = "by_id";
pub const INDEX_BY_CREATED: &str = "by_created";
pub const INDEX_AUDIT_BY_KEY: &str = "audit_by_key";
pub const INDEX_AUDIT_BY_NEW_KEY: &str = "audit_by_new_key";
const KIND_KEY: &str = "key";
const KIND_AUDIT: &str = "audit";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB could not be reached or did not answer in time; the message holds the
    /// SDK's error chain for the logs.
    #[error("DynamoDB request failed: {0}")]
    Unavailable(String),
    /// DynamoDB answered with an error (a missing table, throttling, bad credentials...).
    #[error("DynamoDB refused the request: {0}")]
    Rejected(String),
    #[error("an item already exists for this key hash")]
    AlreadyExists,
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
    /// A transaction's condition failed: the item changed since it was read.
    #[error("the item changed while this request was running")]
    Conflict,
}

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn from(err: SdkError<E, R>) -> Self {
        match err.as_service_error() {
            Some(service) => StoreError::Rejected(format!(
                "{}: {}",
                service.code().unwrap_or("unknown error"),
                service.message().unwrap_or("no message")
            )),
            None => StoreError::Unavailable(DisplayErrorContext(&err).to_string()),
        }
    }
}

/// What revoking found.
#[derive(Debug)]
pub struct Revoked {
    /// The record as it is now, revoked.
    pub record: KeyRecord,
    /// False when the key was already revoked: nothing changed.
    pub changed: bool,
}

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

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

    /// The verify path's only database read: strongly consistent, so a key revoked a moment
    /// ago is seen as revoked.
    pub async fn get(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk(hash)))
            .consistent_read(true)
            .send()
            .await?;
        output.item.as_ref().map(from_item).transpose()
    }

    /// Marks the key revoked, with its `revoke` event, in one transaction. Revoking a
    /// revoked key changes nothing and writes no event. `None` when no key has this hash.
    pub async fn revoke(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
        origin: &Origin,
    ) -> Result<Option<Revoked>, StoreError> {
        // Read, then write on the condition that nothing changed; a concurrent change
        // (another revoke, a rotation) sends us round again.
        for _ in 0..3 {
            let Some(mut record) = self.get(hash).await? else {
                return Ok(None);
            };
            if record.state == State::Revoked {
                return Ok(Some(Revoked {
                    record,
                    changed: false,
                }));
            }
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
            let event = AuditEvent::new(Action::Revoke, &record.id, origin, now);
            match self
                .transact(vec![
                    TransactWriteItem::builder().update(update).build(),
                    self.put_event(&event)?,
                ])
                .await
            {
                Ok(()) => {
                    record.state = State::Revoked;
                    record.revoked_at = Some(now);
                    record.version += 1;
                    return Ok(Some(Revoked {
                        record,
                        changed: true,
                    }));
                }
                Err(StoreError::Conflict) => continue,
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::Conflict)
    }

    /// Rotates `old` (with hash `hash`) to `new`: stores the new key, ends the old one as
    /// `old_ended` says, and records the `rotate` event, all in one transaction. The old
    /// key's item must still be as `old` was read: active, not rotated, same expiry.
    #[allow(clippy::too_many_arguments)]
    pub async fn rotate(
        &self,
        hash: &KeyHash,
        old: &KeyRecord,
        old_ended: &KeyRecord,
        new_hash: &KeyHash,
        new: &KeyRecord,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
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
        end = match (old_ended.state, old_ended.expires_at) {
            (State::Revoked, _) => end
                .update_expression(
                    "SET #state = :revoked, revoked_at = :now, rotated_to = :to, v = :next",
                )
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":revoked", s(State::Revoked.as_str()))
                .expression_attribute_values(":now", s(&timestamp(now))),
            (State::Active, Some(at)) => end
                .update_expression("SET expires_at = :end, rotated_to = :to, v = :next")
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
        for (i, field) in changes.iter().enumerate() {
            let name = format!("#f{i}");
            update = update.expression_attribute_names(&name, field);
            match item.get(field.as_str()) {
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

    /// Records a key's use, and the quota's live count when the key has one. Not a change
    /// to the key: no event, no new version (the cache entry does not hold it), so it never
    /// conflicts with one.
    ///
    /// The count is written only if it is the quota's latest word: same setting
    /// (generation), and a later period or no more left than is stored. Two such writes
    /// racing in either order thus keep the lower count, and a write from before an admin
    /// set the quota never overwrites the new setting.
    pub async fn touch(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
        quota: Option<&QuotaCount>,
    ) -> Result<(), StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk(hash)))
            .expression_attribute_values(":now", s(&timestamp(now)));
        let request = match quota {
            None => request
                .update_expression("SET last_used_at = :now")
                .condition_expression("attribute_exists(pk)"),
            Some(q) => request
                .update_expression("SET last_used_at = :now, #q.#r = :r, #q.#p = :p")
                .condition_expression(
                    "attribute_exists(pk) AND #q.#g = :g AND \
                     (#q.#p < :p OR (#q.#p = :p AND #q.#r >= :r))",
                )
                .expression_attribute_names("#q", "quota")
                .expression_attribute_names("#r", "remaining")
                .expression_attribute_names("#p", "period")
                .expression_attribute_names("#g", "generation")
                .expression_attribute_values(":r", n(q.remaining))
                .expression_attribute_values(":p", s(&q.period))
                .expression_attribute_values(":g", n(q.generation)),
        };
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
                    return Box::pin(self.touch(hash, now, None)).await;
                }
                Ok(())
            }
            Err(err) => Err(err.into()),
        }
    }

    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                let conflict = match err.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(e)) => e
                        .cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed")),
                    _ => false,
                };
                if conflict {
                    Err(StoreError::Conflict)
                } else {
                    Err(err.into())
                }
            }
        }
    }

    /// The transaction item that stores an audit event.
    pub fn put_event(&self, event: &AuditEvent) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(event_item(event)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// One page of audit events, newest first: all of them, or one key's (including the
    /// rotation that created it, which is filed under the key it replaced).
    pub async fn list_events(&self, query: &AuditQuery) -> Result<EventPage, StoreError> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .scan_index_forward(false)
            .limit(i32::try_from(query.limit + 1).unwrap_or(i32::MAX));
        request = match &query.key_id {
            Some(id) => request
                .index_name(INDEX_AUDIT_BY_KEY)
                .key_condition_expression("audit_key = :k")
                .expression_attribute_values(":k", s(id.as_str())),
            None => request
                .index_name(INDEX_BY_CREATED)
                .key_condition_expression("kind = :kind")
                .expression_attribute_values(":kind", s(KIND_AUDIT)),
        };
        if let Some(action) = query.action {
            request = request
                .filter_expression("#action = :action")
                .expression_attribute_names("#action", "action")
                .expression_attribute_values(":action", s(action.as_str()));
        }
        if let Some(cursor) = &query.cursor {
            let mut start = HashMap::from([
                ("pk".to_owned(), s(&format!("AUDIT#{}", cursor.event_id))),
                ("created_at".to_owned(), s(&timestamp(cursor.at))),
            ]);
            match &query.key_id {
                Some(id) => start.insert("audit_key".to_owned(), s(id.as_str())),
                None => start.insert("kind".to_owned(), s(KIND_AUDIT)),
            };
            request = request.set_exclusive_start_key(Some(start));
        }
        let output = request.send().await?;
        let mut events = output
            .items()
            .iter()
            .map(event_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let more = events.len() > query.limit || output.last_evaluated_key().is_some();
        events.truncate(query.limit);
        if !more {
            if let Some(id) = &query.key_id {
                // The rotation that created this key is its oldest event: it comes last.
                if query.action.is_none() || query.action == Some(Action::Rotate) {
                    events.extend(self.rotation_creating(id).await?);
                }
            }
        }
        let next = if more {
            events.last().map(|e| AuditCursor {
                event_id: e.id.clone(),
                at: e.at,
            })
        } else {
            None
        };
        Ok(EventPage { events, next })
    }

    async fn rotation_creating(&self, id: &KeyId) -> Result<Option<AuditEvent>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_AUDIT_BY_NEW_KEY)
            .key_condition_expression("new_key_id = :k")
            .expression_attribute_values(":k", s(id.as_str()))
            .limit(1)
            .send()
            .await?;
        output.items().first().map(event_from_item).transpose()
    }

    /// Finds a key by its public id: the `by_id` index gives the item's `pk` (it projects
    /// keys only, and is eventually consistent), then a strongly consistent GetItem reads the
    /// record itself. The hash is for callers that act on the key (revoke); it never leaves
    /// the server.
    pub async fn find_by_id(&self, id: &KeyId) -> Result<Option<(KeyHash, KeyRecord)>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_BY_ID)
            .key_condition_expression("id = :id")
            .expression_attribute_values(":id", s(id.as_str()))
            .limit(1)
            .send()
            .await?;
        let Some(item) = output.items().first() else {
            return Ok(None);
        };
        let hash = Self::hash_of_item(item)?;
        // The index may lag a revoke or lead a failed write: the table has the last word.
        match self.get(&hash).await? {
            Some(record) if record.id == *id => Ok(Some((hash, record))),
            _ => Ok(None),
        }
    }

    /// One page of keys, newest first, from the `by_created` index. The status filter runs
    /// in DynamoDB and the search here (so that it can ignore case); both apply after
    /// DynamoDB's own `Limit`, so this reads on until the page is full, the index ends, or a
    /// budget of reads is spent. In that last case the page may be short, or even empty, and
    /// still carry a cursor: "no more here yet", not "no more at all".
    pub async fn list_keys(
        &self,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<KeyPage, StoreError> {
        const MAX_READS: usize = 10;
        let filtered = query.filters();
        // One more than the page, to know whether another page exists without a read that
        // would come back empty; more when most items may be filtered out.
        let read_limit = if filtered { 250 } else { query.limit + 1 };
        let mut found: Vec<(KeyHash, KeyRecord)> = Vec::with_capacity(query.limit + 1);
        let page = |found: Vec<(KeyHash, KeyRecord)>, next| KeyPage {
            records: found.into_iter().map(|(_, record)| record).collect(),
            next,
        };
        let mut start = query.cursor;
        for _ in 0..MAX_READS {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX_BY_CREATED)
                .key_condition_expression("kind = :kind")
                .expression_attribute_values(":kind", s(KIND_KEY))
                .scan_index_forward(false)
                .limit(i32::try_from(read_limit).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.as_ref().map(Self::position));
            if let Some(status) = query.status {
                let filter = status_filter(status);
                request = request
                    .filter_expression(filter)
                    .expression_attribute_names("#state", "state");
                // DynamoDB rejects values the expression does not use.
                for (name, value) in [
                    (":active", State::Active.as_str().to_owned()),
                    (":revoked", State::Revoked.as_str().to_owned()),
                    (":now", timestamp(now)),
                ] {
                    if filter.contains(name) {
                        request = request.expression_attribute_values(name, s(&value));
                    }
                }
            }
            let output = request.send().await?;
            for item in output.items() {
                let record = from_item(item)?;
                if query.matches(&record, now) {
                    found.push((Self::hash_of_item(item)?, record));
                }
                if found.len() > query.limit {
                    found.truncate(query.limit);
                    let next = found.last().map(|(hash, record)| Cursor {
                        hash: *hash,
                        created_at: record.created_at,
                    });
                    return Ok(page(found, next));
                }
            }
            start = match output.last_evaluated_key() {
                None => return Ok(page(found, None)),
                Some(key) => Some(Self::cursor_of(key)?),
            };
        }
        Ok(page(found, start))
    }

    /// The `ExclusiveStartKey` for a cursor: the table's key and the index's keys.
    fn position(cursor: &Cursor) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S(pk(&cursor.hash))),
            ("kind".to_owned(), s(KIND_KEY)),
            ("created_at".to_owned(), s(&timestamp(cursor.created_at))),
        ])
    }

    fn cursor_of(key: &HashMap<String, AttributeValue>) -> Result<Cursor, StoreError> {
        let created_at = match key.get("created_at") {
            Some(AttributeValue::S(v)) => parse_time("created_at", v)?,
            _ => {
                return Err(StoreError::Corrupt(
                    "pagination key has no `created_at`".to_owned(),
                ))
            }
        };
        Ok(Cursor {
            hash: Self::hash_of_item(key)?,
            created_at,
        })
    }

    fn hash_of_item(item: &HashMap<String, AttributeValue>) -> Result<KeyHash, StoreError> {
        match item.get("pk") {
            Some(AttributeValue::S(v)) => v.strip_prefix("KEY#").and_then(KeyHash::from_hex),
            _ => None,
        }
        .ok_or_else(|| StoreError::Corrupt("attribute `pk` is not KEY#<sha256 hex>".to_owned()))
    }
}

/// A quota's live count, as Redis had it after a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaCount {
    pub remaining: u64,
    pub period: String,
    pub generation: u64,
}

fn pk(hash: &KeyHash) -> String {
    format!("KEY#{}", hash.to_hex())
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// The condition that a key's item is still at `version`. Items written before versions
/// existed have no `v` and count as version 0.
fn unchanged(version: u64) -> &'static str {
    if version == 0 {
        "attribute_not_exists(v) OR v = :v"
    } else {
        "v = :v"
    }
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn to_item(hash: &KeyHash, r: &KeyRecord) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk(hash))),
        ("kind".to_owned(), s(KIND_KEY)),
        ("id".to_owned(), s(r.id.as_str())),
        ("name".to_owned(), s(&r.name)),
        ("prefix".to_owned(), s(&r.prefix)),
        ("state".to_owned(), s(r.state.as_str())),
        ("created_at".to_owned(), s(&timestamp(r.created_at))),
        ("v".to_owned(), AttributeValue::N(r.version.to_string())),
    ]);
    if let Some(at) = r.expires_at {
        item.insert("expires_at".to_owned(), s(&timestamp(at)));
    }
    if let Some(at) = r.revoked_at {
        item.insert("revoked_at".to_owned(), s(&timestamp(at)));
    }
    if let Some(owner) = &r.owner {
        item.insert("owner".to_owned(), s(owner));
    }
    if let Some(meta) = &r.meta {
        // Kept as the JSON text, so it comes back exactly as given.
        let text = serde_json::to_string(meta).expect("a JSON object always serializes");
        item.insert("meta".to_owned(), AttributeValue::S(text));
    }
    if !r.scopes.is_empty() {
        let list = r.scopes.as_slice().iter().map(|x| s(x)).collect();
        item.insert("scopes".to_owned(), AttributeValue::L(list));
    }
    if let Some(at) = r.last_used_at {
        item.insert("last_used_at".to_owned(), s(&timestamp(at)));
    }
    if let Some(id) = &r.rotated_to {
        item.insert("rotated_to".to_owned(), s(id.as_str()));
    }
    if let Some(id) = &r.rotated_from {
        item.insert("rotated_from".to_owned(), s(id.as_str()));
    }
    if let Some(rl) = &r.rate_limit {
        let map = HashMap::from([
            ("limit".to_owned(), n(rl.limit)),
            ("window_seconds".to_owned(), n(rl.window_seconds)),
        ]);
        item.insert("rate_limit".to_owned(), AttributeValue::M(map));
    }
    if let Some(q) = &r.quota {
        let mut map = HashMap::from([
            ("remaining".to_owned(), n(q.remaining)),
            ("period".to_owned(), s(&q.period)),
            ("generation".to_owned(), n(q.generation)),
        ]);
        if let Some(refill) = &q.refill {
            map.insert("refill_every".to_owned(), s(refill.every.as_str()));
            map.insert("refill_amount".to_owned(), n(refill.amount));
        }
        item.insert("quota".to_owned(), AttributeValue::M(map));
    }
    item
}

fn number(
    map: &HashMap<String, AttributeValue>,
    parent: &str,
    name: &str,
) -> Result<u64, StoreError> {
    match map.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| StoreError::Corrupt(format!("attribute `{parent}.{name}` is not a number")))
}

fn map_attribute<'a>(
    item: &'a HashMap<String, AttributeValue>,
    name: &str,
) -> Result<Option<&'a HashMap<String, AttributeValue>>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::M(map)) => Ok(Some(map)),
        Some(_) => Err(StoreError::Corrupt(format!(
            "attribute `{name}` is not a map"
        ))),
    }
}

fn rate_limit_from(
    item: &HashMap<String, AttributeValue>,
) -> Result<Option<RateLimit>, StoreError> {
    map_attribute(item, "rate_limit")?
        .map(|m| {
            Ok(RateLimit {
                limit: number(m, "rate_limit", "limit")?,
                window_seconds: number(m, "rate_limit", "window_seconds")?,
            })
        })
        .transpose()
}

fn quota_from(item: &HashMap<String, AttributeValue>) -> Result<Option<Quota>, StoreError> {
    let Some(m) = map_attribute(item, "quota")? else {
        return Ok(None);
    };
    let refill = match m.get("refill_every") {
        None => None,
        Some(AttributeValue::S(every)) => Some(Refill {
            every: Every::parse(every).ok_or_else(|| {
                StoreError::Corrupt("attribute `quota.refill_every` is unknown".to_owned())
            })?,
            amount: number(m, "quota", "refill_amount")?,
        }),
        Some(_) => {
            return Err(StoreError::Corrupt(
                "attribute `quota.refill_every` is not a string".to_owned(),
            ))
        }
    };
    let period = match m.get("period") {
        Some(AttributeValue::S(p)) => p.clone(),
        _ => {
            return Err(StoreError::Corrupt(
                "attribute `quota.period` is not a string".to_owned(),
            ))
        }
    };
    Ok(Some(Quota {
        remaining: number(m, "quota", "remaining")?,
        refill,
        period,
        generation: number(m, "quota", "generation")?,
    }))
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<KeyRecord, StoreError> {
    let text = |name: &str| -> Result<&str, StoreError> {
        match item.get(name) {
            Some(AttributeValue::S(v)) => Ok(v.as_str()),
            _ => Err(StoreError::Corrupt(format!(
                "attribute `{name}` is missing or not a string"
            ))),
        }
    };
    let optional_time = |name: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        if item.contains_key(name) {
            parse_time(name, text(name)?).map(Some)
        } else {
            Ok(None)
        }
    };
    let optional_text = |name: &str| -> Result<Option<&str>, StoreError> {
        if item.contains_key(name) {
            text(name).map(Some)
        } else {
            Ok(None)
        }
    };
    let optional_id = |name: &str| -> Result<Option<KeyId>, StoreError> {
        optional_text(name)?
            .map(|v| {
                KeyId::parse(v).ok_or_else(|| {
                    StoreError::Corrupt(format!("attribute `{name}` is not a key id"))
                })
            })
            .transpose()
    };
    let id = KeyId::parse(text("id")?)
        .ok_or_else(|| StoreError::Corrupt("attribute `id` is not a key id".to_owned()))?;
    let meta = optional_text("meta")?
        .map(|v| {
            serde_json::from_str(v).map_err(|_| {
                StoreError::Corrupt("attribute `meta` is not a JSON object".to_owned())
            })
        })
        .transpose()?;
    let scopes = match item.get("scopes") {
        None => Scopes::default(),
        Some(AttributeValue::L(list)) => Scopes::from_stored(
            list.iter()
                .map(|v| match v {
                    AttributeValue::S(x) => Ok(x.clone()),
                    _ => Err(StoreError::Corrupt(
                        "attribute `scopes` holds a non-string".to_owned(),
                    )),
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(_) => {
            return Err(StoreError::Corrupt(
                "attribute `scopes` is not a list".to_owned(),
            ))
        }
    };
    let state = State::parse(text("state")?)
        .ok_or_else(|| StoreError::Corrupt("attribute `state` is unknown".to_owned()))?;
    Ok(KeyRecord {
        id,
        name: text("name")?.to_owned(),
        prefix: text("prefix")?.to_owned(),
        state,
        created_at: parse_time("created_at", text("created_at")?)?,
        expires_at: optional_time("expires_at")?,
        revoked_at: optional_time("revoked_at")?,
        owner: optional_text("owner")?.map(str::to_owned),
        meta,
        scopes,
        last_used_at: optional_time("last_used_at")?,
        rotated_to: optional_id("rotated_to")?,
        rotated_from: optional_id("rotated_from")?,
        rate_limit: rate_limit_from(item)?,
        quota: quota_from(item)?,
        version: match item.get("v") {
            Some(AttributeValue::N(n)) => n
                .parse()
                .map_err(|_| StoreError::Corrupt("attribute `v` is not a version".to_owned()))?,
            Some(_) => {
                return Err(StoreError::Corrupt(
                    "attribute `v` is not a number".to_owned(),
                ))
            }
            None => 0,
        },
    })
}

fn event_item(e: &AuditEvent) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(&format!("AUDIT#{}", e.id))),
        ("kind".to_owned(), s(KIND_AUDIT)),
        ("created_at".to_owned(), s(&timestamp(e.at))),
        ("action".to_owned(), s(e.action.as_str())),
        ("audit_key".to_owned(), s(e.key_id.as_str())),
        ("actor".to_owned(), s(&e.actor)),
    ]);
    let optional = [
        ("new_key_id", e.new_key_id.as_ref().map(KeyId::as_str)),
        ("source_ip", e.source_ip.as_deref()),
        ("user_agent", e.user_agent.as_deref()),
        ("request_id", e.request_id.as_deref()),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.to_owned(), s(value));
        }
    }
    if !e.changes.is_empty() {
        let list = e.changes.iter().map(|c| s(c)).collect();
        item.insert("changes".to_owned(), AttributeValue::L(list));
    }
    item
}

fn event_from_item(item: &HashMap<String, AttributeValue>) -> Result<AuditEvent, StoreError> {
    let corrupt =
        |name: &str| StoreError::Corrupt(format!("audit attribute `{name}` is malformed"));
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    };
    let id = text("pk")
        .and_then(|pk| pk.strip_prefix("AUDIT#"))
        .ok_or_else(|| corrupt("pk"))?;
    let key_id = text("audit_key")
        .and_then(KeyId::parse)
        .ok_or_else(|| corrupt("audit_key"))?;
    let changes = match item.get("changes") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| match v {
                AttributeValue::S(c) => Ok(c.clone()),
                _ => Err(corrupt("changes")),
            })
            .collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    let at = text("created_at").ok_or_else(|| corrupt("created_at"))?;
    Ok(AuditEvent {
        id: id.to_owned(),
        at: parse_time("created_at", at)?,
        action: text("action")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| corrupt("action"))?,
        key_id,
        new_key_id: text("new_key_id").and_then(KeyId::parse),
        actor: text("actor").ok_or_else(|| corrupt("actor"))?.to_owned(),
        source_ip: text("source_ip").map(str::to_owned),
        user_agent: text("user_agent").map(str::to_owned),
        request_id: text("request_id").map(str::to_owned),
        changes,
    })
}

fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(format!("attribute `{name}` is not an RFC 3339 time")))
}

/// Creates the table with its indexes unless it exists. Used by `make dev` and the tests;
/// in AWS the template creates it.
pub async fn create_table(client: &Client, table: &str) -> Result<bool, StoreError> {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute name and type are set")
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .expect("attribute name and key type are set")
    };
    let index = |name: &str, hash: &str, range: Option<&str>, projection: ProjectionType| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .set_key_schema(Some(
                std::iter::once(key(hash, KeyType::Hash))
                    .chain(range.map(|r| key(r, KeyType::Range)))
                    .collect(),
            ))
            .projection(Projection::builder().projection_type(projection).build())
            .build()
            .expect("index name, key schema and projection are set")
    };
    let by_id = index(INDEX_BY_ID, "id", None, ProjectionType::KeysOnly);
    let by_created = index(
        INDEX_BY_CREATED,
        "kind",
        Some("created_at"),
        ProjectionType::All,
    );
    // Audit events: one key's, newest first; and the rotation that created a key.
    let audit_by_key = index(
        INDEX_AUDIT_BY_KEY,
        "audit_key",
        Some("created_at"),
        ProjectionType::All,
    );
    let audit_by_new_key = index(
        INDEX_AUDIT_BY_NEW_KEY,
        "new_key_id",
        None,
        ProjectionType::All,
    );
    let attributes: Vec<_> = ["pk", "id", "kind", "created_at", "audit_key", "new_key_id"]
        .into_iter()
        .map(attr)
        .collect();
    let indexes = [by_id, by_created, audit_by_key, audit_by_new_key];
    let result = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes))
        .key_schema(key("pk", KeyType::Hash))
        .set_global_secondary_indexes(Some(indexes.to_vec()))
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(false)
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{ApiKey, KeyPrefix};

    fn record() -> KeyRecord {
        let now: DateTime<Utc> = "2026-01-01T00:00:00.123Z".parse().unwrap();
        KeyRecord {
            expires_at: Some(now + chrono::TimeDelta::days(1)),
            ..KeyRecord::new(
                KeyId::generate().unwrap(),
                "ci".to_owned(),
                "kg_01234567".to_owned(),
                now,
            )
        }
    }

    #[test]
    fn a_record_round_trips_through_its_item() {
        let hash = ApiKey::generate(&KeyPrefix::default()).unwrap().hash();
        let r = record();
        assert_eq!(from_item(&to_item(&hash, &r)).unwrap(), r);
    }

    #[test]
    fn a_record_with_limits_round_trips_through_its_item() {
        let hash = ApiKey::generate(&KeyPrefix::default()).unwrap().hash();
        let refill = Some(Refill {
            every: Every::Month,
            amount: 1_000_000_000_000,
        });
        let r = KeyRecord {
            rate_limit: Some(RateLimit {
                limit: 10,
                window_seconds: 60,
            }),
            quota: Some(Quota::set(5, refill, 3, record().created_at)),
            ..record()
        };
        assert_eq!(from_item(&to_item(&hash, &r)).unwrap(), r);
    }

    #[test]
    fn the_item_holds_the_hash_and_never_the_key() {
        let key = ApiKey::generate(&KeyPrefix::default()).unwrap();
        let item = to_item(&key.hash(), &record());
        let dump = format!("{item:?}");
        assert!(dump.contains(&key.hash().to_hex()));
        assert!(!dump.contains(&key.expose()[3..]));
    }

    #[test]
    fn a_missing_attribute_is_named() {
        let hash = ApiKey::generate(&KeyPrefix::default()).unwrap().hash();
        let mut item = to_item(&hash, &record());
        item.remove("name");
        let err = from_item(&item).unwrap_err();
        assert!(err.to_string().contains("`name`"), "{err}");
    }
}
