//! The public keys leak reports are signed with: GitHub publishes them as
//! `{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}`.
//!
//! Each instance loads the document on its first report and keeps it for [`MAX_AGE`]. A
//! report signed with a key identifier the copy does not hold makes it load the document
//! again, at most once per [`MIN_REFRESH_INTERVAL`] (so made-up identifiers cannot turn
//! every request into a fetch), since GitHub adds a key before it signs with it. Every key
//! listed is accepted, current or not, as GitHub's own samples do.
//!
//! The document comes from [`Source::Url`] (fetched directly) or [`Source::Table`] (the
//! copy `leaks-refresh` keeps in the table, for a function with no internet).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use keygate::store::Store;
use p256::ecdsa::VerifyingKey;
use p256::pkcs8::DecodePublicKey;
use reqwest::header::{ETAG, IF_NONE_MATCH};
use reqwest::{StatusCode, Url};
use serde::Deserialize;

/// The table item (`DOC#leak-public-keys`) `leaks-refresh` writes and `leaks` reads.
pub const DOCUMENT: &str = "leak-public-keys";
/// How long an instance trusts its copy before loading the document again.
pub const MAX_AGE: Duration = Duration::from_secs(10 * 60);
/// The least time between two loads caused by unknown key identifiers.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// GitHub's document is about 2 KB; anything near this is not it.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// A copy in the table older than this is used, with a warning in the log.
const TABLE_COPY_WARN_AGE: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// Why a document was refused.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("the public keys document is not the expected JSON: {0}")]
    Json(String),
    #[error("the public keys document holds no usable ECDSA P-256 key")]
    NoUsableKey,
}

/// The keys of one document, by identifier.
#[derive(Debug, Clone, Default)]
pub struct KeySet(HashMap<String, VerifyingKey>);

#[derive(Deserialize)]
struct DocumentJson {
    public_keys: Vec<EntryJson>,
}

#[derive(Deserialize)]
struct EntryJson {
    key_identifier: String,
    key: String,
}

impl KeySet {
    /// Reads a document. A key that is not a P-256 public key in PEM is skipped with a
    /// warning (a signer may add another kind one day); a document with none is refused.
    pub fn parse(text: &str) -> Result<Self, DocumentError> {
        let doc: DocumentJson =
            serde_json::from_str(text).map_err(|e| DocumentError::Json(e.to_string()))?;
        let mut keys = HashMap::new();
        for entry in doc.public_keys {
            match VerifyingKey::from_public_key_pem(entry.key.trim()) {
                Ok(key) => {
                    keys.insert(entry.key_identifier, key);
                }
                Err(err) => tracing::warn!(
                    key_identifier = entry.key_identifier,
                    error = %err,
                    "skipping a public key that is not ECDSA P-256 in PEM"
                ),
            }
        }
        if keys.is_empty() {
            return Err(DocumentError::NoUsableKey);
        }
        Ok(Self(keys))
    }

    pub fn get(&self, key_identifier: &str) -> Option<&VerifyingKey> {
        self.0.get(key_identifier)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("fetching {url} failed: {source}")]
    Http {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}")]
    Status { url: Url, status: StatusCode },
    #[error("{url} answered with more than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge { url: Url },
    #[error("{url} answered with a body that is not UTF-8")]
    NotText { url: Url },
}

/// What a fetch brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Body {
        text: String,
        etag: Option<String>,
    },
    /// 304: unchanged since the `ETag` sent.
    NotModified,
}

/// Fetches the public keys document over HTTPS.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    url: Url,
}

impl Fetcher {
    /// A client with short timeouts and no redirects (the URL must answer itself).
    pub fn new(url: Url) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("keygate-leaks/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { client, url })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// GETs the document; with `etag`, conditionally (GitHub does not count a 304 against
    /// its rate limit).
    pub async fn fetch(&self, etag: Option<&str>) -> Result<Fetched, FetchError> {
        let url = || self.url.clone();
        let http = |source| FetchError::Http { url: url(), source };
        let mut request = self
            .client
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let mut response = request.send().await.map_err(http)?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_MODIFIED if etag.is_some() => return Ok(Fetched::NotModified),
            status => return Err(FetchError::Status { url: url(), status }),
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(FetchError::TooLarge { url: url() });
        }
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::TooLarge { url: url() });
            }
        }
        let text = String::from_utf8(body).map_err(|_| FetchError::NotText { url: url() })?;
        Ok(Fetched::Body { text, etag })
    }
}

/// Where an instance loads the document from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Fetched directly.
    Url(Fetcher),
    /// The copy of `url`'s document that `leaks-refresh` keeps in the table.
    Table { store: Store, url: Url },
}

impl Source {
    async fn load(&self) -> Result<KeySet, String> {
        match self {
            Source::Url(fetcher) => match fetcher.fetch(None).await {
                Ok(Fetched::Body { text, .. }) => KeySet::parse(&text).map_err(|e| e.to_string()),
                Ok(Fetched::NotModified) => Err("unexpected 304 to an unconditional GET".into()),
                Err(err) => Err(err.to_string()),
            },
            Source::Table { store, url } => {
                let doc = store
                    .document(DOCUMENT)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or(
                        "the public keys are not in the table yet: leaks-refresh stores them \
                         on its first run (invoke it once after a first deploy)",
                    )?;
                if doc.url != url.as_str() {
                    return Err(format!(
                        "the table holds the public keys of {}, not of LEAK_PUBLIC_KEYS_URL \
                         ({url}): leaks-refresh has not run since the URL changed",
                        doc.url
                    ));
                }
                if Utc::now() - doc.checked_at > TABLE_COPY_WARN_AGE {
                    tracing::warn!(
                        checked_at = %doc.checked_at,
                        "the public keys in the table were last checked over a day ago: is leaks-refresh failing?"
                    );
                }
                KeySet::parse(&doc.body).map_err(|e| e.to_string())
            }
        }
    }
}

/// Why no key could be found for an identifier.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The document, loaded again, does not list it.
    #[error("no public key has this identifier")]
    Unknown,
    /// The document could not be loaded.
    #[error("the public keys could not be loaded: {0}")]
    Unavailable(String),
}

#[derive(Default)]
struct Cached {
    keys: Option<(Arc<KeySet>, Instant)>,
    /// The last load caused by an unknown identifier.
    last_refresh: Option<Instant>,
}

/// An instance's copy of the public keys.
pub struct PublicKeys {
    source: Source,
    min_refresh_interval: Duration,
    cached: tokio::sync::Mutex<Cached>,
}

impl PublicKeys {
    pub fn new(source: Source) -> Self {
        Self {
            source,
            min_refresh_interval: MIN_REFRESH_INTERVAL,
            cached: tokio::sync::Mutex::new(Cached::default()),
        }
    }

    /// With another least time between two loads for unknown identifiers (tests).
    pub fn with_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// The key `key_identifier` names, loading the document when the copy is missing, old,
    /// or does not list it. One load at a time per instance.
    pub async fn key(&self, key_identifier: &str) -> Result<VerifyingKey, KeysError> {
        let mut cached = self.cached.lock().await;
        let stale = cached
            .keys
            .as_ref()
            .is_none_or(|(_, at)| at.elapsed() >= MAX_AGE);
        let mut just_loaded = false;
        if stale {
            match self.source.load().await {
                Ok(keys) => {
                    cached.keys = Some((Arc::new(keys), Instant::now()));
                    just_loaded = true;
                }
                // An old copy beats none: GitHub rarely changes its keys.
                Err(err) if cached.keys.is_some() => tracing::warn!(
                    error = %err,
                    "the public keys could not be loaded again; using the earlier copy"
                ),
                Err(err) => return Err(KeysError::Unavailable(err)),
            }
        }
        let find = |cached: &Cached| {
            cached
                .keys
                .as_ref()
                .and_then(|(keys, _)| keys.get(key_identifier).copied())
        };
        if let Some(key) = find(&cached) {
            return Ok(key);
        }
        let refreshed_lately = cached
            .last_refresh
            .is_some_and(|at| at.elapsed() < self.min_refresh_interval);
        if just_loaded || refreshed_lately {
            return Err(KeysError::Unknown);
        }
        cached.last_refresh = Some(Instant::now());
        let keys = self.source.load().await.map_err(KeysError::Unavailable)?;
        cached.keys = Some((Arc::new(keys), Instant::now()));
        find(&cached).ok_or(KeysError::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8410's example Ed25519 public key: valid PEM, not P-256.
    const ED25519_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----";

    fn p256_pem() -> String {
        use p256::pkcs8::{EncodePublicKey, LineEnding};
        let signing = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    }

    fn doc(entries: &[(&str, &str)]) -> String {
        let keys: Vec<_> = entries
            .iter()
            .map(|(id, pem)| serde_json::json!({"key_identifier": id, "key": pem, "is_current": true}))
            .collect();
        serde_json::json!({ "public_keys": keys }).to_string()
    }

    #[test]
    fn a_document_gives_its_p256_keys_by_identifier() {
        let pem = p256_pem();
        let keys = KeySet::parse(&doc(&[("a", &pem), ("b", ED25519_PEM)])).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys.get("a").is_some());
        assert!(keys.get("b").is_none(), "an Ed25519 key is skipped");
    }

    #[test]
    fn a_document_without_a_usable_key_is_refused() {
        for text in [
            "",
            "[]",
            r#"{"public_keys": []}"#,
            r#"{"public_keys": [{"key_identifier": "a"}]}"#,
            &doc(&[("a", "not a key")]),
            &doc(&[("b", ED25519_PEM)]),
        ] {
            assert!(KeySet::parse(text).is_err(), "{text}");
        }
    }
}
