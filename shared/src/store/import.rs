//! Imported keys: written many to a transaction, each with its `import` event, never over
//! a key that is already there.

use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::codec::to_item;
use super::{Store, StoreError};
use crate::domain::audit::{Action, AuditEvent, Origin};
use crate::domain::key::KeyHash;
use crate::domain::record::KeyRecord;

/// Keys a transaction writes: DynamoDB takes 100 items, two a key.
pub const IMPORT_CHUNK: usize = 50;
const ATTEMPTS: u32 = 5;

impl Store {
    /// Writes these keys, each with its `import` event in the same transaction, on the
    /// condition that no item has its hash yet. Returns the positions (in `keys`) of those
    /// that were already present, which are left as they are; every other key is written.
    /// At most [`IMPORT_CHUNK`] keys, with distinct hashes.
    pub async fn import(
        &self,
        keys: &[(KeyHash, KeyRecord)],
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Vec<usize>, StoreError> {
        debug_assert!(keys.len() <= IMPORT_CHUNK);
        let mut present = Vec::new();
        let mut pending: Vec<usize> = (0..keys.len()).collect();
        let mut attempt = 1;
        while !pending.is_empty() {
            let mut items = Vec::with_capacity(pending.len() * 2);
            for &i in &pending {
                let (hash, record) = &keys[i];
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_item(hash, record)))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                items.push(TransactWriteItem::builder().put(put).build());
                items.push(self.put_event(&AuditEvent::new(
                    Action::Import,
                    &record.id,
                    origin,
                    now,
                ))?);
            }
            let err = match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => break,
                Err(err) => err,
            };
            let reasons = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                    e.cancellation_reasons().to_vec()
                }
                _ => return Err(err.into()),
            };
            // The reasons line up with the items: a key's put, then its event.
            let taken: Vec<usize> = pending
                .iter()
                .enumerate()
                .filter(|(n, _)| {
                    reasons
                        .get(n * 2)
                        .is_some_and(|r| r.code() == Some("ConditionalCheckFailed"))
                })
                .map(|(_, &i)| i)
                .collect();
            if taken.is_empty() {
                // Another transaction on one of these items: try again, shortly.
                if attempt == ATTEMPTS {
                    return Err(StoreError::Conflict);
                }
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                attempt += 1;
                continue;
            }
            pending.retain(|i| !taken.contains(i));
            present.extend(taken);
        }
        present.sort_unstable();
        Ok(present)
    }
}
