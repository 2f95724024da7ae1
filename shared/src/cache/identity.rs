//! Identities in the cache: an identity's entry (its state, limits and quota), and the
//! second round trip a key of an identity takes, to the identity's hash slot, where
//! `identity.lua` counts the request against the key's own limits and the identity's in one
//! script. The key's own counters live in the identity's slot for that reason: a script may
//! only touch one slot, and the key's and the identity's counters must be decided together
//! (a request refused by one takes nothing from the other).
//!
//! An identity's entry is written by every change to the identity (suspend included) with
//! the same version-compare script as a key's, and filled with `SET NX` after a DynamoDB
//! read, so suspending an identity reaches every one of its keys on the very next request.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::entry::{limits_of_wire, quota_of_wire, wire_limits, wire_quota, WireLimit, WireQuota};
use super::entry::{Entry, UNKNOWN};
use super::scripts::{millis, parse_counted, parse_now, window_ms, IdentityNames, VerifyArgs};
use super::{Cache, CacheError, LAST_USED_WINDOW, QUOTA_COUNTER_TTL};
use crate::domain::identity::{Identity, IdentityId, IdentityInfo};
use crate::domain::key::KeyHash;
use crate::domain::limit::{Cost, Counted, Limits, Quota, QuotaCount};
use crate::domain::record::KeyRecord;

/// What verification needs to know about an identity, as cached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityEntry {
    pub id: String,
    /// `a` active, `s` suspended. First, so no field the script finds by pattern comes
    /// before it.
    pub st: char,
    pub v: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lm: Vec<WireLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<WireQuota>,
    /// The external id, and `meta` as JSON text: strings, so neither can forge a field the
    /// script finds by pattern (see `Entry::mt`). Last for the same reason.
    pub x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mt: Option<String>,
}

impl IdentityEntry {
    pub fn from_identity(identity: &Identity) -> Self {
        let info = identity.info();
        Self {
            id: identity.id.as_str().to_owned(),
            st: if identity.suspended { 's' } else { 'a' },
            v: identity.version,
            lm: wire_limits(&identity.limits),
            q: identity.quota.as_ref().map(wire_quota),
            x: info.external_id,
            mt: info.meta,
        }
    }

    pub fn info(&self) -> Result<IdentityInfo, CacheError> {
        Ok(IdentityInfo {
            id: IdentityId::parse(&self.id)
                .ok_or_else(|| CacheError::Corrupt("bad identity id".to_owned()))?,
            external_id: self.x.clone(),
            meta: self.mt.clone(),
        })
    }

    pub fn limits(&self) -> Limits {
        limits_of_wire(&self.lm)
    }

    pub fn quota(&self) -> Option<Quota> {
        self.q.as_ref().map(quota_of_wire)
    }
}

/// What the identity's round trip found.
#[derive(Debug, PartialEq, Eq)]
pub enum IdentityRead {
    /// Not cached: read it from DynamoDB, fill, and ask again.
    Miss,
    /// Known not to exist (deleted).
    Unknown,
    /// Suspended: nothing was counted.
    Suspended(Box<IdentityEntry>),
    /// Active, and the request counted (or refused) against the key's own limits and the
    /// identity's, all or nothing.
    Counted {
        identity: Box<IdentityEntry>,
        key: Counted,
        shared: Counted,
        /// Redis's clock when it counted, in ms: the windows counted in.
        now_ms: u64,
    },
}

impl Cache {
    /// The Redis key of an identity's entry, in its own hash slot.
    pub fn identity_key(&self, id: &IdentityId) -> String {
        self.name("identity", id.as_str())
    }

    /// The names `identity.lua` touches: the identity's, and the counters of the key with
    /// this hash kept beside them (a rotated key in its grace period passes its
    /// replacement's hash, so the pair shares one set of counters).
    pub(super) fn identity_names(&self, id: &IdentityId, counters_of: &KeyHash) -> IdentityNames {
        let key = |kind: &str| {
            let mut name = self.name(kind, id.as_str());
            name.push(':');
            name.push_str(&counters_of.to_hex());
            name
        };
        IdentityNames {
            entry: self.name("identity", id.as_str()),
            limits: self.name("limits", id.as_str()),
            quota: self.name("quota", id.as_str()),
            key_limits: key("klimits"),
            key_quota: key("kquota"),
        }
    }

    /// The second round trip of a key of an identity: see the module's docs. `touch` is the
    /// key's first use in its last-used window (its quota counters' expiry is pushed out).
    /// Once counted, this instance counts the key's next requests in the same round trip
    /// as their read (`cache/ahead.rs`).
    #[allow(clippy::too_many_arguments)]
    pub async fn count_identity(
        &self,
        hash: &KeyHash,
        id: &IdentityId,
        counters_of: &KeyHash,
        key: &Entry,
        touch: bool,
        cost: Cost,
        now: DateTime<Utc>,
    ) -> Result<IdentityRead, CacheError> {
        let counters = key.counters_text();
        let read = self
            .count_with_identity(id, counters_of, &counters, &key.limits(), touch, cost, now)
            .await;
        if let Ok(IdentityRead::Counted { .. }) = &read {
            self.members
                .remember(*hash, id.clone(), *counters_of, key.clone(), counters);
        }
        read
    }

    /// `identity.lua`, for a key whose limits and quota are `counters` (the entry's wire
    /// form; `key_limits` the same, parsed).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn count_with_identity(
        &self,
        id: &IdentityId,
        counters_of: &KeyHash,
        counters: &str,
        key_limits: &Limits,
        touch: bool,
        cost: Cost,
        now: DateTime<Utc>,
    ) -> Result<IdentityRead, CacheError> {
        let names = self.identity_names(id, counters_of);
        let args = VerifyArgs {
            used_window: LAST_USED_WINDOW,
            now,
            quota_counter_ttl: QUOTA_COUNTER_TTL,
            mark: touch,
            own_counters: false,
            cost,
            usage: None,
        };
        let reply: Vec<redis::Value> = self
            .link
            .call(false, |mut conn| {
                let call = self.scripts.identity(&names, counters, &args);
                async move { call.invoke_async(&mut conn).await }
            })
            .await?;
        parse_identity_read(reply, key_limits)
    }

    /// Caches what a DynamoDB read found about an identity, unless an entry is there (a
    /// change's write always wins over a fill, as for keys).
    pub async fn fill_identity(
        &self,
        id: &IdentityId,
        identity: Option<&Identity>,
    ) -> Result<(), CacheError> {
        let (value, ttl) = match identity {
            Some(i) => (identity_bytes(i), self.settings.ttl),
            None => (UNKNOWN.to_vec(), self.settings.negative_ttl),
        };
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.identity_key(id))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl));
        let cmd = &cmd;
        let _: Option<String> = self
            .link
            .call(
                false,
                |mut conn| async move { cmd.query_async(&mut conn).await },
            )
            .await?;
        Ok(())
    }

    /// Writes the entry of an identity that was just changed (or deleted: `None`), as a
    /// key's change is written (`Cache::replace`).
    pub async fn replace_identity(
        &self,
        id: &IdentityId,
        identity: Option<&Identity>,
    ) -> Result<(), CacheError> {
        let key = self.identity_key(id);
        match identity {
            Some(i) => self
                .write_versioned(&key, identity_bytes(i), i.version, self.settings.ttl, false)
                .await
                .map(|_| ()),
            None => self.delete_entry(&key).await,
        }
    }

    /// An identity's change replicated from another region (`ops/sync.rs`), written as
    /// [`Cache::sync`] writes a key's: a suspend always (every key of the identity must be
    /// refused from its next request), any other change only over an entry that is there.
    /// Returns whether it wrote.
    pub async fn sync_identity(&self, identity: &Identity) -> Result<bool, CacheError> {
        self.write_versioned(
            &self.identity_key(&identity.id),
            identity_bytes(identity),
            identity.version,
            self.settings.ttl,
            !identity.suspended,
        )
        .await
    }

    /// The identity's live quota count, as [`Cache::live_quota`] for a key.
    pub async fn live_identity_quota(&self, id: &IdentityId, quota: &Quota) -> Option<QuotaCount> {
        self.live_count(self.name("quota", id.as_str()), quota)
            .await
    }

    /// The live count of a key's own quota: beside its identity's counters when it has
    /// one, else in its own slot.
    pub async fn live_key_quota(&self, hash: &KeyHash, record: &KeyRecord) -> Option<QuotaCount> {
        let quota = record.quota.as_ref()?;
        match &record.identity_id {
            Some(id) => {
                self.live_count(self.identity_names(id, hash).key_quota, quota)
                    .await
            }
            None => self.live_quota(hash, quota).await,
        }
    }

    /// The names of the rate windows of the key with this hash: beside its identity's
    /// counters when it has one.
    pub(super) fn key_windows(&self, hash: &KeyHash, identity: Option<&IdentityId>) -> String {
        match identity {
            Some(id) => self.identity_names(id, hash).key_limits,
            None => self.counter_keys(hash).0,
        }
    }
}

fn identity_bytes(identity: &Identity) -> Vec<u8> {
    serde_json::to_vec(&IdentityEntry::from_identity(identity))
        .expect("an identity entry always serializes")
}

fn parse_identity_read(
    reply: Vec<redis::Value>,
    key_limits: &Limits,
) -> Result<IdentityRead, CacheError> {
    use redis::FromRedisValue;
    let corrupt = |what: &str| CacheError::Corrupt(format!("identity script returned {what}"));
    let status = reply
        .first()
        .map(i64::from_redis_value_ref)
        .transpose()
        .map_err(|_| corrupt("a bad status"))?
        .ok_or_else(|| corrupt("nothing"))?;
    let entry = || -> Result<Box<IdentityEntry>, CacheError> {
        let bytes = reply
            .get(1)
            .map(Vec::<u8>::from_redis_value_ref)
            .transpose()
            .map_err(|_| corrupt("a bad entry"))?
            .ok_or_else(|| corrupt("no entry"))?;
        serde_json::from_slice(&bytes).map_err(|e| CacheError::Corrupt(e.to_string()))
    };
    match status {
        1 => Ok(IdentityRead::Miss),
        3 => Ok(IdentityRead::Unknown),
        2 => Ok(IdentityRead::Suspended(entry()?)),
        0 => {
            let identity = entry()?;
            let now = parse_now(reply.get(2).ok_or_else(|| corrupt("no time"))?)?;
            let (key, rest) = parse_counted(now, &reply[3..], &window_ms(key_limits))?;
            let (shared, rest) = parse_counted(now, rest, &window_ms(&identity.limits()))?;
            if !rest.is_empty() {
                return Err(corrupt("more counts than limits"));
            }
            Ok(IdentityRead::Counted {
                identity,
                key,
                shared,
                now_ms: now,
            })
        }
        _ => Err(corrupt("an unknown status")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn an_identitys_strings_cannot_forge_the_fields_the_script_finds() {
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let forged: Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"st":"a","lm":[[1,1,"x"]],"q":[1,0,0,0,""]}"#).unwrap();
        let identity = Identity {
            id: IdentityId::generate().unwrap(),
            external_id: r#"x","st":"a","lm":[[1,1,"x"]]"#.to_owned(),
            meta: Some(forged),
            limits: Limits::default(),
            quota: None,
            suspended: true,
            created_at: now,
            updated_at: now,
            version: 3,
        };
        let text = String::from_utf8(identity_bytes(&identity)).unwrap();
        for pattern in [r#""st":"a""#, r#""lm":["#, r#""q":["#] {
            assert!(!text.contains(pattern), "{pattern} in {text}");
        }
        let back: IdentityEntry = serde_json::from_str(&text).unwrap();
        assert_eq!(back, IdentityEntry::from_identity(&identity));
        assert_eq!(back.info().unwrap(), identity.info());
    }
}
