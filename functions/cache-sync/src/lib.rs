//! `cache-sync`: one region's cache, kept in step with the table's DynamoDB stream (see
//! `keygate::ops::sync` for why and how). Lambda's stream poller calls it with a batch of
//! records; each key record is applied on its own, and the ones that fail are reported back
//! (`ReportBatchItemFailures`), so Lambda retries from the first of them and one bad record
//! never blocks the shard. Applying a record twice changes nothing.
//!
//! Logs name a key by its public id and the change, never by its hash next to its name or
//! owner.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use keygate::ops::sync::{apply, Applied, Change};
use keygate::store::stream::{key_hash_of, key_record_of, version_of};
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
    }
    Ok(())
}

/// The change a stream record describes; `None` for an item that is not a key's (audit
/// events, documents).
pub fn change_of(record: EventRecord) -> Result<Option<Change>, String> {
    let keys = attributes(record.change.keys);
    let Some(hash) = key_hash_of(&keys) else {
        return Ok(None);
    };
    if record.event_name == "REMOVE" {
        return Ok(Some(Change::Removed { hash }));
    }
    let new = attributes(record.change.new_image);
    let Some(new_record) = key_record_of(&new).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let old = attributes(record.change.old_image);
    let before = (!old.is_empty()).then(|| version_of(&old));
    Ok(Some(Change::Written {
        hash,
        record: Box::new(new_record),
        before,
    }))
}

fn attributes(item: serde_dynamo::Item) -> HashMap<String, AttributeValue> {
    item.into()
}
