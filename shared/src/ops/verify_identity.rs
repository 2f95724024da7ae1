//! Verifying a key that belongs to an identity (see `cache/identity.rs` for the design):
//! after the key's own read, a second round trip to the identity's hash slot checks that the
//! identity is not suspended and counts the request against the key's limits and the
//! identity's together. Everything else about the key is `verify.rs`'s.

use super::verify::{judged, uncounted, Found, When};
use crate::cache::{Cache, CacheError, Entry, IdentityEntry, IdentityRead};
use crate::domain::identity::IdentityId;
use crate::domain::key::KeyHash;
use crate::domain::limit::{count_to_store, usage, Counted};
use crate::domain::outcome::{
    IdentityDetails, KeyDetails, KeyInfo, Outcome, Source, Unavailable, Verification,
};
use crate::domain::record::Status;
use crate::store::Store;

/// An active key of an identity: the second round trip, to the identity's slot, counts the
/// request against the key's own limits and the identity's together (`cache/identity.rs`),
/// unless `ahead` holds that count already, made in the same round trip as the key's read
/// (`cache/ahead.rs`).
/// A rotated key in its grace period counts on its replacement's counters there, so the
/// pair shares one set. The identity is read from DynamoDB and cached on a miss; while
/// Redis cannot answer, DynamoDB still says whether it is suspended.
pub(super) async fn with_identity(
    store: &Store,
    cache: &Cache,
    (hash, entry, id): (&KeyHash, &Entry, &IdentityId),
    key: (KeyInfo, KeyDetails),
    source: Source,
    at: When,
    mut ahead: Option<Result<IdentityRead, CacheError>>,
) -> Found {
    let counters_of = entry.successor().unwrap_or(*hash);
    for _ in 0..2 {
        let read = match ahead.take() {
            Some(read) => read,
            None => {
                cache
                    .count_identity(hash, id, &counters_of, entry, at.first_use, at.cost, at.now)
                    .await
            }
        };
        match read {
            Ok(IdentityRead::Miss) => match store.get_identity_local(id).await {
                Ok(found) => {
                    if let Err(err) = cache.fill_identity(id, found.as_ref()).await {
                        tracing::warn!(error = %err, "identity cache fill failed");
                        break;
                    }
                }
                Err(err) => {
                    tracing::error!(error = %err, "DynamoDB request failed");
                    return Found::without_key(Outcome::Unavailable(Unavailable::Store), source);
                }
            },
            Ok(IdentityRead::Suspended(_)) => {
                return judged(
                    Status::Revoked,
                    key,
                    source,
                    at.first_use,
                    None,
                    at.cost,
                    at.now,
                )
            }
            Ok(IdentityRead::Unknown) => {
                // Deleted: the key counts as one without an identity, whose own limits
                // Redis did not count.
                let mut found = judged(
                    Status::Active,
                    key,
                    source,
                    at.first_use,
                    None,
                    at.cost,
                    at.now,
                );
                if !entry.limits().is_empty() || entry.q.is_some() {
                    uncounted(&mut found, cache);
                }
                return found;
            }
            Ok(IdentityRead::Counted {
                identity,
                key: own,
                shared,
                ..
            }) => {
                let counted = Counts {
                    owner: counters_of,
                    entry,
                    own: &own,
                    identity: &identity,
                    shared: &shared,
                };
                return judged_with_identity(key, source, counted, at);
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not count the request against the identity's limits");
                break;
            }
        }
    }
    identity_from_store(store, cache, id, key, source, at).await
}

/// A key of an identity while Redis cannot count: DynamoDB says whether the identity is
/// suspended; the limits go uncounted, as a key's own do then.
pub(super) async fn identity_from_store(
    store: &Store,
    cache: &Cache,
    id: &IdentityId,
    key: (KeyInfo, KeyDetails),
    source: Source,
    at: When,
) -> Found {
    match store.get_identity_local(id).await {
        Ok(Some(identity)) if identity.suspended => judged(
            Status::Revoked,
            key,
            source,
            at.first_use,
            None,
            at.cost,
            at.now,
        ),
        Ok(identity) => {
            let (mut info, details) = key;
            info.identity = identity.as_ref().map(|i| i.info());
            let mut found = judged(
                Status::Active,
                (info, details),
                source,
                at.first_use,
                None,
                at.cost,
                at.now,
            );
            uncounted(&mut found, cache);
            found
        }
        Err(err) => {
            tracing::error!(error = %err, "DynamoDB request failed");
            Found::without_key(Outcome::Unavailable(Unavailable::Store), source)
        }
    }
}

/// What `identity.lua` counted: the key's own counters (kept under `owner`'s hash) and the
/// identity's.
struct Counts<'a> {
    owner: KeyHash,
    entry: &'a Entry,
    own: &'a Counted,
    identity: &'a IdentityEntry,
    shared: &'a Counted,
}

/// The outcome for an active key of an active identity: it must pass its own limits and the
/// identity's.
fn judged_with_identity(
    (mut info, mut details): (KeyInfo, KeyDetails),
    source: Source,
    counts: Counts<'_>,
    at: When,
) -> Found {
    let identity_info = match counts.identity.info() {
        Ok(i) => i,
        Err(err) => {
            tracing::warn!(error = %err, "ignoring a malformed identity entry");
            return judged(
                Status::Active,
                (info, details),
                source,
                at.first_use,
                None,
                at.cost,
                at.now,
            );
        }
    };
    let (own_limits, own_quota) = (counts.entry.limits(), counts.entry.quota());
    let (limits, quota) = (counts.identity.limits(), counts.identity.quota());
    let own = usage(&own_limits, own_quota.as_ref(), counts.own, at.cost, at.now);
    let shared = usage(&limits, quota.as_ref(), counts.shared, at.cost, at.now);
    details.limits = own_limits;
    details.has_quota = own_quota.is_some();
    details.rates = own.rates.clone();
    details.quota_remaining = own.quota_remaining;
    details.identity = Some(IdentityDetails {
        info: identity_info.clone(),
        limits,
        has_quota: quota.is_some(),
        rates: shared.rates.clone(),
        quota_remaining: shared.quota_remaining,
    });
    info.identity = Some(identity_info.clone());
    let key_id = Some(info.id.clone());
    let own_count = count_to_store(own_quota.as_ref(), counts.own, at.first_use);
    let shared_count = count_to_store(quota.as_ref(), counts.shared, at.first_use);
    Found {
        verification: Verification {
            usage: None,
            outcome: Outcome::limited(info, own.and(shared)),
            key_id,
            source,
            details: Some(Box::new(details)),
        },
        active: true,
        first_use: at.first_use,
        quota: own_count.map(|q| (counts.owner, q)),
        identity_quota: shared_count.map(|q| (identity_info.id, q)),
    }
}
