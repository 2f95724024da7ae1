//! `leaks-refresh`: copies the public keys that sign leak reports
//! (`LEAK_PUBLIC_KEYS_URL`, GitHub's by default) into the table, for the `leaks` function.
//!
//! In AWS the functions that reach the cache run in a VPC with no route to the internet,
//! so `leaks` cannot fetch the keys itself. This function runs outside the VPC, on a
//! schedule, and may write one item of the table (`DOC#leak-public-keys`, by IAM
//! condition). It stores a document only once it has read it: a failed fetch or a bad
//! document leaves the last good copy in place. It asks with the last `ETag`, so an
//! unchanged document costs GitHub's rate limit nothing.

use chrono::{DateTime, Utc};
use keygate::config::ConfigError;
use keygate::store::{Document, Store, StoreError};
use leaks::public_keys::{DocumentError, FetchError, Fetched, Fetcher, KeySet, DOCUMENT};

/// `TABLE_NAME` and `LEAK_PUBLIC_KEYS_URL`, read once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshConfig {
    pub table_name: String,
    pub url: leaks::config::Url,
}

impl RefreshConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("TABLE_NAME")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or(ConfigError::Missing("TABLE_NAME"))?;
        Ok(Self {
            table_name,
            url: leaks::config::public_keys_url(&lookup)?,
        })
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// A new document, with this many usable keys, is in the table.
    Stored { keys: usize },
    /// The URL answered 304 to the stored `ETag`; the copy's check time moved on.
    Unchanged,
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One run: fetch (conditionally), check, store.
pub async fn refresh(
    store: &Store,
    fetcher: &Fetcher,
    now: DateTime<Utc>,
) -> Result<Refreshed, RefreshError> {
    let url = fetcher.url().as_str();
    let stored = store.document(DOCUMENT).await?.filter(|doc| doc.url == url);
    let etag = stored.as_ref().and_then(|doc| doc.etag.as_deref());
    match fetcher.fetch(etag).await? {
        Fetched::NotModified => {
            let doc = stored.expect("a 304 answers an ETag, which came from a stored copy");
            store
                .put_document(
                    DOCUMENT,
                    &Document {
                        checked_at: now,
                        ..doc
                    },
                )
                .await?;
            Ok(Refreshed::Unchanged)
        }
        Fetched::Body { text, etag } => {
            let keys = KeySet::parse(&text)?;
            store
                .put_document(
                    DOCUMENT,
                    &Document {
                        url: url.to_owned(),
                        body: text,
                        etag,
                        checked_at: now,
                    },
                )
                .await?;
            Ok(Refreshed::Stored { keys: keys.len() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The template's IAM condition names the one item this function writes.
    #[test]
    fn the_template_lets_it_write_its_item_and_no_other() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
        let template = std::fs::read_to_string(path).unwrap();
        let item = keygate::store::document_pk(DOCUMENT);
        assert!(
            template.contains(&format!("dynamodb:LeadingKeys: [\"{item}\"]")),
            "template.yaml must limit LeaksRefreshFunction to {item}"
        );
    }

    #[test]
    fn the_table_is_required_and_the_url_defaults_to_githubs() {
        let err = RefreshConfig::from_lookup(|_| None).unwrap_err();
        assert_eq!(err, ConfigError::Missing("TABLE_NAME"));
        let config =
            RefreshConfig::from_lookup(|name| (name == "TABLE_NAME").then(|| "t".to_owned()))
                .unwrap();
        assert_eq!(config.url.as_str(), leaks::config::GITHUB_PUBLIC_KEYS_URL);
        let err = RefreshConfig::from_lookup(|name| match name {
            "TABLE_NAME" => Some("t".to_owned()),
            "LEAK_PUBLIC_KEYS_URL" => Some("http://example.com/".to_owned()),
            _ => None,
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("LEAK_PUBLIC_KEYS_URL"), "{err}");
    }
}
