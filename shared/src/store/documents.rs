//! Small documents fetched from the internet and kept in the table for the functions that
//! cannot fetch them themselves: the functions that reach the cache run in a VPC with no
//! route out. Today there is one, the public keys GitHub signs leak reports with, written by
//! `functions/leaks-refresh` (outside the VPC) and read by `functions/leaks`.
//!
//! A document's item is `pk = "DOC#<name>"`, `kind = "document"`, with no `created_at`, so
//! no index ever lists it.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::codec::{parse_time, s};
use super::{Store, StoreError};
use crate::domain::time::timestamp;

const KIND_DOCUMENT: &str = "document";

/// A fetched document as it was served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Where it was fetched from.
    pub url: String,
    /// The body, as served.
    pub body: String,
    /// The server's `ETag`, for a conditional request next time.
    pub etag: Option<String>,
    /// When the URL last answered with this body (200, or 304 to its `ETag`).
    pub checked_at: DateTime<Utc>,
}

impl Store {
    /// Replaces the document `name`.
    pub async fn put_document(&self, name: &str, doc: &Document) -> Result<(), StoreError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&document_pk(name)))
            .item("kind", s(KIND_DOCUMENT))
            .item("url", s(&doc.url))
            .item("body", s(&doc.body))
            .item("checked_at", s(&timestamp(doc.checked_at)));
        if let Some(etag) = &doc.etag {
            request = request.item("etag", s(etag));
        }
        request.send().await?;
        Ok(())
    }

    /// The document `name`, if it was ever stored (strongly consistent).
    pub async fn document(&self, name: &str) -> Result<Option<Document>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&document_pk(name)))
            .consistent_read(true)
            .send()
            .await?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            _ => Err(StoreError::Corrupt(format!(
                "document attribute `{name}` is malformed"
            ))),
        };
        Ok(Some(Document {
            url: text("url")?,
            body: text("body")?,
            etag: text("etag").ok(),
            checked_at: parse_time("checked_at", &text("checked_at")?)?,
        }))
    }
}

/// The partition key of the document `name`; `pk` is also what an IAM policy's
/// `dynamodb:LeadingKeys` condition names, to let a function write this one item only.
pub fn document_pk(name: &str) -> String {
    format!("DOC#{name}")
}
