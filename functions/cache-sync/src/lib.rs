//! `cache-sync`: one region's cache, kept in step with the table's DynamoDB stream (see
//! `keygate::ops::sync` for why and how). Lambda's stream poller calls it with a batch of
//! records; each key or identity record is applied on its own, and the ones that fail are
//! reported back (`ReportBatchItemFailures`), so Lambda retries from the first of them and
//! one bad record never blocks the shard. Applying a record twice changes nothing.
//!
//! Logs name a key by its public id and the change, never by its hash next to its name or
//! owner.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use keygate::ops::sync::{apply, Applied, Change};
use keygate::store::stream::{identity_id_of, identity_of, key_hash_of, key_record_of, version_of};
use keygate::App;

/// Applies every record of the batch in order, and reports the ones that failed.
pub async fn handle(app: &App, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in event.records {
        let sequence = record.change.sequence_number.clone();
        if let Err(reason) = handle_record(app, record).await {
            tracing::error!(sequence = sequence.as_deref().unwrap_or(""), %reason, "stream record not applied");
            response.batch_item_failures.push(failure(sequence));
        }
    }
    response
}

fn failure(sequence: Option<String>) -> DynamoDbBatchItemFailure {
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = sequence;
    failure
}

async fn handle_record(app: &App, record: EventRecord) -> Result<(), String> {
    let Some(change) = change_of(record)? else {
        return Ok(());
    };
    let applied = apply(app, &change, Utc::now())
        .await
        .map_err(|e| e.to_string())?;
    match &change {
        Change::Written { record, .. } => tracing::info!(
            key_id = record.id.as_str(),
            version = record.version,
            outcome = applied.name(),
            "stream record applied"
        ),
        Change::Removed { .. } => {
            tracing::info!(outcome = Applied::Removed.name(), "key item deleted")
        }
        Change::IdentityWritten { identity, .. } => tracing::info!(
            identity_id = identity.id.as_str(),
            version = identity.version,
            suspended = identity.suspended,
            outcome = applied.name(),
            "stream record applied"
        ),
        Change::IdentityRemoved { id } => tracing::info!(
            identity_id = id.as_str(),
            outcome = applied.name(),
            "identity item deleted"
        ),
    }
    Ok(())
}

/// The change a stream record describes; `None` for an item that is neither a key's nor an
/// identity's (audit events, documents, usage counts).
pub fn change_of(record: EventRecord) -> Result<Option<Change>, String> {
    let keys = attributes(record.change.keys);
    let removed = record.event_name == "REMOVE";
    if let Some(id) = identity_id_of(&keys) {
        if removed {
            return Ok(Some(Change::IdentityRemoved { id }));
        }
        let new = attributes(record.change.new_image);
        let Some(identity) = identity_of(&new).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        return Ok(Some(Change::IdentityWritten {
            identity: Box::new(identity),
            before: version_before(record.change.old_image),
        }));
    }
    let Some(hash) = key_hash_of(&keys) else {
        return Ok(None);
    };
    if removed {
        return Ok(Some(Change::Removed { hash }));
    }
    let new = attributes(record.change.new_image);
    let Some(new_record) = key_record_of(&new).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    Ok(Some(Change::Written {
        hash,
        record: Box::new(new_record),
        before: version_before(record.change.old_image),
    }))
}

/// The version the item had before the change; `None` for an INSERT.
fn version_before(old: serde_dynamo::Item) -> Option<u64> {
    let old = attributes(old);
    (!old.is_empty()).then(|| version_of(&old))
}

fn attributes(item: serde_dynamo::Item) -> HashMap<String, AttributeValue> {
    item.into()
}
