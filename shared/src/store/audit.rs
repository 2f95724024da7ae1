//! Audit events: the transaction item that stores one (written with the change it records),
//! and reading them back a page at a time.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::codec::{event_from_item, event_item, s};
use super::schema::{INDEX_AUDIT_BY_KEY, INDEX_AUDIT_BY_NEW_KEY, INDEX_BY_CREATED, KIND_AUDIT};
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
        // Filters run after DynamoDB's `Limit`: a filtered page may be short, and still
        // carry a cursor.
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
            if let Some(Subject::Key(id)) = &query.key_id {
                // The rotation that created this key is its oldest event: it comes last.
                if (query.action.is_none() || query.action == Some(Action::Rotate))
                    && query.actor_id.is_none()
                {
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
}
