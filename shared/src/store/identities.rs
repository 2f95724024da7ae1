//! Identities: their items, their writes (each with its audit event in the same
//! transaction, conditioned on the version read), and finding them and their keys.
//!
//! An identity's item is `IDT#<id>` (`kind` `identity`, listed by `by_created`). Its
//! external id is reserved by a second item, `EXT#<external id>`, written and removed in the
//! same transactions, so two identities can never share one: DynamoDB has no unique index.
//! A key names its identity in `identity_id`, which the `by_identity` index serves.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::codec::{
    flag, limits_attribute, limits_from, n, parse_time, quota_attribute, quota_from, s, unchanged,
};
use super::schema::{INDEX_BY_CREATED, INDEX_BY_IDENTITY, KIND_IDENTITY};
use super::{Store, StoreError};
use crate::domain::audit::{Action, AuditEvent, Origin};
use crate::domain::identity::{Identity, IdentityId};
use crate::domain::limit::QuotaCount;
use crate::domain::record::{KeyRecord, Status};
use crate::domain::time::timestamp;

fn identity_pk(id: &IdentityId) -> String {
    format!("IDT#{id}")
}

fn external_pk(external_id: &str) -> String {
    format!("EXT#{external_id}")
}

/// A page of identities, and where the next one starts.
#[derive(Debug)]
pub struct IdentityPage {
    pub identities: Vec<Identity>,
    pub next: Option<IdentityCursor>,
}

/// A position in the list of identities: the last one of the page before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityCursor {
    pub created_at: DateTime<Utc>,
    pub id: IdentityId,
}

impl IdentityCursor {
    /// `<created_at>~<id>`: opaque to callers, but plain text.
    pub fn encode(&self) -> String {
        format!("{}~{}", timestamp(self.created_at), self.id)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('~')?;
        Some(Self {
            created_at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
            id: IdentityId::parse(id)?,
        })
    }
}

/// Why an identity's write failed, beyond a store error.
#[derive(Debug, thiserror::Error)]
pub enum IdentityWriteError {
    #[error("another identity has this external id")]
    ExternalIdTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Stores a new identity, its external id's reservation and its event, in one
    /// transaction.
    pub async fn create_identity(
        &self,
        identity: &Identity,
        origin: &Origin,
    ) -> Result<(), IdentityWriteError> {
        let event = AuditEvent::about_identity(
            Action::IdentityCreate,
            &identity.id,
            origin,
            identity.created_at,
        );
        let items = vec![
            self.put_identity(identity, None)?,
            self.reserve(identity)?,
            self.put_event(&event)?,
        ];
        self.identity_transaction(items).await
    }

    /// Writes `new` over `old` (as read) with its event; a new external id moves its
    /// reservation in the same transaction.
    pub async fn update_identity(
        &self,
        old: &Identity,
        new: &Identity,
        action: Action,
        changes: Vec<String>,
        origin: &Origin,
    ) -> Result<(), IdentityWriteError> {
        let mut event = AuditEvent::about_identity(action, &new.id, origin, new.updated_at);
        event.changes = changes;
        let mut items = vec![self.put_identity(new, Some(old.version))?];
        if new.external_id != old.external_id {
            items.push(self.release(old)?);
            items.push(self.reserve(new)?);
        }
        items.push(self.put_event(&event)?);
        self.identity_transaction(items).await
    }

    /// Deletes the identity (as read) and its reservation, with its event.
    pub async fn delete_identity(
        &self,
        identity: &Identity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let event = AuditEvent::about_identity(Action::IdentityDelete, &identity.id, origin, now);
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(&identity_pk(&identity.id)))
            .condition_expression(unchanged(identity.version))
            .expression_attribute_values(":v", n(identity.version))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.transact(vec![
            TransactWriteItem::builder().delete(delete).build(),
            self.release(identity)?,
            self.put_event(&event)?,
        ])
        .await
    }

    /// The identity as the home region has it (every write is decided on this read).
    pub async fn get_identity(&self, id: &IdentityId) -> Result<Option<Identity>, StoreError> {
        self.read_identity(&self.client, id).await
    }

    /// The verify path's read of an identity, from this region's replica.
    pub async fn get_identity_local(
        &self,
        id: &IdentityId,
    ) -> Result<Option<Identity>, StoreError> {
        self.read_identity(self.local.as_ref().unwrap_or(&self.client), id)
            .await
    }

    async fn read_identity(
        &self,
        client: &aws_sdk_dynamodb::Client,
        id: &IdentityId,
    ) -> Result<Option<Identity>, StoreError> {
        let output = client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&identity_pk(id)))
            .consistent_read(true)
            .send()
            .await?;
        output.item.as_ref().map(identity_from_item).transpose()
    }

    /// The identity whose external id this is.
    pub async fn find_identity_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<Identity>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&external_pk(external_id)))
            .consistent_read(true)
            .send()
            .await?;
        let id = match output.item().and_then(|item| item.get("identity")) {
            Some(AttributeValue::S(id)) => IdentityId::parse(id).ok_or_else(|| {
                StoreError::Corrupt("attribute `identity` is not an identity id".to_owned())
            })?,
            _ => return Ok(None),
        };
        self.get_identity(&id).await
    }

    /// A page of identities, newest first; `search` keeps those whose external id contains
    /// it, ignoring case (applied after DynamoDB's `Limit`, so this reads on, within a
    /// budget, until the page is full).
    pub async fn list_identities(
        &self,
        search: Option<&str>,
        cursor: Option<&IdentityCursor>,
        limit: usize,
    ) -> Result<IdentityPage, StoreError> {
        const MAX_READS: usize = 10;
        let needle = search.map(str::to_lowercase);
        let mut start = cursor.map(|c| {
            HashMap::from([
                ("pk".to_owned(), s(&identity_pk(&c.id))),
                ("kind".to_owned(), s(KIND_IDENTITY)),
                ("created_at".to_owned(), s(&timestamp(c.created_at))),
            ])
        });
        let mut identities = Vec::with_capacity(limit + 1);
        for _ in 0..MAX_READS {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX_BY_CREATED)
                .key_condition_expression("kind = :kind")
                .expression_attribute_values(":kind", s(KIND_IDENTITY))
                .scan_index_forward(false)
                .limit(if needle.is_some() {
                    250
                } else {
                    limit as i32 + 1
                })
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            for item in output.items() {
                let identity = identity_from_item(item)?;
                let keep = needle
                    .as_deref()
                    .is_none_or(|n| identity.external_id.to_lowercase().contains(n));
                if keep {
                    identities.push(identity);
                }
                if identities.len() > limit {
                    break;
                }
            }
            start = output.last_evaluated_key().cloned();
            if identities.len() > limit || start.is_none() {
                break;
            }
        }
        let more = identities.len() > limit || start.is_some();
        identities.truncate(limit);
        let next = if more {
            identities.last().map(|i| IdentityCursor {
                created_at: i.created_at,
                id: i.id.clone(),
            })
        } else {
            None
        };
        Ok(IdentityPage { identities, next })
    }

    /// The keys of an identity, newest first, at most `limit` (the `by_identity` index is
    /// eventually consistent: a key issued a moment ago may be missing).
    pub async fn keys_of_identity(
        &self,
        id: &IdentityId,
        limit: usize,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        let mut items = self
            .identity_keys_query(id)
            .scan_index_forward(false)
            .into_paginator()
            .items()
            .send();
        let mut keys = Vec::new();
        while keys.len() < limit {
            match items.try_next().await? {
                Some(item) => keys.push(super::codec::from_item(&item)?),
                None => break,
            }
        }
        Ok(keys)
    }

    /// A query of the `by_identity` index for the keys of `id`.
    pub(super) fn identity_keys_query(&self, id: &IdentityId) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_BY_IDENTITY)
            .key_condition_expression("identity_id = :id")
            .expression_attribute_values(":id", s(id.as_str()))
    }

    /// Whether any key of the identity is still active at `now`.
    pub async fn identity_has_active_keys(
        &self,
        id: &IdentityId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self
            .keys_of_identity(id, usize::MAX)
            .await?
            .iter()
            .any(|k| k.status_at(now) == Status::Active))
    }

    /// Records an identity's live quota count, on the same conditions as a key's
    /// ([`Store::touch`]).
    pub async fn touch_identity(
        &self,
        id: &IdentityId,
        quota: &QuotaCount,
    ) -> Result<(), StoreError> {
        self.touch_item(identity_pk(id), None, Some(quota)).await
    }

    /// The identity's item, on the condition that it is still at `version` (or absent).
    fn put_identity(
        &self,
        identity: &Identity,
        version: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(identity_item(identity)));
        let put = match version {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression(unchanged(v))
                .expression_attribute_values(":v", n(v)),
        };
        let put = put
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn reserve(&self, identity: &Identity) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(&external_pk(&identity.external_id)))
            .item("identity", s(identity.id.as_str()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn release(&self, identity: &Identity) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(&external_pk(&identity.external_id)))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// A write whose failed condition is either the identity changed (a conflict, read
    /// again) or the external id taken: the second is told apart by reading the
    /// reservation.
    async fn identity_transaction(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), IdentityWriteError> {
        let reserved: Vec<String> = items
            .iter()
            .filter_map(|i| i.put())
            .filter_map(|p| match p.item().get("pk") {
                Some(AttributeValue::S(pk)) if pk.starts_with("EXT#") => Some(pk.clone()),
                _ => None,
            })
            .collect();
        match self.transact(items).await {
            Err(StoreError::Conflict) => {
                for pk in reserved {
                    let output = self
                        .client
                        .get_item()
                        .table_name(&self.table)
                        .key("pk", s(&pk))
                        .consistent_read(true)
                        .send()
                        .await
                        .map_err(StoreError::from)?;
                    if output.item.is_some() {
                        return Err(IdentityWriteError::ExternalIdTaken);
                    }
                }
                Err(StoreError::Conflict.into())
            }
            other => other.map_err(Into::into),
        }
    }
}

fn identity_item(i: &Identity) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(&identity_pk(&i.id))),
        ("kind".to_owned(), s(KIND_IDENTITY)),
        ("external_id".to_owned(), s(&i.external_id)),
        ("created_at".to_owned(), s(&timestamp(i.created_at))),
        ("updated_at".to_owned(), s(&timestamp(i.updated_at))),
        ("v".to_owned(), n(i.version)),
    ]);
    if let Some(meta) = &i.meta {
        let text = serde_json::to_string(meta).expect("a JSON object always serializes");
        item.insert("meta".to_owned(), s(&text));
    }
    if !i.limits.is_empty() {
        item.insert("limits".to_owned(), limits_attribute(&i.limits));
    }
    if let Some(q) = &i.quota {
        item.insert("quota".to_owned(), quota_attribute(q));
    }
    if i.suspended {
        item.insert("suspended".to_owned(), AttributeValue::Bool(true));
    }
    item
}

pub(super) fn identity_from_item(
    item: &HashMap<String, AttributeValue>,
) -> Result<Identity, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.as_str()),
        _ => Err(StoreError::Corrupt(format!(
            "identity attribute `{name}` is missing or not a string"
        ))),
    };
    let id = text("pk")?
        .strip_prefix("IDT#")
        .and_then(IdentityId::parse)
        .ok_or_else(|| StoreError::Corrupt("identity attribute `pk` is malformed".to_owned()))?;
    let meta = match item.get("meta") {
        None => None,
        Some(AttributeValue::S(text)) => Some(serde_json::from_str(text).map_err(|_| {
            StoreError::Corrupt("identity attribute `meta` is not a JSON object".to_owned())
        })?),
        Some(_) => {
            return Err(StoreError::Corrupt(
                "identity attribute `meta` is not a string".to_owned(),
            ))
        }
    };
    Ok(Identity {
        id,
        external_id: text("external_id")?.to_owned(),
        meta,
        limits: limits_from(item)?,
        quota: quota_from(item)?,
        suspended: flag(item, "suspended")?,
        created_at: parse_time("created_at", text("created_at")?)?,
        updated_at: parse_time("updated_at", text("updated_at")?)?,
        version: match item.get("v") {
            Some(AttributeValue::N(v)) => v.parse().map_err(|_| {
                StoreError::Corrupt("identity attribute `v` is not a number".to_owned())
            })?,
            _ => 0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::limit::{Limit, Limits, Quota};

    #[test]
    fn an_identity_round_trips_through_its_item() {
        let now: DateTime<Utc> = "2026-12-01T10:00:00.123Z".parse().unwrap();
        let identity = Identity {
            id: IdentityId::generate().unwrap(),
            external_id: "acme".to_owned(),
            meta: serde_json::json!({"plan": "pro"}).as_object().cloned(),
            limits: Limits::new(vec![Limit {
                name: "per_second".to_owned(),
                limit: 10,
                window_seconds: 1,
            }])
            .unwrap(),
            quota: Some(Quota::set(1000, None, 2, now)),
            suspended: true,
            created_at: now,
            updated_at: now,
            version: 7,
        };
        assert_eq!(
            identity_from_item(&identity_item(&identity)).unwrap(),
            identity
        );
    }

    #[test]
    fn a_cursor_round_trips_and_refuses_garbage() {
        let cursor = IdentityCursor {
            created_at: "2026-12-01T10:00:00.123Z".parse().unwrap(),
            id: IdentityId::generate().unwrap(),
        };
        assert_eq!(IdentityCursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "~", "x~idt_", "2026-12-01T10:00:00Z~key_1"] {
            assert_eq!(IdentityCursor::decode(bad), None, "{bad}");
        }
    }
}
