//! The in-process rows: verification on a cache hit, on a cache miss and on a malformed key,
//! and issue/revoke for reference. Each subject is timed alternately with its baseline, one
//! iteration each in turn, so both see the same machine at the same moment: on a shared
//! 2-core box that matters more than the number of samples.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use keygate::cache::Cache;
use keygate::config::Config;
use keygate::domain::key::{ApiKey, KeyHash};
use keygate::domain::limit::{
    Limit, Limits, Quota, RateLimit, MAX_LIMITS, MAX_QUOTA, MAX_RATE_LIMIT, MAX_WINDOW_SECONDS,
};
use keygate::domain::outcome::{Outcome, Source};
use keygate::domain::role::Role;
use keygate::edge::auth::check_credential;
use keygate::edge::verify_api::{verify_with_credential, VerifyRequest, VERIFY_ROLE};
use keygate::ops::admins::{create, NewAdmin};
use keygate::ops::identities::{self, NewIdentity};
use keygate::ops::issue::{issue, NewKey};
use keygate::ops::revoke::revoke;
use keygate::ops::verify::{verify, verify_admin};
use keygate::store::{create_table, Store};
use keygate::App;
use redis::aio::MultiplexedConnection;

use crate::stats::{verdict, Latency, Spread};
use crate::{BenchError, Settings};

pub struct Bench {
    pub app: App,
    /// The baseline's own connection, of the same type the cache uses.
    raw: MultiplexedConnection,
    /// The same, with the per-command timeout the cache sets on its connection.
    raw_timed: MultiplexedConnection,
    /// For set-up between timed iterations (deleting entries).
    admin: MultiplexedConnection,
    settings: Settings,
}

impl Bench {
    pub async fn new(settings: &Settings) -> Result<Self, BenchError> {
        let config = bench_config(settings)?;
        let app = App::from_config(config)
            .await
            .map_err(|e| BenchError(format!("Redis: {e}")))?;
        create_table(app.store.client(), app.store.table())
            .await
            .map_err(|e| BenchError(format!("creating the bench table: {e}")))?;
        let client = redis::Client::open(settings.redis_url.as_str())?;
        let timeout = app.cache.settings().timeout;
        let raw_timed = client
            .get_multiplexed_async_connection_with_config(
                &redis::AsyncConnectionConfig::new()
                    .set_response_timeout(Some(timeout))
                    .set_connection_timeout(Some(timeout * 4)),
            )
            .await?;
        Ok(Self {
            raw_timed,
            app,
            raw: client.get_multiplexed_async_connection().await?,
            admin: client.get_multiplexed_async_connection().await?,
            settings: settings.clone(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.app.store
    }

    pub fn cache(&self) -> &Cache {
        &self.app.cache
    }

    pub async fn issue_key(&self, name: &str) -> Result<String, BenchError> {
        self.issue_new(plain_key(name)).await
    }

    /// A key with this rate limit and the largest quota, so no iteration is refused.
    pub async fn issue_limited_key(
        &self,
        name: &str,
        rate_limit: RateLimit,
    ) -> Result<String, BenchError> {
        self.issue_with_limits(name, Limits::from_rate_limit(Some(rate_limit)))
            .await
    }

    /// A key with these limits and the largest quota.
    pub async fn issue_with_limits(
        &self,
        name: &str,
        limits: Limits,
    ) -> Result<String, BenchError> {
        self.issue_new(NewKey {
            limits,
            quota: Some(Quota::set(MAX_QUOTA, None, 0, Utc::now())),
            ..plain_key(name)
        })
        .await
    }

    /// A key without limits of its own, in a new identity with the largest limit and
    /// quota: every request is counted by the identity's script, none refused.
    pub async fn issue_identity_key(&self, name: &str) -> Result<String, BenchError> {
        let limits = Limits::from_rate_limit(Some(RateLimit {
            limit: MAX_RATE_LIMIT,
            window_seconds: MAX_WINDOW_SECONDS,
        }));
        let new = NewIdentity {
            // Unique in the table, which later runs may reuse.
            external_id: format!("{name}-{}", Utc::now().timestamp_micros()),
            meta: None,
            limits,
            quota: Some(Quota::set(MAX_QUOTA, None, 0, Utc::now())),
        };
        let identity = identities::create(&self.app, new, Utc::now(), &Default::default())
            .await
            .map_err(|e| BenchError(format!("creating an identity: {e}")))?;
        self.issue_new(NewKey {
            identity_id: Some(identity.id),
            ..plain_key(name)
        })
        .await
    }

    /// An admin credential (`kga_…`) with the `read` role.
    pub async fn create_admin(&self, name: &str) -> Result<String, BenchError> {
        self.create_admin_with(name, Role::Read).await
    }

    pub async fn create_admin_with(&self, name: &str, role: Role) -> Result<String, BenchError> {
        let new = NewAdmin {
            name: name.to_owned(),
            role,
            expires_at: None,
        };
        let created = create(&self.app, new, Utc::now(), &Default::default())
            .await
            .map_err(|e| BenchError(format!("creating an admin credential: {e}")))?;
        Ok(created.key.expose().to_owned())
    }

    async fn issue_new(&self, new: NewKey) -> Result<String, BenchError> {
        let issued = issue(&self.app, new, Utc::now(), &Default::default())
            .await
            .map_err(|e| BenchError(format!("issuing a key: {e}")))?;
        Ok(issued.key.expose().to_owned())
    }

    async fn del(&mut self, redis_key: &str) -> Result<(), BenchError> {
        let _: i64 = redis::cmd("DEL")
            .arg(redis_key)
            .query_async(&mut self.admin)
            .await?;
        Ok(())
    }

    /// Deletes every entry this run wrote, so repeated runs leave Redis as they found it.
    pub async fn clean_up(&mut self) -> Result<(), BenchError> {
        let pattern = format!("{}:*", self.settings.namespace);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(&pattern)
            .query_async(&mut self.admin)
            .await?;
        for key in keys {
            self.del(&key).await?;
        }
        Ok(())
    }
}

/// A key with a name and nothing else.
pub(crate) fn plain_key(name: &str) -> NewKey {
    NewKey {
        name: name.to_owned(),
        expires_at: None,
        owner: None,
        identity_id: None,
        meta: None,
        scopes: Default::default(),
        limits: Limits::default(),
        quota: None,
        self_rotation: false,
    }
}

fn hash_of(raw: &str) -> KeyHash {
    ApiKey::parse(raw)
        .or_else(|_| ApiKey::parse_admin(raw))
        .expect("an issued key parses")
        .hash()
}

/// Which verification a hit row times: a client key's (the guard's) or an admin
/// credential's (every admin request's).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Client,
    Admin,
}

async fn verify_as(b: &Bench, kind: Kind, raw: &str) -> keygate::domain::outcome::Verification {
    match kind {
        Kind::Client => verify(b.store(), b.cache(), raw, Utc::now()).await,
        Kind::Admin => verify_admin(b.store(), b.cache(), raw, Utc::now()).await,
    }
}

fn expect_source(got: Source, want: Source, what: &str) -> Result<(), BenchError> {
    if got == want {
        Ok(())
    } else {
        Err(BenchError(format!(
            "{what}: verification answered from {got:?}, expected {want:?}; the figure would \
             measure the wrong path"
        )))
    }
}

/// Row 1: a cache hit against a raw GET of the same entry over a separate
/// `MultiplexedConnection`: the one round trip a hit cannot avoid.
pub async fn cache_hit(b: &mut Bench, out: &mut String) -> Result<(), BenchError> {
    let raw_key = b.issue_key("bench-hit").await?;
    let hit = measure_hits(b, &raw_key, Kind::Client).await?;
    writeln!(
        out,
        "| 1. Verify, cache hit (Redis, {}-byte entry) | {} | {} | raw `GET` of the same entry, same connection type: p50 {}, p99 {} | p50 ×{} | ≤ 1.10: {} |",
        hit.value_len,
        hit.subject.p50.show(1, "µs"),
        hit.subject.p99.show(1, "µs"),
        hit.floor.p50.show(1, "µs"),
        hit.floor.p99.show(1, "µs"),
        hit.ratio.ratio(),
        verdict(hit.ratio.median() <= 1.10),
    )
    .ok();
    writeln!(
        out,
        "| 1b. the same hit vs a `GET` with the cache's per-command timeout | (as above) | | raw `GET`, connection with `response_timeout` {} ms: p50 {}, p99 {} | p50 ×{} | reference |",
        b.cache().settings().timeout.as_millis(),
        hit.timed.p50.show(1, "µs"),
        hit.timed.p99.show(1, "µs"),
        hit.ratio_timed.ratio(),
    )
    .ok();
    Ok(())
}

/// Row 1c: a cache hit of a key with a rate limit and a quota: the same one script, which
/// now also counts the request (INCR, HMGET, HSET), against the same raw GET.
pub async fn cache_hit_limited(b: &mut Bench, out: &mut String) -> Result<(), BenchError> {
    let raw_key = b
        .issue_limited_key(
            "bench-hit-limited",
            RateLimit {
                limit: MAX_RATE_LIMIT,
                window_seconds: MAX_WINDOW_SECONDS,
            },
        )
        .await?;
    let hit = measure_hits(b, &raw_key, Kind::Client).await?;
    hit_row(
        out,
        "1c. Verify, cache hit, key with a rate limit and a quota (counted in the same script)",
        &hit,
        1.15,
        "",
    );
    Ok(())
}

/// Row 1f: as row 1c with the most limits a key may have, five named limits of different
/// windows: what each further limit costs the script.
pub async fn cache_hit_five_limits(b: &mut Bench, out: &mut String) -> Result<(), BenchError> {
    let limits = (0..MAX_LIMITS as u64)
        .map(|i| Limit {
            name: format!("limit_{i}"),
            limit: MAX_RATE_LIMIT,
            window_seconds: MAX_WINDOW_SECONDS >> i,
        })
        .collect();
    let limits = Limits::new(limits).map_err(|e| BenchError(e.to_string()))?;
    let raw_key = b.issue_with_limits("bench-hit-five-limits", limits).await?;
    let hit = measure_hits(b, &raw_key, Kind::Client).await?;
    hit_row(
        out,
        "1f. Verify, cache hit, key with five named limits and a quota",
        &hit,
        1.15,
        "",
    );
    Ok(())
}

/// Row 1g, "identity": a cache hit of a key without limits of its own whose identity has a
/// limit and a quota: the key's read and the identity's script in its own hash slot, sent
/// together once the instance knows the key (one round trip; the warm-up's first request
/// took two; see the README's "What a request costs").
pub async fn cache_hit_identity(b: &mut Bench, out: &mut String) -> Result<(), BenchError> {
    let raw_key = b.issue_identity_key("bench-hit-identity").await?;
    let hit = measure_hits(b, &raw_key, Kind::Client).await?;
    hit_row(
        out,
        "1g. identity: verify, cache hit, key whose identity has a limit and a quota (both scripts in one round trip)",
        &hit,
        1.15,
        "",
    );
    Ok(())
}

/// Rows 1h to 1j: what the Redis commands of a counted hit cost on their own, sent raw on
/// the bench's connection (no key parsing, no hashing, no JSON), against a raw `GET` of the
/// same entry in the same run. They separate what Keygate adds from what Redis and the
/// loopback round trip cost, and show the least any design could reach: 1j sends the
/// fewest commands that can count a request exactly against a sliding-window limit and a
/// quota in one round trip, without Lua (the usage count, the entry, the current window's
/// increment and the previous window's read, the quota's increment).
pub async fn hit_floors(b: &mut Bench, out: &mut String) -> Result<(), BenchError> {
    let plain_key = b.issue_key("bench-floor").await?;
    let limited_key = b
        .issue_limited_key(
            "bench-floor-limited",
            RateLimit {
                limit: MAX_RATE_LIMIT,
                window_seconds: MAX_WINDOW_SECONDS,
            },
        )
        .await?;
    // A first verification of each misses and fills the entry, as in the hit rows.
    for raw in [&plain_key, &limited_key] {
        verify(b.store(), b.cache(), raw, Utc::now()).await;
    }
    let (plain, limited) = (hash_of(&plain_key), hash_of(&limited_key));
    let ns = b.settings.namespace.clone();
    let usage_of = |hash: &KeyHash| format!("{ns}:usage:{{{}}}", hash.to_hex());
    let field = format!("{}:p", Utc::now().format("%Y%m%d%H"));
    let cache = b.cache();

    // Row 1's read of a key without limits: the entry, the last-used marker, the usage count.
    let mut row1 = redis::pipe();
    row1.cmd("GET")
        .arg(cache.entry_key(&plain))
        .cmd("SET")
        .arg(cache.used_key(&plain))
        .arg(1)
        .arg("NX")
        .arg("PX")
        .arg(60_000)
        .cmd("HINCRBY")
        .arg(usage_of(&plain))
        .arg(&field)
        .arg(1);

    // Row 1c's script, loaded from the same files the cache loads it from, with the same
    // keys and arguments (`cache/scripts.rs` states them): it reads, marks, counts the
    // usage and counts the request against a rate limit and a quota.
    const VERIFY_LUA: &str = concat!(
        include_str!("../../shared/src/cache/counters.lua"),
        include_str!("../../shared/src/cache/verify.lua")
    );
    let script = redis::Script::new(VERIFY_LUA);
    let _: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(VERIFY_LUA)
        .query_async(&mut b.admin.clone())
        .await?;
    let (limits, quota) = cache.counter_keys(&limited);
    let mut script_call = redis::pipe();
    script_call
        .cmd("EVALSHA")
        .arg(script.get_hash())
        .arg(5)
        .arg(cache.entry_key(&limited))
        .arg(cache.used_key(&limited))
        .arg(&limits)
        .arg(&quota)
        .arg(usage_of(&limited))
        .arg(60_000)
        .arg(Utc::now().timestamp_millis())
        .arg(86_400_000)
        .arg("1")
        .arg("0")
        .arg(1)
        .arg(&field)
        .arg(172_800)
        .arg(Utc::now().format("%Y-%m-%d").to_string())
        .arg(Utc::now().format("%Y-%m").to_string());

    // The fewest commands of an exact count without Lua, on scratch names in the key's slot.
    let slot = format!("{ns}:floor:{{{}}}", limited.to_hex());
    let window = Utc::now().timestamp() / MAX_WINDOW_SECONDS as i64;
    let mut lua_free = redis::pipe();
    lua_free
        .cmd("GET")
        .arg(cache.entry_key(&limited))
        .cmd("HINCRBY")
        .arg(usage_of(&limited))
        .arg(&field)
        .arg(1)
        .cmd("HINCRBY")
        .arg(format!("{slot}:windows"))
        .arg(window)
        .arg(1)
        .cmd("HGET")
        .arg(format!("{slot}:windows"))
        .arg(window - 1)
        .cmd("HINCRBY")
        .arg(format!("{slot}:quota"))
        .arg("used")
        .arg(1);

    let rows = [
        (
            "1h. Floor of row 1: its three commands sent raw in one pipeline (`GET`, `SET NX PX`, `HINCRBY`)",
            &plain,
            &row1,
            None,
        ),
        (
            "1i. Floor of row 1c: its script sent raw (`verify.lua`, the same key and arguments)",
            &limited,
            &script_call,
            None,
        ),
        (
            "1j. Floor of any exact count in one round trip: the fewest commands without Lua (`GET`; `HINCRBY` usage; `HINCRBY` + `HGET` of a window; `HINCRBY` of a quota)",
            &limited,
            &lua_free,
            Some(1.15),
        ),
    ];
    let rows =
        rows.map(|(label, hash, subject, goal)| (label, cache.entry_key(hash), subject, goal));
    for (label, entry_key, subject, goal) in rows {
        let floor = measure_raw(b, &entry_key, subject).await?;
        let goal = match goal {
            Some(goal) => format!(
                "rows 1c, 1f and 1g can be ≤ {goal:.2} only if this is: {}",
                verdict(floor.ratio.median() <= goal)
            ),
            None => "reference".to_owned(),
        };
        raw_get_row(out, label, &floor, &goal);
    }
    Ok(())
}

/// A pipeline sent raw, alternating with a raw `GET` of `entry_key`, as the hit rows are
/// measured.
async fn measure_raw(
    b: &mut Bench,
    entry_key: &str,
    subject: &redis::Pipeline,
) -> Result<Hits, BenchError> {
    let (iterations, warm_up) = (b.settings.hit_iterations, b.settings.hit_iterations / 4);
    let mut hits = Hits::default();
    for run in 0..=b.settings.runs {
        let (mut s, mut f) = (Vec::new(), Vec::new());
        let n = if run == 0 { warm_up } else { iterations };
        for i in 0..n {
            for step in [i % 2, (i + 1) % 2] {
                let started = Instant::now();
                if step == 0 {
                    let v: redis::Value = subject.query_async(&mut b.raw).await?;
                    s.push(started.elapsed());
                    black_box(v);
                } else {
                    let v: Option<Vec<u8>> = redis::cmd("GET")
                        .arg(entry_key)
                        .query_async(&mut b.raw)
                        .await?;
                    f.push(started.elapsed());
                    if v.is_none() {
                        return Err(BenchError(format!(
                            "{entry_key} is not cached; the floor would measure a miss"
                        )));
                    }
                }
            }
        }
        if run > 0 {
            let (sp50, _) = hits.subject.add_run(s);
            let (fp50, _) = hits.floor.add_run(f);
            hits.ratio.push(sp50 / fp50);
        }
    }
    Ok(hits)
}

/// A hit row against the raw GET of the same entry, with its goal for the p50 ratio.
fn hit_row(out: &mut String, label: &str, hit: &Hits, goal: f64, goal_note: &str) {
    let verdict = verdict(hit.ratio.median() <= goal);
    raw_get_row(
        out,
        label,
        hit,
        &format!("≤ {goal:.2}{goal_note}: {verdict}"),
    );
}

/// A row of figures against the raw GET of the same entry, with its goal cell as given.
fn raw_get_row(out: &mut String, label: &str, hit: &Hits, goal: &str) {
    writeln!(
        out,
        "| {label} | {} | {} | raw `GET` of the same entry: p50 {}, p99 {} | p50 ×{} | {goal} |",
        hit.subject.p50.show(1, "µs"),
        hit.subject.p99.show(1, "µs"),
        hit.floor.p50.show(1, "µs"),
        hit.floor.p99.show(1, "µs"),
        hit.ratio.ratio(),
    )
    .ok();
}

/// Row 1d: an admin credential on a cache hit, the check in front of every admin request:
/// the same one round trip as a client key's hit, against the same raw GET.
pub async fn cache_hit_admin(b: &mut Bench, out: &mut String) -> Result<(), BenchError> {
    let raw = b.create_admin("bench-admin").await?;
    let hit = measure_hits(b, &raw, Kind::Admin).await?;
    hit_row(
        out,
        "1d. Verify an admin credential, cache hit",
        &hit,
        1.10,
        " (as row 1)",
    );
    Ok(())
}

/// Row 1e: the verify API on a cache hit (a `verify` credential and a plain key, both
/// cached) against the guard's cache hit of the same key, alternated in the same run, and
/// against the two checks one after the other. The API checks both at once over the one
/// multiplexed connection, so it adds no round trip: its p50 must stay below the guard's
/// plus one raw `GET` (a round trip's floor, measured in the same run), where checking
/// one after the other pays that round trip.
pub async fn verify_api_hit(b: &mut Bench, out: &mut String) -> Result<(), BenchError> {
    let raw_key = b.issue_key("bench-verify-api").await?;
    let credential = b.create_admin_with("bench-verify-api", VERIFY_ROLE).await?;
    let entry_key = b.cache().entry_key(&hash_of(&raw_key));
    let request = VerifyRequest {
        key: raw_key.clone(),
        scopes: Default::default(),
        cost: Default::default(),
    };
    // The first of each misses and fills its entry.
    verify_with_credential(&b.app, &credential, &request)
        .await
        .map_err(|e| BenchError(format!("the verify API refused the bench: {e}")))?;

    let (iterations, warm_up) = (b.settings.hit_iterations, b.settings.hit_iterations / 4);
    let (mut api, mut guard, mut sequential, mut get) = (
        Latency::default(),
        Latency::default(),
        Latency::default(),
        Latency::default(),
    );
    let (mut ratio, mut added) = (Spread::default(), Spread::default());
    for run in 0..=b.settings.runs {
        let (mut a, mut g, mut s, mut f) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let n = if run == 0 { warm_up } else { iterations };
        for i in 0..n {
            for step in [i % 4, (i + 1) % 4, (i + 2) % 4, (i + 3) % 4] {
                let started = Instant::now();
                match step {
                    0 => {
                        let answer = verify_with_credential(&b.app, &credential, &request)
                            .await
                            .map_err(|e| BenchError(format!("verify API: {e}")))?;
                        a.push(started.elapsed());
                        if answer.code != "VALID" {
                            return Err(BenchError(format!(
                                "the verify API answered {}; the figure would measure a refusal",
                                answer.code
                            )));
                        }
                    }
                    1 => {
                        let v = verify(b.store(), b.cache(), &raw_key, Utc::now()).await;
                        g.push(started.elapsed());
                        expect_source(v.source, Source::Cache, "guard hit")?;
                    }
                    2 => {
                        let caller = check_credential(&b.app, &credential, VERIFY_ROLE).await;
                        let v = verify(b.store(), b.cache(), &raw_key, Utc::now()).await;
                        s.push(started.elapsed());
                        caller.map_err(|e| BenchError(format!("credential: {e}")))?;
                        expect_source(v.source, Source::Cache, "sequential hit")?;
                    }
                    _ => {
                        let v: Option<Vec<u8>> = redis::cmd("GET")
                            .arg(&entry_key)
                            .query_async(&mut b.raw)
                            .await?;
                        f.push(started.elapsed());
                        black_box(v);
                    }
                }
            }
        }
        if run > 0 {
            let (ap50, _) = api.add_run(a);
            let (gp50, _) = guard.add_run(g);
            sequential.add_run(s);
            let (fp50, _) = get.add_run(f);
            ratio.push(ap50 / gp50);
            // What the API adds to the guard's hit, in round trips (raw GETs) of this run.
            added.push((ap50 - gp50) / fp50);
        }
    }
    writeln!(
        out,
        "| 1e. Verify API, cache hit (`verify` credential + key, checked at once) | {} | {} | the guard's hit of the same key: p50 {}, p99 {}; the two checks one after the other: p50 {}; raw `GET`: p50 {} | p50 ×{}; added: {} raw `GET`s | added < 1 round trip: {} |",
        api.p50.show(1, "µs"),
        api.p99.show(1, "µs"),
        guard.p50.show(1, "µs"),
        guard.p99.show(1, "µs"),
        sequential.p50.show(1, "µs"),
        get.p50.show(1, "µs"),
        ratio.ratio(),
        added.ratio(),
        verdict(added.median() < 1.0),
    )
    .ok();
    Ok(())
}

#[derive(Default)]
struct Hits {
    subject: Latency,
    floor: Latency,
    timed: Latency,
    ratio: Spread,
    ratio_timed: Spread,
    value_len: usize,
}

/// Cache-hit verifications of `raw_key`, each run alternating with raw GETs of its entry
/// (plain, and with the cache's response timeout).
async fn measure_hits(b: &mut Bench, raw_key: &str, kind: Kind) -> Result<Hits, BenchError> {
    let entry_key = b.cache().entry_key(&hash_of(raw_key));
    // The first verification misses and fills the entry.
    verify_as(b, kind, raw_key).await;

    let (iterations, warm_up) = (b.settings.hit_iterations, b.settings.hit_iterations / 4);
    let mut hits = Hits::default();
    for run in 0..=b.settings.runs {
        let (mut s, mut f, mut t) = (Vec::new(), Vec::new(), Vec::new());
        let n = if run == 0 { warm_up } else { iterations };
        for i in 0..n {
            // Rotate which goes first, so none always follows another.
            for step in [i % 3, (i + 1) % 3, (i + 2) % 3] {
                if step == 0 {
                    let started = Instant::now();
                    let v = verify_as(b, kind, raw_key).await;
                    s.push(started.elapsed());
                    expect_source(v.source, Source::Cache, "cache hit")?;
                    if !matches!(v.outcome, Outcome::Valid(_)) {
                        return Err(BenchError(format!(
                            "the key was refused ({}); the figure would measure a refusal",
                            v.outcome.name()
                        )));
                    }
                } else {
                    let conn = if step == 1 {
                        &mut b.raw
                    } else {
                        &mut b.raw_timed
                    };
                    let started = Instant::now();
                    let v: Option<Vec<u8>> =
                        redis::cmd("GET").arg(&entry_key).query_async(conn).await?;
                    let elapsed = started.elapsed();
                    if step == 1 {
                        f.push(elapsed)
                    } else {
                        t.push(elapsed)
                    }
                    hits.value_len = black_box(v).map_or(0, |v| v.len());
                }
            }
        }
        // Run 0 only warms connections, caches and branch predictors.
        if run > 0 {
            let (sp50, _) = hits.subject.add_run(s);
            let (fp50, _) = hits.floor.add_run(f);
            let (tp50, _) = hits.timed.add_run(t);
            hits.ratio.push(sp50 / fp50);
            hits.ratio_timed.push(sp50 / tp50);
        }
    }
    Ok(hits)
}

/// Row 2: a cache miss (GET miss, strongly consistent GetItem, SET NX fill) against the
/// raw GetItem alone, and against the three raw calls in a row (the path's own floor).
pub async fn cache_miss(b: &mut Bench, out: &mut String) -> Result<(), BenchError> {
    let raw_key = b.issue_key("bench-miss").await?;
    let hash = hash_of(&raw_key);
    let entry_key = b.cache().entry_key(&hash);
    let pk = AttributeValue::S(format!("KEY#{}", hash.to_hex()));
    let table = b.store().table().to_owned();
    let client = b.store().client().clone();
    // Filled once so the baseline writes the same bytes the cache does.
    verify(b.store(), b.cache(), &raw_key, Utc::now()).await;
    let entry: Vec<u8> = redis::cmd("GET")
        .arg(&entry_key)
        .query_async(&mut b.raw)
        .await?;

    let iterations = b.settings.miss_iterations;
    let (mut subject, mut get_item, mut three) =
        (Latency::default(), Latency::default(), Latency::default());
    let (mut ratio_get_item, mut ratio_three) = (Spread::default(), Spread::default());
    for run in 0..=b.settings.runs {
        let (mut s, mut g, mut t) = (Vec::new(), Vec::new(), Vec::new());
        let n = if run == 0 { iterations / 4 } else { iterations };
        for i in 0..n {
            for step in [i % 3, (i + 1) % 3, (i + 2) % 3] {
                // Outside the timed region: the entry goes, so the next read misses.
                b.del(&entry_key).await?;
                match step {
                    0 => {
                        let started = Instant::now();
                        let v = verify(b.store(), b.cache(), &raw_key, Utc::now()).await;
                        s.push(started.elapsed());
                        expect_source(v.source, Source::Database, "cache miss")?;
                    }
                    1 => {
                        let started = Instant::now();
                        let item = client
                            .get_item()
                            .table_name(&table)
                            .key("pk", pk.clone())
                            .consistent_read(true)
                            .send()
                            .await
                            .map_err(|e| BenchError(format!("GetItem: {e}")))?;
                        g.push(started.elapsed());
                        black_box(item);
                    }
                    _ => {
                        let started = Instant::now();
                        let miss: Option<Vec<u8>> = redis::cmd("GET")
                            .arg(&entry_key)
                            .query_async(&mut b.raw)
                            .await?;
                        let item = client
                            .get_item()
                            .table_name(&table)
                            .key("pk", pk.clone())
                            .consistent_read(true)
                            .send()
                            .await
                            .map_err(|e| BenchError(format!("GetItem: {e}")))?;
                        let _: Option<String> = redis::cmd("SET")
                            .arg(&entry_key)
                            .arg(&entry)
                            .arg("NX")
                            .arg("PX")
                            .arg(300_000)
                            .query_async(&mut b.raw)
                            .await?;
                        t.push(started.elapsed());
                        black_box((miss, item));
                    }
                }
            }
        }
        if run > 0 {
            let (sp50, _) = subject.add_run(s);
            let (gp50, _) = get_item.add_run(g);
            let (tp50, _) = three.add_run(t);
            ratio_get_item.push(sp50 / gp50);
            ratio_three.push(sp50 / tp50);
        }
    }
    let met = ratio_get_item.median() <= 1.10;
    writeln!(
        out,
        "| 2. Verify, cache miss (DynamoDB Local) | {} | {} | raw consistent `GetItem` of the same item: p50 {}, p99 {} | p50 ×{} | ≤ 1.10: {} |",
        subject.p50.show(0, "µs"),
        subject.p99.show(0, "µs"),
        get_item.p50.show(0, "µs"),
        get_item.p99.show(0, "µs"),
        ratio_get_item.ratio(),
        verdict(met),
    )
    .ok();
    writeln!(
        out,
        "| 2b. the same miss vs its own floor | (as above) | | raw `GET` + `GetItem` + `SET NX PX`, in a row: p50 {}, p99 {} | p50 ×{} | reference |",
        three.p50.show(0, "µs"),
        three.p99.show(0, "µs"),
        ratio_three.ratio(),
    )
    .ok();
    Ok(())
}

/// Row 3: a key with a bad checksum, through the same `verify`, on this one thread.
pub async fn malformed(b: &mut Bench, out: &mut String) -> Result<(), BenchError> {
    let good = b.issue_key("bench-malformed").await?;
    // Flip one hex digit of the secret: right length and alphabet, wrong checksum.
    let mut bytes = good.into_bytes();
    bytes[10] = if bytes[10] == b'0' { b'1' } else { b'0' };
    let bad = String::from_utf8(bytes).expect("hex stays ASCII");

    let n = b.settings.malformed_iterations;
    let (mut rate, mut per) = (Spread::default(), Spread::default());
    for run in 0..=b.settings.runs {
        let started = Instant::now();
        for _ in 0..n {
            let v = verify(b.store(), b.cache(), black_box(&bad), Utc::now()).await;
            // Format means the function returned before touching Redis or DynamoDB.
            if v.source != Source::Format {
                return Err(BenchError(format!(
                    "a malformed key reached {:?}",
                    v.source
                )));
            }
            black_box(v);
        }
        let elapsed = started.elapsed();
        if run > 0 {
            rate.push(n as f64 / elapsed.as_secs_f64());
            per.push(elapsed.as_secs_f64() * 1e9 / n as f64);
        }
    }
    let (m, lo, hi) = (rate.median(), rate.min(), rate.max());
    writeln!(
        out,
        "| 3. Verify, malformed key (bad checksum) | {} per verification | | zero I/O (answered from `Source::Format`) | **{:.2} M/s** ({:.2}–{:.2}) on one core | > 1 M/s: {} |",
        per.show(0, "ns"),
        m / 1e6,
        lo / 1e6,
        hi / 1e6,
        verdict(m > 1e6),
    )
    .ok();
    Ok(())
}

/// Row 7: issue (PutItem) and revoke (UpdateItem, then SET), for reference.
pub async fn issue_revoke(b: &mut Bench, out: &mut String) -> Result<(), BenchError> {
    let n = b.settings.issue_iterations;
    let (mut issued, mut revoked) = (Latency::default(), Latency::default());
    for run in 0..=b.settings.runs {
        let (mut i_samples, mut r_samples, mut keys) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let started = Instant::now();
            let key = b.issue_key(&format!("bench-issue-{run}-{i}")).await?;
            i_samples.push(started.elapsed());
            keys.push(key);
        }
        for key in &keys {
            let started = Instant::now();
            revoke(&b.app, key, Utc::now(), &Default::default())
                .await
                .map_err(|e| BenchError(format!("revoking: {e}")))?;
            r_samples.push(started.elapsed());
        }
        if run > 0 {
            issued.add_run(i_samples);
            revoked.add_run(r_samples);
        }
    }
    for (name, l) in [
        ("7. Issue (PutItem)", &issued),
        ("7. Revoke (UpdateItem + SET)", &revoked),
    ] {
        writeln!(
            out,
            "| {name} | {} | {} | | | reference |",
            l.p50.show(0, "µs"),
            l.p99.show(0, "µs"),
        )
        .ok();
    }
    Ok(())
}

pub async fn run_all(settings: &Settings) -> Result<String, BenchError> {
    let mut b = Bench::new(settings).await?;
    let mut out = String::new();
    writeln!(
        out,
        "| Row | p50 (median of {} runs, min–max) | p99 | Baseline, same run | Ratio | Goal |",
        settings.runs
    )
    .ok();
    out.push_str("|---|---|---|---|---|---|\n");
    // Issue and revoke run first: they warm DynamoDB Local's JVM for the miss row.
    let started = Instant::now();
    let mut reference = String::new();
    issue_revoke(&mut b, &mut reference).await?;
    eprintln!("keygate-bench: issue/revoke done ({:?})", started.elapsed());
    cache_hit(&mut b, &mut out).await?;
    cache_hit_limited(&mut b, &mut out).await?;
    cache_hit_five_limits(&mut b, &mut out).await?;
    cache_hit_identity(&mut b, &mut out).await?;
    hit_floors(&mut b, &mut out).await?;
    cache_hit_admin(&mut b, &mut out).await?;
    verify_api_hit(&mut b, &mut out).await?;
    eprintln!("keygate-bench: cache hit done ({:?})", started.elapsed());
    cache_miss(&mut b, &mut out).await?;
    eprintln!("keygate-bench: cache miss done ({:?})", started.elapsed());
    malformed(&mut b, &mut out).await?;
    eprintln!("keygate-bench: malformed done ({:?})", started.elapsed());
    out.push_str(&reference);
    b.clean_up().await?;
    Ok(out)
}

/// The config the functions get, read the way [`Config::from_env`] does, with the bench's
/// own table and namespace.
pub fn bench_config(settings: &Settings) -> Result<Config, BenchError> {
    let vars = [
        ("TABLE_NAME", settings.table.clone()),
        ("REDIS_URL", settings.redis_url.clone()),
        ("CACHE_KEY_PREFIX", settings.namespace.clone()),
    ];
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .map_err(|e| BenchError(format!("configuration: {e}")))
}
