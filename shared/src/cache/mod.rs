//! Redis, the read-through cache in front of DynamoDB.
//!
//! An entry is keyed by the key's hash and holds what verification needs (id, name, state,
//! expiry), so a cache hit is one GET and no database read. Unknown hashes get a short
//! negative entry, so a flood of made-up (but well-formed) keys does not reach DynamoDB.
//!
//! Revocation is immediate because of two rules:
//! 1. A *fill* after a database read uses `SET NX`: it can only create an entry, never
//!    replace one.
//! 2. A *change* (revoke) overwrites the entry with plain `SET` after the database write.
//!
//! So a verification that read "active" just before a revoke and fills just after it finds
//! the revoked entry already there, and its fill is a no-op: a fill can never resurrect a
//! revoked key. Changes write entries with the full TTL, far longer than the gap between a
//! read and its fill.
//!
//! | file                  | job                                                  |
//! |-----------------------|------------------------------------------------------|
//! | `mod.rs`              | the cache's operations, as verification and changes use them |
//! | `entry.rs`            | the entry's wire format, and what a read found       |
//! | `scripts.rs`          | the Lua scripts' arguments and replies               |
//! | `verify.lua`, `replace_if_newer.lua` | the scripts themselves                |
//! | `identity.rs`         | identities' entries, and a key's round trip to its identity |
//! | `ahead.rs`, `uncount.lua` | a known key of an identity counted with its read, in one round trip |
//! | `counters.lua`, `identity.lua` | counting, and counting a key with its identity |
//! | `link.rs`             | the connection, and the back-off after a failure     |
//! | `memo.rs`             | the keys last seen without limits                    |
//! | `usage.rs`, `take_usage.lua`, `release_usage.lua` | usage counts, and taking them for a fold |
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::CacheSettings;
use crate::domain::identity::IdentityId;
use crate::domain::key::KeyHash;
use crate::domain::limit::{Cost, Counted, Quota, QuotaCount};
use crate::domain::record::{KeyRecord, State};
use crate::domain::usage::{Hour, Tally};

mod ahead;
mod entry;
mod identity;
mod link;
mod memo;
mod scripts;
mod usage;

use ahead::Members;
pub use ahead::ReadAhead;
use entry::{entry_bytes, lookup_of, UNKNOWN};
pub use entry::{entry_ttl, Entry, Lookup, Read};
pub use identity::{IdentityEntry, IdentityRead};
use link::Link;
use memo::Unlimited;
use scripts::{millis, parse_read, Names, Scripts, VerifyArgs};
pub use usage::{Folding, LiveUsage};

/// How often a key's use is written to DynamoDB at most: once per key per window.
pub const LAST_USED_WINDOW: Duration = Duration::from_secs(60);
/// How long a quota's live counter outlives its last use. Far longer than an entry: the
/// counter is the truth between DynamoDB updates, and an entry refilled from DynamoDB must
/// find it still there (see `domain/limit.rs`).
pub const QUOTA_COUNTER_TTL: Duration = Duration::from_secs(35 * 86_400);

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("Redis is being skipped after a recent failure")]
    Skipped,
    #[error("Redis request failed: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("cache entry is malformed: {0}")]
    Corrupt(String),
}

pub struct Cache {
    scripts: Scripts,
    /// The verify path's reads and fills, on a tight budget.
    link: Link,
    /// Changes, on a patient one (see [`Cache::replace`]).
    writes: Link,
    settings: CacheSettings,
    unlimited: Unlimited,
    members: Members,
}

/// A field of a key's rate-window hash and its (binary) value, as `HGETALL` returns them.
type WindowField = (Vec<u8>, Vec<u8>);

/// How many times a change's cache write is tried, and the pause before the second try (the
/// third waits twice as long).
pub const WRITE_ATTEMPTS: u32 = 3;
const WRITE_PAUSE: Duration = Duration::from_millis(50);

impl Cache {
    pub fn new(redis_url: &str, settings: CacheSettings) -> Result<Self, CacheError> {
        let client = redis::Client::open(redis_url)?;
        Ok(Self::with_client(client, settings))
    }

    pub fn with_client(client: redis::Client, settings: CacheSettings) -> Self {
        Self {
            scripts: Scripts::new(),
            link: Link::new(client.clone(), settings.timeout),
            writes: Link::new(client, settings.write_timeout),
            settings,
            unlimited: Unlimited::default(),
            members: Members::default(),
        }
    }

    pub fn settings(&self) -> &CacheSettings {
        &self.settings
    }

    /// The Redis key of a key hash's entry. The braces are a cluster hash tag, so later
    /// per-key counters can live in the same slot and be used in one script.
    pub fn entry_key(&self, hash: &KeyHash) -> String {
        self.name("key", &hash.to_hex())
    }

    /// Connects at start-up so the first request does not pay for it. A failure here is
    /// only logged: verification works without the cache.
    pub async fn warm_up(&self) {
        if let Err(err) = self.link.connect().await {
            tracing::warn!(error = %err, "Redis is not reachable at start-up; verifying from DynamoDB until it is");
        }
    }

    /// The key's marker for "use already recorded in this window".
    pub fn used_key(&self, hash: &KeyHash) -> String {
        self.name("used", &hash.to_hex())
    }

    /// The Redis keys of a key hash's rate windows (a hash, one field per named limit) and
    /// quota counter.
    pub fn counter_keys(&self, hash: &KeyHash) -> (String, String) {
        let hex = hash.to_hex();
        (self.name("limits", &hex), self.name("quota", &hex))
    }

    /// The Redis key of one of a key hash's values (`kind`: key, used, limits, quota), in
    /// the hash's cluster slot.
    fn name(&self, kind: &str, hex: &str) -> String {
        // Pushed rather than `format!`ed: two to four of these are made per request.
        let ns = &self.settings.namespace;
        let mut name = String::with_capacity(ns.len() + kind.len() + hex.len() + 4);
        name.push_str(ns);
        name.push(':');
        name.push_str(kind);
        name.push_str(":{");
        name.push_str(hex);
        name.push('}');
        name
    }

    fn names(&self, hash: &KeyHash) -> Names {
        let hex = hash.to_hex();
        Names {
            entry: self.name("key", &hex),
            used: self.name("used", &hex),
            limits: self.name("limits", &hex),
            quota: self.name("quota", &hex),
            usage: self.name(usage::LIVE, &hex),
        }
    }

    /// Reads the entry and, in the same round trip, sets the key's last-used marker if it
    /// is not set (`first_use` is true for the first read of a window, which is the one that
    /// records the use in DynamoDB) and counts the request against the key's limits.
    ///
    /// A key this instance last saw without limits is read with the plain pipeline (GET and
    /// SET NX), so a key without limits costs what it did before limits existed; the script
    /// runs for every other key. If such a key has gained limits (an admin update), the
    /// entry says so and the request is counted at once, with a second call; from then on
    /// the key takes the script.
    pub async fn get(&self, hash: &KeyHash, now: DateTime<Utc>) -> Result<Read, CacheError> {
        self.get_with_cost(hash, now, Cost::ONE).await
    }

    /// [`Cache::get`] for a request of `cost` against the key's limits.
    pub async fn get_with_cost(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
        cost: Cost,
    ) -> Result<Read, CacheError> {
        self.verify_read(hash, now, cost, false).await
    }

    /// The read of a verification: [`Cache::get_with_cost`], and with `count_use` the
    /// request is counted in the key's usage as presented in the same round trip (unless
    /// the key is known not to exist). A refusal is counted afterwards with
    /// [`Cache::count_refusal`].
    pub async fn verify_read(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
        cost: Cost,
        count_use: bool,
    ) -> Result<Read, CacheError> {
        let usage = count_use.then(|| Hour::of(now).field(Tally::Presented));
        if !self.unlimited.contains(hash) {
            let asked = usage.is_some();
            let mut read = self.script(hash, now, true, false, cost, usage).await?;
            // The script counts only a key it has an entry for: a miss is counted once
            // DynamoDB has said the key exists (`ops/verify.rs`).
            read.presented = asked && matches!(read.lookup, Lookup::Known(_));
            if let Lookup::Known(entry) = &read.lookup {
                if !entry.has_limits() {
                    self.unlimited.remember(*hash);
                }
            }
            return Ok(read);
        }
        let read = self.read_plain(hash, usage).await?;
        match &read.lookup {
            Lookup::Known(entry) if entry.has_limits() => {
                self.unlimited.forget(hash);
                let counted = self.read(hash, now, false, cost).await?;
                Ok(Read {
                    first_use: read.first_use,
                    presented: read.presented,
                    ..counted
                })
            }
            _ => Ok(read),
        }
    }

    /// The entry and the last-used marker, pipelined: the read of a key without limits.
    /// With a `usage` field, the request is counted there as presented, in the same
    /// pipeline: these are keys this instance has seen, so a count for a key that turns out
    /// not to exist is rare, and the fold drops it.
    async fn read_plain(&self, hash: &KeyHash, usage: Option<String>) -> Result<Read, CacheError> {
        let hex = hash.to_hex();
        let (entry, used) = (self.name("key", &hex), self.name("used", &hex));
        let mut pipe = redis::Pipeline::with_capacity(3);
        let mut get = command("GET", 1, entry.len());
        get.arg(entry);
        let mut set = command("SET", 5, used.len() + 28);
        set.arg(used)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(LAST_USED_WINDOW));
        pipe.add_command(get).add_command(set);
        let presented = usage.is_some();
        let (value, marked): (Option<Vec<u8>>, Option<String>) = match usage {
            None => self.send(&pipe).await?,
            Some(field) => {
                let counts = self.name(usage::LIVE, &hex);
                let mut tally = command("HINCRBY", 3, counts.len() + field.len() + 1);
                tally.arg(&counts).arg(field).arg(1);
                pipe.add_command(tally);
                let (value, marked, count): (_, _, u64) = self.send(&pipe).await?;
                if count == 1 {
                    self.expire_usage(&counts).await;
                }
                (value, marked)
            }
        };
        Ok(Read {
            lookup: lookup_of(value)?,
            first_use: marked.is_some(),
            counted: Counted::default(),
            presented,
        })
    }

    /// Sends a pipeline on the verify path's connection.
    async fn send<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, CacheError> {
        self.link
            .call(false, |mut conn| async move {
                pipe.query_async(&mut conn).await
            })
            .await
    }

    /// Counts a request against the limits of the key whose entry was just filled, after a
    /// miss (or of a rotated key's replacement): the same script, without touching the
    /// last-used marker again.
    pub async fn count(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
        cost: Cost,
    ) -> Result<Read, CacheError> {
        self.read(hash, now, false, cost).await
    }

    /// Counts a rotated key on its own counters, when its replacement cannot count it (gone
    /// or revoked, say).
    pub async fn count_own(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
        cost: Cost,
    ) -> Result<Read, CacheError> {
        self.script(hash, now, false, true, cost, None).await
    }

    async fn read(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
        mark: bool,
        cost: Cost,
    ) -> Result<Read, CacheError> {
        self.script(hash, now, mark, false, cost, None).await
    }

    async fn script(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
        mark: bool,
        own_counters: bool,
        cost: Cost,
        usage: Option<String>,
    ) -> Result<Read, CacheError> {
        let args = VerifyArgs {
            used_window: LAST_USED_WINDOW,
            now,
            quota_counter_ttl: QUOTA_COUNTER_TTL,
            mark,
            own_counters,
            cost,
            usage,
        };
        let names = self.names(hash);
        let reply: Vec<redis::Value> = self
            .link
            .call(false, |mut conn| {
                let call = self.scripts.verify(&names, &args);
                async move { call.invoke_async(&mut conn).await }
            })
            .await?;
        parse_read(reply)
    }

    /// The quota's live count, when Redis has one for this setting of the quota (its
    /// generation). Otherwise `None`: DynamoDB's copy is then the best there is (at most a
    /// minute behind).
    pub async fn live_quota(&self, hash: &KeyHash, quota: &Quota) -> Option<QuotaCount> {
        let (_, quota_key) = self.counter_keys(hash);
        self.live_count(quota_key, quota).await
    }

    /// The live count in the quota counter `name`, when it belongs to this setting of the
    /// quota (its generation).
    async fn live_count(&self, name: String, quota: &Quota) -> Option<QuotaCount> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(name).arg("r").arg("p").arg("g");
        let cmd = &cmd;
        let (left, period, generation): (Option<u64>, Option<String>, Option<u64>) = self
            .link
            .call(
                false,
                |mut conn| async move { cmd.query_async(&mut conn).await },
            )
            .await
            .ok()?;
        match (left, period, generation) {
            (Some(remaining), Some(period), Some(generation)) if generation == quota.generation => {
                Some(QuotaCount {
                    remaining,
                    period,
                    generation,
                })
            }
            _ => None,
        }
    }

    /// Caches what a database read found, unless an entry is already there (see the module
    /// docs for why this must never overwrite).
    pub async fn fill(
        &self,
        hash: &KeyHash,
        record: Option<&KeyRecord>,
        now: DateTime<Utc>,
    ) -> Result<(), CacheError> {
        let value = match record {
            Some(r) => entry_bytes(r),
            None => UNKNOWN.to_vec(),
        };
        let ttl = entry_ttl(record, now, &self.settings);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.entry_key(hash))
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

    /// Starts a rotated key's replacement in the old key's rate windows: the pair has one
    /// set of limits, also across the moment of rotation. Best effort: on failure the new
    /// key starts with empty windows, as a key issued then would. The two hashes are in
    /// different cluster slots, so this is a read and a write, not one `COPY`.
    /// A key of an identity keeps its windows beside the identity's, as does its
    /// replacement, which inherits the identity.
    pub async fn carry_rate_window(
        &self,
        old: &KeyHash,
        new: &KeyHash,
        identity: Option<&IdentityId>,
    ) {
        let (old_windows, new_windows) = (
            self.key_windows(old, identity),
            self.key_windows(new, identity),
        );
        let mut read = redis::pipe();
        read.cmd("HGETALL")
            .arg(&old_windows)
            .cmd("PTTL")
            .arg(&old_windows);
        let read = &read;
        let windows: Result<(Vec<WindowField>, i64), _> = self
            .writes
            .call(
                true,
                |mut conn| async move { read.query_async(&mut conn).await },
            )
            .await;
        let Ok((fields, ttl_ms)) = windows else {
            return;
        };
        if fields.is_empty() || ttl_ms <= 0 {
            return;
        }
        let mut write = redis::pipe();
        for (field, value) in &fields {
            write
                .cmd("HSETNX")
                .arg(&new_windows)
                .arg(field)
                .arg(value)
                .ignore();
        }
        write.cmd("PEXPIRE").arg(&new_windows).arg(ttl_ms).ignore();
        let write = &write;
        let carried: Result<(), _> = self
            .writes
            .call(true, |mut conn| async move {
                write.query_async(&mut conn).await
            })
            .await;
        if let Err(err) = carried {
            tracing::warn!(error = %err, "could not carry the rate windows to the rotated key");
        }
    }

    /// Writes the entry of a key that was just changed, replacing whatever is cached unless
    /// that is a newer version. A change is rare and must not be lost to a slow moment, so
    /// writes have their own connection with a longer budget (`REDIS_WRITE_TIMEOUT_MS`),
    /// ignore the back-off, and are tried up to [`WRITE_ATTEMPTS`] times: the script keeps
    /// the newest version, so a repeated write changes nothing.
    pub async fn replace(
        &self,
        hash: &KeyHash,
        record: &KeyRecord,
        now: DateTime<Utc>,
    ) -> Result<(), CacheError> {
        self.write(hash, record, now, false).await.map(|_| ())
    }

    /// A change replicated from another region (`ops/sync.rs`): a revoke is always written,
    /// as by [`Cache::replace`]; any other change only over an entry that is there, because
    /// a record replayed after the entry expired must not bring an older state back, and a
    /// missing entry is filled from DynamoDB on the next read anyway. Returns whether it
    /// wrote.
    pub async fn sync(
        &self,
        hash: &KeyHash,
        record: &KeyRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, CacheError> {
        self.write(hash, record, now, record.state != State::Revoked)
            .await
    }

    /// Deletes a key's entry: its item was deleted from the table by hand.
    pub async fn forget(&self, hash: &KeyHash) -> Result<(), CacheError> {
        self.delete_entry(&self.entry_key(hash)).await
    }

    async fn delete_entry(&self, key: &str) -> Result<(), CacheError> {
        self.writes
            .call(true, |mut conn| async move {
                redis::cmd("DEL")
                    .arg(key)
                    .query_async::<i64>(&mut conn)
                    .await
            })
            .await
            .map(|_| ())
    }

    async fn write(
        &self,
        hash: &KeyHash,
        record: &KeyRecord,
        now: DateTime<Utc>,
        only_present: bool,
    ) -> Result<bool, CacheError> {
        let ttl = if record.state == State::Revoked {
            self.settings.ttl
        } else {
            entry_ttl(Some(record), now, &self.settings)
        };
        let (key, entry) = (self.entry_key(hash), entry_bytes(record));
        self.write_versioned(&key, entry, record.version, ttl, only_present)
            .await
    }

    /// Writes `entry` (of `version`) at `key` unless the cached one is as new or newer, on
    /// the patient connection, tried up to [`WRITE_ATTEMPTS`] times. Returns whether it
    /// wrote.
    async fn write_versioned(
        &self,
        key: &str,
        entry: Vec<u8>,
        version: u64,
        ttl: Duration,
        only_present: bool,
    ) -> Result<bool, CacheError> {
        let mut attempt = 1;
        loop {
            let written: Result<i64, CacheError> = self
                .writes
                .call(true, |mut conn| {
                    let call = self.scripts.replace_if_newer(
                        key,
                        entry.clone(),
                        version,
                        ttl,
                        only_present,
                    );
                    async move { call.invoke_async(&mut conn).await }
                })
                .await;
            match written {
                Ok(n) => return Ok(n == 1),
                Err(err) if attempt < WRITE_ATTEMPTS => {
                    tracing::warn!(error = %err, attempt, "cache write failed; trying again");
                    tokio::time::sleep(WRITE_PAUSE * attempt).await;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// A command whose buffers are sized once for its `args` arguments of about `bytes` bytes
/// in all. Built argument by argument from empty, a command grows them step by step, which
/// was most of what building a cache hit's pipeline cost, and half of a script call's
/// (bench/PROFILE.md).
fn command(name: &str, args: usize, bytes: usize) -> redis::Cmd {
    let mut cmd = redis::Cmd::with_capacity(args + 1, name.len() + bytes);
    cmd.arg(name);
    cmd
}
