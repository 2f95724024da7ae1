//! Counting a key of an identity in the same round trip as its read.
//!
//! A key of an identity is counted in its identity's hash slot (`identity.rs`), which the
//! key's read cannot reach in one script: read first and count second is two round trips.
//! An instance that has counted a key remembers which identity it belongs to and what its
//! own limits were, and from then on sends the count along with the read: two scripts, one
//! to each slot, in flight together on the one connection (in a cluster, to the two slots'
//! nodes at once).
//!
//! The read stays the judge. When it shows the key as remembered (the same identity, the
//! same counters, the same own limits and quota, active and unexpired), the count stands:
//! it is exactly what the second round trip would have done. When it does not (the key was
//! revoked, expired, rotated, changed or moved since, or its entry is gone), what was
//! counted is given back (`uncount.lua`) before the request is judged afresh, and the
//! instance forgets the key. In between, the count may get a concurrent request of the
//! same identity refused that would have passed, never the other way round: a burst still
//! gets no more than its limits allow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::entry::{Entry, Lookup, Read};
use super::identity::{IdentityEntry, IdentityRead};
use super::scripts::GiveBack;
use super::{Cache, CacheError, LAST_USED_WINDOW};
use crate::domain::identity::IdentityId;
use crate::domain::key::KeyHash;
use crate::domain::limit::{usage, Cost, Counted, Limits};
use crate::domain::record::{status_at, Status};

/// How many keys of identities an instance remembers; past it, it starts over (a key it
/// forgot costs one second round trip until it is counted again).
const CAPACITY: usize = 4096;

/// What an instance last counted of a key of an identity.
pub(super) struct Member {
    identity: IdentityId,
    /// Whose counters the key uses: its own hash, or its replacement's in a grace period.
    counters_of: KeyHash,
    /// The key's entry as counted: its own limits and quota.
    entry: Entry,
    limits: Limits,
    /// `entry`'s limits and quota in the wire form `identity.lua` reads.
    counters: String,
}

impl Member {
    /// Whether `entry`, just read, is the key as it was counted, still active.
    fn describes(&self, hash: &KeyHash, entry: &Entry, now: DateTime<Utc>) -> bool {
        let active = match (entry.state(), entry.expires_at()) {
            (Ok(state), Ok(exp)) => status_at(state, exp, now) == Status::Active,
            _ => false,
        };
        active
            && entry.identity_id().as_ref() == Some(&self.identity)
            && entry.successor().unwrap_or(*hash) == self.counters_of
            && (&entry.lm, entry.rl, &entry.q) == (&self.entry.lm, self.entry.rl, &self.entry.q)
    }

    /// Whether `identity.lua` took `cost` from the counters: it did unless a limit or a
    /// quota refused the request (the same decision, in the same integers, as the script's).
    fn took(
        &self,
        identity: &IdentityEntry,
        (key, shared): (&Counted, &Counted),
        cost: Cost,
        now: DateTime<Utc>,
    ) -> bool {
        if cost.get() == 0 {
            return false;
        }
        let own = usage(&self.limits, self.entry.quota().as_ref(), key, cost, now);
        let of_identity = usage(
            &identity.limits(),
            identity.quota().as_ref(),
            shared,
            cost,
            now,
        );
        own.and(of_identity).refusal.is_none()
    }
}

/// The keys of identities an instance has counted, each with when it last pushed the quota
/// counters' expiry out.
#[derive(Default)]
pub(super) struct Members(Mutex<HashMap<KeyHash, (Arc<Member>, Instant)>>);

impl Members {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<KeyHash, (Arc<Member>, Instant)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn remember(
        &self,
        hash: KeyHash,
        identity: IdentityId,
        counters_of: KeyHash,
        entry: Entry,
        counters: String,
    ) {
        let limits = entry.limits();
        let member = Member {
            identity,
            counters_of,
            entry,
            limits,
            counters,
        };
        let mut map = self.map();
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(hash, (Arc::new(member), Instant::now()));
    }

    /// The key's member, and whether to push its quota counters' expiry out with this count
    /// (once per last-used window per instance: the read's marker, which says when, comes
    /// back only with the read).
    fn get(&self, hash: &KeyHash) -> Option<(Arc<Member>, bool)> {
        let mut map = self.map();
        let (member, touched) = map.get_mut(hash)?;
        let touch = touched.elapsed() >= LAST_USED_WINDOW;
        if touch {
            *touched = Instant::now();
        }
        Some((member.clone(), touch))
    }

    fn forget(&self, hash: &KeyHash) {
        self.map().remove(hash);
    }
}

/// A verification's read ([`Cache::verify_read`]) and, for a key this instance has counted
/// with its identity before, the identity's count made in the same round trip: `Some` only
/// when the read shows the key as it was counted, so that the count stands.
pub struct ReadAhead {
    pub read: Result<Read, CacheError>,
    pub identity: Option<Result<IdentityRead, CacheError>>,
}

impl Cache {
    /// [`Cache::verify_read`], with a key of an identity counted in the same round trip
    /// when this instance knows it (see the module's docs).
    pub async fn verify_read_ahead(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
        cost: Cost,
        count_use: bool,
    ) -> ReadAhead {
        let Some((member, touch)) = self.members.get(hash) else {
            return ReadAhead {
                read: self.verify_read(hash, now, cost, count_use).await,
                identity: None,
            };
        };
        let (read, counted) = futures_util::future::join(
            self.verify_read(hash, now, cost, count_use),
            self.count_with_identity(
                &member.identity,
                &member.counters_of,
                &member.counters,
                &member.limits,
                touch,
                cost,
                now,
            ),
        )
        .await;
        if let Ok(Read {
            lookup: Lookup::Known(entry),
            ..
        }) = &read
        {
            if member.describes(hash, entry, now) {
                return ReadAhead {
                    read,
                    identity: Some(counted),
                };
            }
        }
        self.members.forget(hash);
        if let Ok(IdentityRead::Counted {
            identity,
            key,
            shared,
            now_ms,
        }) = &counted
        {
            if member.took(identity, (key, shared), cost, now) {
                let counts = (key, shared);
                self.give_back(&member, identity, counts, *now_ms, cost)
                    .await;
            }
        }
        ReadAhead {
            read,
            identity: None,
        }
    }

    /// Takes back one request's count by `identity.lua` (`uncount.lua`). A failure leaves
    /// the count in place: the identity is then short of that much until its windows move
    /// on (or its quota refills), which errs on the side of refusing.
    async fn give_back<'a>(
        &self,
        member: &Member,
        identity: &IdentityEntry,
        (key, shared): (&'a Counted, &'a Counted),
        now_ms: u64,
        cost: Cost,
    ) {
        let names = self.identity_names(&member.identity, &member.counters_of);
        let identity_entry =
            serde_json::to_string(identity).expect("an identity entry always serializes");
        let period = |c: &'a Counted| c.quota.as_ref().map_or("", |q| q.period.as_str());
        let (key_period, identity_period) = (period(key), period(shared));
        let given_back = GiveBack {
            cost,
            now_ms,
            key_counters: &member.counters,
            identity_entry: &identity_entry,
            key_period,
            identity_period,
        };
        let result: Result<i64, CacheError> = self
            .link
            .call(false, |mut conn| {
                let call = self.scripts.uncount(&names, &given_back);
                async move { call.invoke_async(&mut conn).await }
            })
            .await;
        if let Err(err) = result {
            tracing::warn!(error = %err, "could not give back a count made ahead for a key that had changed");
        }
    }

    /// Whether this instance counts the key with this hash with its identity in the same
    /// round trip as its read.
    pub fn counts_ahead(&self, hash: &KeyHash) -> bool {
        self.members.map().contains_key(hash)
    }
}
