//! The Lua scripts that run inside Redis, loaded from their `.lua` files, and the one place
//! that states each script's arguments and reply, next to the Rust that builds the call and
//! reads the reply.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::aio::ConnectionLike;
use redis::{Cmd, ErrorKind, FromRedisValue, RedisResult, ServerErrorKind, ToRedisArgs};

use super::entry::{lookup_of, Lookup, Read, REFILLS};
use super::CacheError;
use crate::domain::limit::{Cost, Counted, Limits, QuotaCounted};
use crate::domain::window::WindowCount;

pub(super) struct Scripts {
    verify: Lua,
    identity: Lua,
    uncount: Lua,
    replace_if_newer: Lua,
    take_usage: Lua,
    release_usage: Lua,
}

/// A Lua script: its source, and the SHA-1 Redis knows it by.
struct Lua {
    code: &'static str,
    sha: String,
}

impl Lua {
    fn new(code: &'static str) -> Self {
        let sha = redis::Script::new(code).get_hash().to_owned();
        Self { code, sha }
    }

    /// A call of this script, its keys first.
    fn call(&self, keys: &[&str]) -> Call<'_> {
        // Sized for the keys and a dozen short arguments (see `command`).
        let bytes: usize = keys.iter().map(|k| k.len()).sum();
        let mut cmd = super::command("EVALSHA", keys.len() + 15, bytes + 256);
        cmd.arg(&self.sha).arg(keys.len());
        for key in keys {
            cmd.arg(*key);
        }
        Call { lua: self, cmd }
    }
}

/// One call of a script, written straight into one command. redis's `ScriptInvocation`
/// keeps each key and argument in an allocation of its own and copies them all into a new
/// command on every call; written once into a command sized for them (and with the refill
/// periods no longer formatted by chrono), building the verify script's call takes 4,100
/// instructions instead of 8,400 (bench/PROFILE.md).
pub(super) struct Call<'a> {
    lua: &'a Lua,
    cmd: Cmd,
}

impl Call<'_> {
    fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    /// Runs the script, loading it first when this Redis does not know it (after a restart
    /// or a failover), as `ScriptInvocation::invoke_async` does.
    pub(super) async fn invoke_async<T: FromRedisValue>(
        &self,
        conn: &mut impl ConnectionLike,
    ) -> RedisResult<T> {
        match self.cmd.query_async(conn).await {
            Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                let _: String = redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(self.lua.code)
                    .query_async(conn)
                    .await?;
                self.cmd.query_async(conn).await
            }
            result => result,
        }
    }
}

/// The Redis keys of one API key (all in its hash slot: see `Cache::entry_key`).
pub(super) struct Names {
    pub entry: String,
    pub used: String,
    /// The hash of the key's rate windows, one field per named limit.
    pub limits: String,
    pub quota: String,
    /// The key's usage counts (`cache/usage.rs`).
    pub usage: String,
}

/// The Redis keys `identity.lua` touches, all in the identity's hash slot.
pub(super) struct IdentityNames {
    pub entry: String,
    pub limits: String,
    pub quota: String,
    /// The key's own rate windows and quota counter, kept beside its identity's.
    pub key_limits: String,
    pub key_quota: String,
}

/// What `uncount.lua` takes back: one request's count by `identity.lua`.
pub(super) struct GiveBack<'a> {
    pub cost: Cost,
    pub now_ms: u64,
    pub key_counters: &'a str,
    pub identity_entry: &'a str,
    pub key_period: &'a str,
    pub identity_period: &'a str,
}

/// What the verify script is told besides the key's names.
pub(super) struct VerifyArgs {
    pub used_window: Duration,
    pub now: DateTime<Utc>,
    pub quota_counter_ttl: Duration,
    /// Set the last-used marker (false when the read already did).
    pub mark: bool,
    /// Count a rotated key on its own counters (its replacement could not count it).
    pub own_counters: bool,
    /// What the request costs against the rate limit and the quota.
    pub cost: Cost,
    /// The usage field to count the request in as presented (`<hour>:p`), when it is the
    /// request's first call.
    pub usage: Option<String>,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            verify: Lua::new(concat!(
                include_str!("counters.lua"),
                include_str!("verify.lua")
            )),
            identity: Lua::new(concat!(
                include_str!("counters.lua"),
                include_str!("identity.lua")
            )),
            uncount: Lua::new(concat!(
                include_str!("counters.lua"),
                include_str!("uncount.lua")
            )),
            replace_if_newer: Lua::new(include_str!("replace_if_newer.lua")),
            take_usage: Lua::new(include_str!("take_usage.lua")),
            release_usage: Lua::new(include_str!("release_usage.lua")),
        }
    }

    /// `verify.lua`.
    /// - KEYS: entry, used marker, rate windows (a hash: field `name:window_seconds`, value
    ///   the window's index, its count and the previous window's count as three
    ///   little-endian u32s), quota counter, usage counts.
    /// - ARGV: 1 marker TTL ms, 2 now ms, 3 quota counter TTL ms, 4 `1` to set the marker,
    ///   5 `1` to count a rotated key on its own counters, 6 the request's cost (0..=1000),
    ///   7 the usage field to count the request in as presented (empty: not counted), 8
    ///   the usage hash's TTL in seconds, then the current period of each refill, in the
    ///   order of `REFILLS` (the script reads refill code `c` at `ARGV[8 + c]`).
    /// - Reply: `{first_use, entry}`, and for a counted key also `{Redis's now in ms, quota
    ///   left, quota flags, period}` and then `previous, current` for each limit in the
    ///   entry's order, both as they were before this request. A quota left of -1 means
    ///   the quota was not asked (none, or a limit refused first); flags: 1 exhausted (less
    ///   than the cost left), 2 refilled.
    pub(super) fn verify(&self, names: &Names, args: &VerifyArgs) -> Call<'_> {
        let mut call = self.verify.call(&[
            &names.entry,
            &names.used,
            &names.limits,
            &names.quota,
            &names.usage,
        ]);
        call.arg(millis(args.used_window))
            .arg(args.now.timestamp_millis())
            .arg(millis(args.quota_counter_ttl))
            .arg(if args.mark { "1" } else { "0" })
            .arg(if args.own_counters { "1" } else { "0" })
            .arg(args.cost.get())
            .arg(args.usage.as_deref().unwrap_or(""))
            .arg(USAGE_TTL.as_secs());
        for refill in REFILLS {
            call.arg(refill.period(args.now));
        }
        call
    }

    /// `identity.lua`.
    /// - KEYS: the identity's entry, its rate windows, its quota counter, then the key's
    ///   rate windows and quota counter kept in the identity's slot (shapes as in
    ///   `verify.lua`).
    /// - ARGV: 1 quota counter TTL ms, 2 the request's cost, 3 `1` to push the quota
    ///   counters' expiry out (the key's first use in its last-used window), 4 the key's
    ///   limits and quota in the entry's wire form, then the current period of each refill
    ///   (code `c` at `ARGV[4 + c]`).
    /// - Reply: `{1}` when the identity is not cached, `{3}` when it is known not to exist,
    ///   `{2, entry}` when it is suspended (nothing counted), else `{0, entry, Redis's now
    ///   in ms}` and then the key's and the identity's counts, each laid out as in
    ///   `verify.lua`'s reply after its now.
    pub(super) fn identity(
        &self,
        names: &IdentityNames,
        key_counters: &str,
        args: &VerifyArgs,
    ) -> Call<'_> {
        let mut call = self.identity.call(&[
            &names.entry,
            &names.limits,
            &names.quota,
            &names.key_limits,
            &names.key_quota,
        ]);
        call.arg(millis(args.quota_counter_ttl))
            .arg(args.cost.get())
            .arg(if args.mark { "1" } else { "0" })
            .arg(key_counters);
        for refill in REFILLS {
            call.arg(refill.period(args.now));
        }
        call
    }

    /// `uncount.lua`: takes back what `identity.lua` counted for a request of `cost` that
    /// Redis's clock put at `now_ms` (the `now` of its reply).
    /// - KEYS: the key's rate windows and quota counter in the identity's slot, then the
    ///   identity's rate windows and quota counter (as `identity.lua`'s).
    /// - ARGV: 1 the cost, 2 now in ms, 3 the key's limits and quota in the entry's wire
    ///   form, 4 the identity's entry as counted, 5 and 6 the refill period the key's and
    ///   the identity's quota were counted in (empty without a quota, and for a quota
    ///   without refills).
    /// - Reply: 1.
    pub(super) fn uncount(&self, names: &IdentityNames, given_back: &GiveBack<'_>) -> Call<'_> {
        let mut call = self.uncount.call(&[
            &names.key_limits,
            &names.key_quota,
            &names.limits,
            &names.quota,
        ]);
        call.arg(given_back.cost.get())
            .arg(given_back.now_ms)
            .arg(given_back.key_counters)
            .arg(given_back.identity_entry)
            .arg(given_back.key_period)
            .arg(given_back.identity_period);
        call
    }

    /// `replace_if_newer.lua`.
    /// - KEYS: entry.
    /// - ARGV: 1 the new entry, 2 its version, 3 its TTL ms, 4 `1` to write only over an
    ///   entry that is there.
    /// - Reply: 1 when written, 0 when the cached entry was as new or newer (or absent, with
    ///   ARGV 4).
    pub(super) fn replace_if_newer(
        &self,
        entry_key: &str,
        entry: Vec<u8>,
        version: u64,
        ttl: Duration,
        only_present: bool,
    ) -> Call<'_> {
        let mut call = self.replace_if_newer.call(&[entry_key]);
        call.arg(entry)
            .arg(version)
            .arg(millis(ttl))
            .arg(if only_present { "1" } else { "0" });
        call
    }

    /// `take_usage.lua`.
    /// - KEYS: the key's usage counts, its counts being folded.
    /// - ARGV: 1 an id for a new fold, 2 the TTL in seconds of the counts being folded.
    /// - Reply: the fields of the counts being folded (a fold left unfinished, or the
    ///   counts just moved there with `#` set to the new id), as `HGETALL` gives them;
    ///   empty when there is nothing to fold.
    pub(super) fn take_usage(&self, usage: &str, folding: &str, fold_id: &str) -> Call<'_> {
        let mut call = self.take_usage.call(&[usage, folding]);
        call.arg(fold_id).arg(FOLDING_TTL.as_secs());
        call
    }

    /// `release_usage.lua`.
    /// - KEYS: the key's counts being folded.
    /// - ARGV: 1 the fold's id.
    /// - Reply: 1 when deleted, 0 when they belong to another fold (or are gone).
    pub(super) fn release_usage(&self, folding: &str, fold_id: &str) -> Call<'_> {
        let mut call = self.release_usage.call(&[folding]);
        call.arg(fold_id);
        call
    }
}

/// How long a key's usage counts wait for a fold before Redis drops them: the fold runs
/// every minute, so only a fold job stopped for two days loses counts this way.
pub(super) const USAGE_TTL: Duration = Duration::from_secs(2 * 86_400);
/// How long counts taken by a fold that did not finish wait for the next one.
pub(super) const FOLDING_TTL: Duration = Duration::from_secs(7 * 86_400);

/// Whole milliseconds, at least 1 (Redis refuses a TTL of 0).
pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

pub(super) fn parse_read(reply: Vec<redis::Value>) -> Result<Read, CacheError> {
    use redis::FromRedisValue;
    let mut items = reply.into_iter();
    let first_use = i64::from_redis_value(items.next().ok_or_else(|| corrupt("nothing"))?)
        .map_err(|_| corrupt("a bad marker"))?
        == 1;
    let value = Option::<Vec<u8>>::from_redis_value(items.next().unwrap_or(redis::Value::Nil))
        .map_err(|_| corrupt("a bad entry"))?;
    let lookup = lookup_of(value)?;
    let rest: Vec<redis::Value> = items.collect();
    let mut counted = Counted::default();
    if let [now, segment @ ..] = rest.as_slice() {
        let lengths = lookup_windows(&lookup);
        let (c, rest) = parse_counted(count(now)?, segment, &lengths)?;
        if !rest.is_empty() {
            return Err(corrupt("more counts than limits"));
        }
        counted = c;
    }
    Ok(Read {
        lookup,
        first_use,
        counted,
        presented: false,
    })
}

fn corrupt(what: &str) -> CacheError {
    CacheError::Corrupt(format!("a script returned {what}"))
}

fn int(v: &redis::Value) -> Result<i64, CacheError> {
    use redis::FromRedisValue;
    i64::from_redis_value_ref(v).map_err(|_| corrupt("a bad counter"))
}

fn count(v: &redis::Value) -> Result<u64, CacheError> {
    int(v).map(|n| n.max(0) as u64)
}

/// One subject's counts from a script's reply (`{quota left, flags, period}`, then
/// `previous, current` per limit of `window_ms`), and what follows them.
pub(super) fn parse_counted<'v>(
    now: u64,
    segment: &'v [redis::Value],
    window_ms: &[u64],
) -> Result<(Counted, &'v [redis::Value]), CacheError> {
    use redis::FromRedisValue;
    let [left, flags, period, windows @ ..] = segment else {
        return Err(corrupt("too few counts"));
    };
    let (left, flags) = (int(left)?, int(flags)?);
    if windows.len() < 2 * window_ms.len() {
        return Err(corrupt("a window count for each limit"));
    }
    let (windows, rest) = windows.split_at(2 * window_ms.len());
    let mut counted = Counted::default();
    for (pair, window_ms) in windows.chunks(2).zip(window_ms) {
        counted.windows.push(WindowCount {
            previous: count(&pair[0])?,
            current: count(&pair[1])?,
            elapsed_ms: now % window_ms,
        });
    }
    if left >= 0 {
        counted.quota = Some(QuotaCounted {
            remaining: left as u64,
            exhausted: flags & 1 != 0,
            refilled: flags & 2 != 0,
            period: String::from_redis_value_ref(period).map_err(|_| corrupt("a bad period"))?,
        });
    }
    Ok((counted, rest))
}

/// Redis's now in ms, as a script reports it.
pub(super) fn parse_now(v: &redis::Value) -> Result<u64, CacheError> {
    count(v)
}

/// The window lengths of the entry's limits in ms, in its order, as the script read them.
fn lookup_windows(lookup: &Lookup) -> Vec<u64> {
    match lookup {
        Lookup::Known(entry) => window_ms(&entry.limits()),
        _ => Vec::new(),
    }
}

/// The window lengths of `limits` in ms, in their order.
pub(super) fn window_ms(limits: &Limits) -> Vec<u64> {
    limits
        .as_slice()
        .iter()
        .map(|l| l.window_seconds * 1000)
        .collect()
}
