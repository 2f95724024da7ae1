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
//! Redis trouble must never break verification: every command has a short timeout, and
//! after a failure the cache is skipped for a back-off period (growing to 5 s), so an outage
//! costs one timeout per period instead of one per request. The next attempt after the
//! back-off reconnects, so recovery needs no restart.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use serde::{Deserialize, Serialize};

use crate::config::CacheSettings;
use crate::key::{KeyHash, KeyId};
use crate::limit::{Every, Quota, RateLimit};
use crate::record::{KeyRecord, State};

const UNKNOWN: &[u8] = b"!";
/// How often a key's use is written to DynamoDB at most: once per key per window.
pub const LAST_USED_WINDOW: Duration = Duration::from_secs(60);
/// How long a quota's live counter outlives its last use. Far longer than an entry: the
/// counter is the truth between DynamoDB updates, and an entry refilled from DynamoDB must
/// find it still there (see [`crate::limit`]).
pub const QUOTA_COUNTER_TTL: Duration = Duration::from_secs(35 * 86_400);
/// How many keys an instance remembers as having no limits (see [`Cache::get`]).
const UNLIMITED_MEMORY: usize = 4096;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("Redis is being skipped after a recent failure")]
    Skipped,
    #[error("Redis request failed: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("cache entry is malformed: {0}")]
    Corrupt(String),
}

/// What verification needs to know about a key, as cached. Short field names keep the
/// value small: it is read on every request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub name: String,
    /// `a` active, `r` revoked.
    pub st: char,
    /// Expiry in Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Owner, handed to the handler with the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ow: Option<String>,
    /// Scopes: checked by the guard with no I/O beyond this read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sc: Vec<String>,
    /// The record's version: the cache keeps the highest it is given.
    #[serde(default)]
    pub v: u64,
    /// Rate limit: `[limit, window_seconds]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rl: Option<(u64, u64)>,
    /// Quota: `[generation, remaining as stored, refill amount, refill kind, period]`, the
    /// kind 0 for none, 1 daily, 2 monthly. The verify script reads both with patterns, so
    /// they are plain numbers in a fixed order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<(u64, u64, u64, u8, String)>,
}

impl Entry {
    pub fn from_record(r: &KeyRecord) -> Self {
        Self {
            id: r.id.as_str().to_owned(),
            name: r.name.clone(),
            st: match r.state {
                State::Active => 'a',
                State::Revoked => 'r',
            },
            exp: r.expires_at.map(|t| t.timestamp_millis()),
            ow: r.owner.clone(),
            sc: r.scopes.as_slice().to_vec(),
            v: r.version,
            rl: r.rate_limit.map(|l| (l.limit, l.window_seconds)),
            q: r.quota.as_ref().map(|q| {
                let (amount, kind) = match q.refill {
                    None => (0, 0),
                    Some(refill) => (
                        refill.amount,
                        match refill.every {
                            Every::Day => 1,
                            Every::Month => 2,
                        },
                    ),
                };
                (q.generation, q.remaining, amount, kind, q.period.clone())
            }),
        }
    }

    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rl.map(|(limit, window_seconds)| RateLimit {
            limit,
            window_seconds,
        })
    }

    pub fn quota(&self) -> Option<Quota> {
        self.q
            .as_ref()
            .map(|(generation, remaining, amount, kind, period)| Quota {
                remaining: *remaining,
                refill: match kind {
                    1 => Some(Every::Day),
                    2 => Some(Every::Month),
                    _ => None,
                }
                .map(|every| crate::limit::Refill {
                    every,
                    amount: *amount,
                }),
                period: period.clone(),
                generation: *generation,
            })
    }

    pub fn has_limits(&self) -> bool {
        self.rl.is_some() || self.q.is_some()
    }

    pub fn state(&self) -> Result<State, CacheError> {
        match self.st {
            'a' => Ok(State::Active),
            'r' => Ok(State::Revoked),
            other => Err(CacheError::Corrupt(format!("unknown state {other:?}"))),
        }
    }

    pub fn expires_at(&self) -> Result<Option<DateTime<Utc>>, CacheError> {
        self.exp
            .map(|ms| {
                Utc.timestamp_millis_opt(ms)
                    .single()
                    .ok_or_else(|| CacheError::Corrupt("expiry out of range".to_owned()))
            })
            .transpose()
    }

    pub fn key_id(&self) -> Result<KeyId, CacheError> {
        KeyId::parse(&self.id).ok_or_else(|| CacheError::Corrupt("bad key id".to_owned()))
    }
}

/// The outcome of a cache read.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Known(Box<Entry>),
    /// Recently looked up in DynamoDB and not found.
    Unknown,
    Miss,
}

/// A cache read: the entry, whether this is the key's first use in its window, and what
/// the limit counters said.
#[derive(Debug, PartialEq, Eq)]
pub struct Read {
    pub lookup: Lookup,
    pub first_use: bool,
    pub counted: Counted,
}

/// The limit counters after a request was counted. Both are `None` for a key without
/// limits, and for a request not counted (the key is not active).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counted {
    /// The rate window's count including this request, and the window's time left.
    pub rate: Option<(u64, Duration)>,
    pub quota: Option<QuotaCounted>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct QuotaCounted {
    /// Calls left after this one.
    pub remaining: u64,
    /// True when nothing was left, so this request was refused.
    pub exhausted: bool,
    /// True when this request began a new refill period.
    pub refilled: bool,
    /// The refill period the count belongs to.
    pub period: String,
}

/// How long an entry may live: the configured TTL, cut short by the key's own expiry, so
/// an expired key's entry goes away with it. (Verification checks the expiry itself too;
/// the TTL only keeps Redis tidy.)
pub fn entry_ttl(record: Option<&KeyRecord>, now: DateTime<Utc>, s: &CacheSettings) -> Duration {
    let Some(record) = record else {
        return s.negative_ttl;
    };
    match record.expires_at {
        Some(at) if record.state == State::Active && at > now => {
            let left = (at - now).to_std().unwrap_or(Duration::ZERO);
            left.clamp(Duration::from_millis(1), s.ttl)
        }
        _ => s.ttl,
    }
}

/// Replaces an entry unless the cached one has the same or a newer version, so that of two
/// racing changes (an update and a revoke, say) the later one always wins in the cache, in
/// whatever order their writes arrive. Negative entries have no version and always lose.
const REPLACE_IF_NEWER: &str = r#"
local current = redis.call('GET', KEYS[1])
if current then
  local v = string.match(current, '"v":(%d+)')
  if v and tonumber(v) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
"#;

/// The verify path's one round trip: reads the entry, marks the key used, and for a key
/// with limits (active and unexpired) counts the request against its rate window and its
/// quota. Redis runs a script alone, so counting is exact whatever the concurrency.
///
/// KEYS: entry, used marker, rate counter, quota counter (all in the key's hash slot).
/// ARGV: marker TTL ms, now ms, today's period, this month's period, quota counter TTL ms,
/// "1" to set the marker.
/// Returns `{first_use, entry, rate count, rate TTL ms, quota left, quota flags, period}`,
/// the tail only for a counted key; quota flags: 1 exhausted, 2 refilled.
const VERIFY: &str = r#"
local e = redis.call('GET', KEYS[1])
local first = 0
if ARGV[6] == '1' and redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  first = 1
end
if not e or e == '!' then return {first, e} end
-- Plain finds first: most keys have no limits, and a plain find is far cheaper than a
-- pattern with captures.
local has_rl = string.find(e, '"rl":[', 1, true)
local has_q = string.find(e, '"q":[', 1, true)
if not has_rl and not has_q then return {first, e} end
local limit, window, gen, stored, amount, kind, period
if has_rl then limit, window = string.match(e, '"rl":%[(%d+),(%d+)%]', has_rl) end
if has_q then
  gen, stored, amount, kind, period =
    string.match(e, '"q":%[(%d+),(%d+),(%d+),(%d),"([^"]*)"%]', has_q)
end
if not limit and not gen then return {first, e} end
if not string.find(e, '"st":"a"', 1, true) then return {first, e} end
local exp = string.match(e, '"exp":(%-?%d+)')
if exp and tonumber(exp) <= tonumber(ARGV[2]) then return {first, e} end
local count, ttl = 0, 0
if limit then
  local window_ms = tonumber(window) * 1000
  count = redis.call('INCR', KEYS[3])
  ttl = redis.call('PTTL', KEYS[3])
  -- A new window, or one opened under a longer window than the key has now.
  if ttl < 0 or ttl > window_ms then
    redis.call('SET', KEYS[3], count, 'PX', window_ms)
    ttl = window_ms
  end
  if count > tonumber(limit) then return {first, e, count, ttl, -1, 0, ''} end
end
if not gen then return {first, e, count, ttl, -1, 0, ''} end
local live = redis.call('HMGET', KEYS[4], 'r', 'p', 'g')
local left, at = tonumber(live[1]), live[2]
if not left or live[3] ~= gen then
  left, at = tonumber(stored), period
end
local flags = 0
local now_period = nil
if kind == '1' then now_period = ARGV[3] elseif kind == '2' then now_period = ARGV[4] end
if now_period and now_period > at then
  left, at, flags = tonumber(amount), now_period, 2
end
if left > 0 then left = left - 1 else flags = flags + 1 end
redis.call('HSET', KEYS[4], 'r', string.format('%d', left), 'p', at, 'g', gen)
redis.call('PEXPIRE', KEYS[4], ARGV[5])
return {first, e, count, ttl, left, flags, at}
"#;

pub struct Cache {
    verify: redis::Script,
    replace_if_newer: redis::Script,
    client: redis::Client,
    connection_config: AsyncConnectionConfig,
    settings: CacheSettings,
    link: Mutex<Link>,
    /// Keys whose last entry this instance read had no limits: they are read with a plain
    /// pipeline, which costs Redis less than a script.
    unlimited: Mutex<HashSet<KeyHash>>,
}

#[derive(Default)]
struct Link {
    connection: Option<MultiplexedConnection>,
    failures: u32,
    skip_until: Option<Instant>,
}

impl Cache {
    pub fn new(redis_url: &str, settings: CacheSettings) -> Result<Self, CacheError> {
        let client = redis::Client::open(redis_url)?;
        Ok(Self::with_client(client, settings))
    }

    pub fn with_client(client: redis::Client, settings: CacheSettings) -> Self {
        let connection_config = AsyncConnectionConfig::new()
            .set_response_timeout(Some(settings.timeout))
            // A connect is a TCP (and maybe TLS) handshake: allow a few round trips more
            // than a command, still well under a second.
            .set_connection_timeout(Some(settings.timeout * 4));
        Self {
            verify: redis::Script::new(VERIFY),
            replace_if_newer: redis::Script::new(REPLACE_IF_NEWER),
            client,
            connection_config,
            settings,
            link: Mutex::new(Link::default()),
            unlimited: Mutex::new(HashSet::new()),
        }
    }

    pub fn settings(&self) -> &CacheSettings {
        &self.settings
    }

    /// The Redis key of a key hash's entry. The braces are a cluster hash tag, so later
    /// per-key counters can live in the same slot and be used in one script.
    pub fn entry_key(&self, hash: &KeyHash) -> String {
        format!("{}:key:{{{}}}", self.settings.namespace, hash.to_hex())
    }

    /// Connects at start-up so the first request does not pay for it. A failure here is
    /// only logged: verification works without the cache.
    pub async fn warm_up(&self) {
        if let Err(err) = self.connection(true).await {
            tracing::warn!(error = %err, "Redis is not reachable at start-up; verifying from DynamoDB until it is");
        }
    }

    /// The key's marker for "use already recorded in this window".
    pub fn used_key(&self, hash: &KeyHash) -> String {
        format!("{}:used:{{{}}}", self.settings.namespace, hash.to_hex())
    }

    /// The Redis keys of a key hash's rate window and quota counters.
    pub fn counter_keys(&self, hash: &KeyHash) -> (String, String) {
        let ns = &self.settings.namespace;
        let hex = hash.to_hex();
        (
            format!("{ns}:rate:{{{hex}}}"),
            format!("{ns}:quota:{{{hex}}}"),
        )
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
        if !self.known_unlimited(hash) {
            let read = self.read(hash, now, true).await?;
            if let Lookup::Known(entry) = &read.lookup {
                if !entry.has_limits() {
                    self.remember_unlimited(*hash);
                }
            }
            return Ok(read);
        }
        let read = self.read_plain(hash).await?;
        match &read.lookup {
            Lookup::Known(entry) if entry.has_limits() => {
                self.forget_unlimited(hash);
                let counted = self.read(hash, now, false).await?;
                Ok(Read {
                    first_use: read.first_use,
                    ..counted
                })
            }
            _ => Ok(read),
        }
    }

    fn known_unlimited(&self, hash: &KeyHash) -> bool {
        let set = self.unlimited.lock().unwrap_or_else(|p| p.into_inner());
        set.contains(hash)
    }

    fn remember_unlimited(&self, hash: KeyHash) {
        let mut set = self.unlimited.lock().unwrap_or_else(|p| p.into_inner());
        if set.len() >= UNLIMITED_MEMORY {
            // Forgetting only costs those keys a script call until they are seen again.
            set.clear();
        }
        set.insert(hash);
    }

    fn forget_unlimited(&self, hash: &KeyHash) {
        let mut set = self.unlimited.lock().unwrap_or_else(|p| p.into_inner());
        set.remove(hash);
    }

    /// The entry and the last-used marker, pipelined: the read of a key without limits.
    async fn read_plain(&self, hash: &KeyHash) -> Result<Read, CacheError> {
        let mut conn = self.connection(false).await?;
        let (value, marked): (Option<Vec<u8>>, Option<String>) = self.run(
            redis::pipe()
                .cmd("GET")
                .arg(self.entry_key(hash))
                .cmd("SET")
                .arg(self.used_key(hash))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(millis(LAST_USED_WINDOW))
                .query_async(&mut conn)
                .await,
        )?;
        Ok(Read {
            lookup: lookup_of(value)?,
            first_use: marked.is_some(),
            counted: Counted::default(),
        })
    }

    /// Counts a request against the limits of the key whose entry was just filled, after a
    /// miss: the same script, without touching the last-used marker again.
    pub async fn count(&self, hash: &KeyHash, now: DateTime<Utc>) -> Result<Read, CacheError> {
        self.read(hash, now, false).await
    }

    async fn read(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
        mark: bool,
    ) -> Result<Read, CacheError> {
        let mut conn = self.connection(false).await?;
        let (rate_key, quota_key) = self.counter_keys(hash);
        let reply: Vec<redis::Value> = self.run(
            self.verify
                .key(self.entry_key(hash))
                .key(self.used_key(hash))
                .key(rate_key)
                .key(quota_key)
                .arg(millis(LAST_USED_WINDOW))
                .arg(now.timestamp_millis())
                .arg(Every::Day.period(now))
                .arg(Every::Month.period(now))
                .arg(millis(QUOTA_COUNTER_TTL))
                .arg(if mark { "1" } else { "0" })
                .invoke_async(&mut conn)
                .await,
        )?;
        parse_read(reply)
    }

    /// Puts the quota's live count into `quota`, when Redis has one for this setting of
    /// the quota. Otherwise it is left as stored: DynamoDB's copy is then the best there is
    /// (at most a minute behind).
    pub async fn show_live_quota(&self, hash: &KeyHash, quota: &mut Quota) {
        if let Some((left, period)) = self.live_quota(hash, quota).await {
            quota.remaining = left;
            quota.period = period;
        }
    }

    async fn live_quota(&self, hash: &KeyHash, quota: &Quota) -> Option<(u64, String)> {
        let mut conn = self.connection(false).await.ok()?;
        let (_, quota_key) = self.counter_keys(hash);
        let (left, period, generation): (Option<u64>, Option<String>, Option<u64>) = self
            .run(
                redis::cmd("HMGET")
                    .arg(quota_key)
                    .arg("r")
                    .arg("p")
                    .arg("g")
                    .query_async(&mut conn)
                    .await,
            )
            .ok()?;
        match (left, period, generation) {
            (Some(left), Some(period), Some(g)) if g == quota.generation => Some((left, period)),
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
        let mut conn = self.connection(false).await?;
        let value = match record {
            Some(r) => entry_bytes(r),
            None => UNKNOWN.to_vec(),
        };
        let ttl = entry_ttl(record, now, &self.settings);
        let _: Option<String> = self.run(
            redis::cmd("SET")
                .arg(self.entry_key(hash))
                .arg(value)
                .arg("NX")
                .arg("PX")
                .arg(millis(ttl))
                .query_async(&mut conn)
                .await,
        )?;
        Ok(())
    }

    /// Writes the entry of a key that was just changed, replacing whatever is cached unless
    /// that is a newer version. It tries Redis even while it is being skipped: a change is
    /// rare and must not be lost.
    pub async fn replace(
        &self,
        hash: &KeyHash,
        record: &KeyRecord,
        now: DateTime<Utc>,
    ) -> Result<(), CacheError> {
        let mut conn = self.connection(true).await?;
        let ttl = if record.state == State::Revoked {
            self.settings.ttl
        } else {
            entry_ttl(Some(record), now, &self.settings)
        };
        let _: i64 = self.run(
            self.replace_if_newer
                .key(self.entry_key(hash))
                .arg(entry_bytes(record))
                .arg(record.version)
                .arg(millis(ttl))
                .invoke_async(&mut conn)
                .await,
        )?;
        Ok(())
    }

    /// A shared connection, or a fresh one unless Redis is in its back-off period.
    async fn connection(&self, force: bool) -> Result<MultiplexedConnection, CacheError> {
        {
            let link = self.link.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(conn) = &link.connection {
                return Ok(conn.clone());
            }
            if !force && link.skip_until.is_some_and(|t| Instant::now() < t) {
                return Err(CacheError::Skipped);
            }
        }
        let conn = self.run(
            self.client
                .get_multiplexed_async_connection_with_config(&self.connection_config)
                .await,
        )?;
        let mut link = self.link.lock().unwrap_or_else(|p| p.into_inner());
        link.connection = Some(conn.clone());
        Ok(conn)
    }

    /// Records the outcome of a Redis call: a failure drops the connection (it may be dead
    /// after a freeze or a failover) and starts or extends the back-off period.
    fn run<T>(&self, result: redis::RedisResult<T>) -> Result<T, CacheError> {
        let mut link = self.link.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(value) => {
                link.failures = 0;
                link.skip_until = None;
                Ok(value)
            }
            Err(err) => {
                link.connection = None;
                link.failures = link.failures.saturating_add(1);
                link.skip_until = Some(Instant::now() + backoff(link.failures));
                Err(err.into())
            }
        }
    }
}

fn parse_read(reply: Vec<redis::Value>) -> Result<Read, CacheError> {
    use redis::FromRedisValue;
    let corrupt = |what: &str| CacheError::Corrupt(format!("verify script returned {what}"));
    let mut items = reply.into_iter();
    let first_use = i64::from_redis_value(items.next().ok_or_else(|| corrupt("nothing"))?)
        .map_err(|_| corrupt("a bad marker"))?
        == 1;
    let value = Option::<Vec<u8>>::from_redis_value(items.next().unwrap_or(redis::Value::Nil))
        .map_err(|_| corrupt("a bad entry"))?;
    let lookup = lookup_of(value)?;
    let rest: Vec<redis::Value> = items.collect();
    let mut counted = Counted::default();
    if let [count, ttl, left, flags, period] = rest.as_slice() {
        let int =
            |v: &redis::Value| i64::from_redis_value_ref(v).map_err(|_| corrupt("a bad counter"));
        let (count, ttl, left, flags) = (int(count)?, int(ttl)?, int(left)?, int(flags)?);
        if count > 0 {
            counted.rate = Some((count as u64, Duration::from_millis(ttl.max(0) as u64)));
        }
        if left >= 0 {
            counted.quota = Some(QuotaCounted {
                remaining: left as u64,
                exhausted: flags & 1 != 0,
                refilled: flags & 2 != 0,
                period: String::from_redis_value_ref(period)
                    .map_err(|_| corrupt("a bad period"))?,
            });
        }
    }
    Ok(Read {
        lookup,
        first_use,
        counted,
    })
}

fn lookup_of(value: Option<Vec<u8>>) -> Result<Lookup, CacheError> {
    Ok(match value {
        None => Lookup::Miss,
        Some(v) if v == UNKNOWN => Lookup::Unknown,
        Some(v) => serde_json::from_slice(&v)
            .map(|e| Lookup::Known(Box::new(e)))
            .map_err(|e| CacheError::Corrupt(e.to_string()))?,
    })
}

fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

fn entry_bytes(record: &KeyRecord) -> Vec<u8> {
    serde_json::to_vec(&Entry::from_record(record)).expect("an entry always serializes")
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn record(state: State, expires_in: Option<TimeDelta>) -> KeyRecord {
        KeyRecord {
            state,
            expires_at: expires_in.map(|d| now() + d),
            ..KeyRecord::new(
                KeyId::generate().unwrap(),
                "n".into(),
                "kg_00000000".into(),
                now(),
            )
        }
    }

    #[test]
    fn an_entry_without_expiry_lives_for_the_configured_ttl() {
        let s = CacheSettings::default();
        let r = record(State::Active, None);
        assert_eq!(entry_ttl(Some(&r), now(), &s), s.ttl);
    }

    #[test]
    fn an_entry_ends_with_its_keys_expiry_when_that_comes_first() {
        let s = CacheSettings::default();
        let r = record(State::Active, Some(TimeDelta::seconds(7)));
        assert_eq!(entry_ttl(Some(&r), now(), &s), Duration::from_secs(7));
        let r = record(State::Active, Some(TimeDelta::days(7)));
        assert_eq!(entry_ttl(Some(&r), now(), &s), s.ttl);
    }

    #[test]
    fn unknown_hashes_are_cached_for_the_negative_ttl() {
        let s = CacheSettings::default();
        assert_eq!(entry_ttl(None, now(), &s), s.negative_ttl);
    }

    #[test]
    fn back_off_grows_and_is_capped() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(100), MAX_BACKOFF);
    }

    #[test]
    fn an_entry_round_trips_and_carries_no_secret() {
        let r = record(State::Revoked, Some(TimeDelta::seconds(5)));
        let e = Entry::from_record(&r);
        let bytes = serde_json::to_vec(&e).unwrap();
        let back: Entry = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.state().unwrap(), State::Revoked);
        assert_eq!(back.expires_at().unwrap(), r.expires_at);
    }

    #[test]
    fn entries_from_a_newer_version_with_extra_fields_still_read() {
        let e: Entry = serde_json::from_str(
            r#"{"id":"key_000000000000000000000000","name":"n","st":"a","scopes":["x"]}"#,
        )
        .unwrap();
        assert_eq!(e.state().unwrap(), State::Active);
    }
}
