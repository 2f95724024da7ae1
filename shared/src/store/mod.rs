//! DynamoDB, the source of truth.
//!
//! | file         | job                                                             |
//! |--------------|-----------------------------------------------------------------|
//! | `keys.rs`    | key writes and the verify path's read                           |
//! | `audit.rs`   | audit events: the transaction item, and reading them back       |
//! | `listing.rs` | finding keys by id and listing them for people                  |
//! | `codec.rs`   | records and events to DynamoDB items and back                   |
//! | `documents.rs` | documents fetched for functions without internet (`DOC#<name>`) |
//! | `schema.rs`  | the table's indexes, and creating it locally                    |
//! | `stream.rs`  | the table's stream records: which are keys, and their records   |
//! | `identities.rs` | identities: their items, writes, lists and keys              |
//! | `import.rs`  | imported keys, many to a transaction                            |
//! | `legacy.rs`  | whether keys in the old system's format are looked up           |
//! | `usage.rs`   | usage counts per key, identity, owner and in total, by hour and day |
//!
//! One table, partition key `pk`. A key's item is `pk = "KEY#<sha256 hex>"`, so the verify
//! path's cache miss is a single strongly consistent GetItem. Two indexes serve people, not
//! the hot path: `by_id` (KEYS_ONLY) finds a key's item from its public id, and
//! `by_created` (`kind`, `created_at`) lists keys newest first.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::Client;
use std::sync::Arc;

mod audit;
mod codec;
mod documents;
mod identities;
mod import;
mod keys;
mod legacy;
mod listing;
pub mod schema;
pub mod stream;
mod usage;

pub use documents::{document_pk, Document};
pub use identities::{IdentityCursor, IdentityPage, IdentityWriteError};
pub use import::IMPORT_CHUNK;
pub use keys::Rotation;
pub use legacy::RECHECK as LEGACY_RECHECK;
pub use schema::create_table;
pub use usage::{FoldTarget, FoldWrite};

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

/// The table, through the home region's client: every write, and every read that decides
/// a write, goes there. Across regions (`HOME_REGION`), the verify path's one read on a
/// cache miss goes to the region's own replica instead ([`Store::get_local`]).
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    /// The region's own replica, when the home region is another one.
    local: Option<Client>,
    table: String,
    /// This instance's view of whether legacy keys are looked up (`legacy.rs`).
    legacy: Arc<legacy::LegacyGate>,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            local: None,
            table: table.into(),
            legacy: Arc::default(),
        }
    }

    /// Looks legacy keys up as `LEGACY_KEYS` says (the default: once a key was imported).
    pub fn with_legacy_keys(mut self, mode: crate::domain::legacy::LegacyKeys) -> Self {
        self.legacy = Arc::new(legacy::LegacyGate::new(mode));
        self
    }

    /// Reads on the verify path from `local`, this region's replica, while everything
    /// else keeps going to the home region: global tables settle two regions' writes to an
    /// item by last writer wins, so only writes made in one region can be conditioned on
    /// each other, and a revoke is never lost to a write made elsewhere.
    pub fn with_local_replica(mut self, local: Client) -> Self {
        self.local = Some(local);
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
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
                        // A condition that failed, or a transaction that ran into another
                        // one on the same item: either way, read again and retry.
                        .any(|r| {
                            matches!(
                                r.code(),
                                Some("ConditionalCheckFailed" | "TransactionConflict")
                            )
                        }),
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
}
