//! Verification: from a presented key to a verdict, with as little I/O as possible.
//!
//! A malformed key is rejected offline. Otherwise the cache answers (one Redis round trip),
//! and only on a miss, or while Redis is in trouble, does DynamoDB answer (one strongly
//! consistent GetItem), after which the cache is filled.

use chrono::{DateTime, Utc};

use crate::cache::{Cache, CacheError, Entry, Lookup, Read};
use crate::key::{ApiKey, KeyHash, KeyId};
use crate::record::{status_at, KeyRecord, State, Status};
use crate::scope::Scopes;
use crate::store::{Store, StoreError};

/// What a handler learns about the key that was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: KeyId,
    pub name: String,
    pub owner: Option<String>,
    pub scopes: Scopes,
}

/// Why a key was refused. Unknown and malformed keys share `Invalid`, so a caller cannot
/// tell a made-up key from one that never existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    Missing,
    Invalid,
    Revoked,
    Expired,
}

impl Denial {
    /// The public message, kept from the system Keygate replaces.
    pub fn message(self) -> &'static str {
        match self {
            Denial::Missing => "API Key is missing. Send it in the X-API-KEY header.",
            Denial::Invalid => "Invalid API Key.",
            Denial::Revoked => "API Key is not active or has been revoked.",
            Denial::Expired => "API Key has expired.",
        }
    }

    pub fn outcome(self) -> &'static str {
        match self {
            Denial::Missing => "missing",
            Denial::Invalid => "invalid",
            Denial::Revoked => "revoked",
            Denial::Expired => "expired",
        }
    }
}

/// Where a verdict came from, for logs, tests and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Rejected by the format check: no I/O at all.
    Format,
    Cache,
    /// Cache miss, then DynamoDB.
    Database,
    /// Redis failed or is being skipped, so DynamoDB answered alone.
    DatabaseWithoutCache,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub verdict: Result<KeyInfo, Denial>,
    /// The key's public id whenever the key exists, also when it is refused.
    pub key_id: Option<KeyId>,
    pub source: Source,
}

pub async fn verify(
    store: &Store,
    cache: &Cache,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<Verification, StoreError> {
    let Ok(key) = ApiKey::parse(raw) else {
        return Ok(Verification {
            verdict: Err(Denial::Invalid),
            key_id: None,
            source: Source::Format,
        });
    };
    let hash = key.hash();
    let (verification, first_use) = lookup(store, cache, &hash, now).await?;
    if first_use && verification.verdict.is_ok() {
        // Once per key per minute at most (the cache's marker says when): never a write
        // per request, and none at all while Redis is down.
        if let Err(err) = store.touch(&hash, now).await {
            tracing::warn!(error = %err, "could not record the key's last use");
        }
    }
    Ok(verification)
}

/// The verdict, from the cache or else from DynamoDB, and whether this is the key's first
/// use in the last-used window.
async fn lookup(
    store: &Store,
    cache: &Cache,
    hash: &KeyHash,
    now: DateTime<Utc>,
) -> Result<(Verification, bool), StoreError> {
    let (cache_works, first_use) = match cache.get(hash).await {
        Ok(Read {
            lookup: Lookup::Known(entry),
            first_use,
        }) => match judge_entry(&entry, now) {
            Ok(v) => return Ok((v, first_use)),
            Err(err) => {
                tracing::warn!(error = %err, "ignoring a malformed cache entry");
                (false, false)
            }
        },
        Ok(Read {
            lookup: Lookup::Unknown,
            ..
        }) => {
            let v = Verification {
                verdict: Err(Denial::Invalid),
                key_id: None,
                source: Source::Cache,
            };
            return Ok((v, false));
        }
        Ok(Read {
            lookup: Lookup::Miss,
            first_use,
        }) => (true, first_use),
        Err(CacheError::Skipped) => (false, false),
        Err(err) => {
            tracing::warn!(error = %err, "cache read failed; verifying from DynamoDB");
            (false, false)
        }
    };

    let record = store.get(hash).await?;
    if cache_works {
        if let Err(err) = cache.fill(hash, record.as_ref(), now).await {
            tracing::warn!(error = %err, "cache fill failed");
        }
    }
    let source = if cache_works {
        Source::Database
    } else {
        Source::DatabaseWithoutCache
    };
    let verification = match record {
        Some(r) => judge(&r, now, source),
        None => Verification {
            verdict: Err(Denial::Invalid),
            key_id: None,
            source,
        },
    };
    Ok((verification, first_use))
}

fn judge(r: &KeyRecord, now: DateTime<Utc>, source: Source) -> Verification {
    verdict(
        status_at(r.state, r.expires_at, now),
        KeyInfo {
            id: r.id.clone(),
            name: r.name.clone(),
            owner: r.owner.clone(),
            scopes: r.scopes.clone(),
        },
        source,
    )
}

fn judge_entry(e: &Entry, now: DateTime<Utc>) -> Result<Verification, CacheError> {
    let state: State = e.state()?;
    let info = KeyInfo {
        id: e.key_id()?,
        name: e.name.clone(),
        owner: e.ow.clone(),
        scopes: Scopes::from_stored(e.sc.clone()),
    };
    Ok(verdict(
        status_at(state, e.expires_at()?, now),
        info,
        Source::Cache,
    ))
}

fn verdict(status: Status, info: KeyInfo, source: Source) -> Verification {
    let key_id = Some(info.id.clone());
    let verdict = match status {
        Status::Active => Ok(info),
        Status::Revoked => Err(Denial::Revoked),
        Status::Expired => Err(Denial::Expired),
    };
    Verification {
        verdict,
        key_id,
        source,
    }
}
