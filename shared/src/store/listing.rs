//! Finding a key by its public id, and listing keys for people, a page at a time.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::codec::{from_item, parse_time, pk, s};
use super::schema::{INDEX_BY_CREATED, INDEX_BY_ID, KIND_ADMIN, KIND_KEY};
use super::{Store, StoreError};
use crate::domain::key::{KeyHash, KeyId};
use crate::domain::listing::{Cursor, KeyPage, ListQuery};
use crate::domain::record::{KeyRecord, State, Status};
use crate::domain::time::timestamp;

impl Store {
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

    /// Every admin credential, newest first: active, revoked and expired. They are few (one
    /// per person or automation), so this reads the whole list, a page of the index at a
    /// time.
    pub async fn list_admins(&self) -> Result<Vec<(KeyHash, KeyRecord)>, StoreError> {
        let mut items = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_BY_CREATED)
            .key_condition_expression("kind = :kind")
            .expression_attribute_values(":kind", s(KIND_ADMIN))
            .scan_index_forward(false)
            .into_paginator()
            .items()
            .send();
        let mut found = Vec::new();
        while let Some(item) = items.try_next().await? {
            found.push((Self::hash_of_item(&item)?, from_item(&item)?));
        }
        Ok(found)
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

    pub(super) fn hash_of_item(
        item: &HashMap<String, AttributeValue>,
    ) -> Result<KeyHash, StoreError> {
        match item.get("pk") {
            Some(AttributeValue::S(v)) => v.strip_prefix("KEY#").and_then(KeyHash::from_hex),
            _ => None,
        }
        .ok_or_else(|| StoreError::Corrupt("attribute `pk` is not KEY#<sha256 hex>".to_owned()))
    }
}
/// The DynamoDB filter for a status, over `#state` and `expires_at`, given `:active`,
/// `:revoked` and `:now`. It mirrors [`crate::domain::record::status_at`]: revocation wins, and a key
/// expires at its expiry time (stored timestamps have one width, so they compare as strings).
pub fn status_filter(status: Status) -> &'static str {
    match status {
        Status::Active => {
            "#state = :active AND (attribute_not_exists(expires_at) OR expires_at > :now)"
        }
        Status::Revoked => "#state = :revoked",
        Status::Expired => "#state = :active AND expires_at <= :now",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_filters_name_only_the_expected_placeholders() {
        for status in [Status::Active, Status::Revoked, Status::Expired] {
            let filter = status_filter(status);
            let placeholders: Vec<&str> = filter
                .split(|c: char| !(c.is_alphanumeric() || c == ':' || c == '_'))
                .filter(|w| w.starts_with(':'))
                .collect();
            for p in placeholders {
                assert!([":active", ":revoked", ":now"].contains(&p), "{filter}");
            }
        }
    }
}
