//! Audit events: the transaction item that stores one (written with the change it records),
//! and reading them back a page at a time.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::codec::{event_from_item, event_item, parse_time, s};
use super::schema::{
    EVENT_PREFIX, INDEX_AUDIT_BY_KEY, INDEX_AUDIT_BY_NEW_KEY, INDEX_BY_CREATED, KIND_AUDIT,
};
use super::{Store, StoreError};
use crate::domain::audit::{Action, AuditEvent, Subject};
use crate::domain::key::KeyId;
use crate::domain::listing::{AuditCursor, AuditQuery, EventPage};
use crate::domain::time::timestamp;

impl Store {
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
    ///
    /// Filters (`action`, `actor_id`) run after DynamoDB's `Limit`, so a filtered read may
    /// find few events or none: this reads on, within a budget of [`MAX_READS`] reads,
    /// until the page is full. A page that is still short carries the cursor of where
    /// DynamoDB stopped, so paging on never skips an event, even after a page with none.
    pub async fn list_events(&self, query: &AuditQuery) -> Result<EventPage, StoreError> {
        const MAX_READS: usize = 10;
        let filtered = query.action.is_some() || query.actor_id.is_some();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .scan_index_forward(false)
            .limit(if filtered {
                250
            } else {
                i32::try_from(query.limit + 1).unwrap_or(i32::MAX)
            });
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
        let mut filters = Vec::new();
        if let Some(action) = query.action {
            filters.push("#action = :action");
            request = request
                .expression_attribute_names("#action", "action")
                .expression_attribute_values(":action", s(action.as_str()));
        }
        if let Some(actor) = &query.actor_id {
            filters.push("actor_id = :actor");
            request = request.expression_attribute_values(":actor", s(actor.as_str()));
        }
        if !filters.is_empty() {
            request = request.filter_expression(filters.join(" AND "));
        }
        let mut start = query.cursor.as_ref().map(|cursor| {
            let mut start = HashMap::from([
                (
                    "pk".to_owned(),
                    s(&format!("{EVENT_PREFIX}{}", cursor.event_id)),
                ),
                ("created_at".to_owned(), s(&timestamp(cursor.at))),
            ]);
            match &query.key_id {
                Some(id) => start.insert("audit_key".to_owned(), s(id.as_str())),
                None => start.insert("kind".to_owned(), s(KIND_AUDIT)),
            };
            start
        });
        let mut events = Vec::with_capacity(query.limit + 1);
        for _ in 0..MAX_READS {
            let output = request
                .clone()
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            for item in output.items() {
                events.push(event_from_item(item)?);
                if events.len() > query.limit {
                    break;
                }
            }
            start = output.last_evaluated_key().cloned();
            if events.len() > query.limit || start.is_none() {
                break;
            }
        }
        let full = events.len() > query.limit;
        events.truncate(query.limit);
        let next = if full {
            events.last().map(|e| AuditCursor {
                event_id: e.id.clone(),
                at: e.at,
            })
        } else {
            start.as_ref().map(cursor_of).transpose()?
        };
        if next.is_none() {
            if let Some(Subject::Key(id)) = &query.key_id {
                // The rotation that created this key is its oldest event: it comes last.
                if (query.action.is_none() || query.action == Some(Action::Rotate))
                    && query.actor_id.is_none()
                {
                    events.extend(self.rotation_creating(id).await?);
                }
            }
        }
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
}

/// The cursor of where DynamoDB stopped reading (its `LastEvaluatedKey`).
fn cursor_of(position: &HashMap<String, AttributeValue>) -> Result<AuditCursor, StoreError> {
    let text = |name: &str| match position.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.as_str()),
        _ => Err(StoreError::Corrupt(format!(
            "an audit page's position has no `{name}`"
        ))),
    };
    let event_id = text("pk")?
        .strip_prefix(EVENT_PREFIX)
        .ok_or_else(|| StoreError::Corrupt("an audit page's position is not an event".into()))?;
    Ok(AuditCursor {
        event_id: event_id.to_owned(),
        at: parse_time("created_at", text("created_at")?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn where_dynamodb_stopped_is_a_cursor_at_that_event() {
        let at = Utc.with_ymd_and_hms(2026, 12, 3, 8, 0, 0).unwrap();
        let position = HashMap::from([
            ("pk".to_owned(), s("AUDIT#evt_1")),
            ("kind".to_owned(), s(KIND_AUDIT)),
            ("created_at".to_owned(), s(&timestamp(at))),
        ]);
        let cursor = cursor_of(&position).unwrap();
        assert_eq!((cursor.event_id.as_str(), cursor.at), ("evt_1", at));
    }

    #[test]
    fn a_position_that_is_not_an_events_is_corrupt() {
        let position = HashMap::from([("pk".to_owned(), s("KEY#ab"))]);
        assert!(matches!(cursor_of(&position), Err(StoreError::Corrupt(_))));
    }
}
