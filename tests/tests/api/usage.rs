//! Usage: every answered verification counted once, by its outcome, per key, identity,
//! owner and in total; shown before it is folded; folded into DynamoDB once whatever
//! fails in between (a fold tried again, Redis restarted); read by range and granularity,
//! as JSON or CSV, by the `read` role.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use keygate::domain::usage::Hour;
use keygate::ops::usage::{fold_all, fold_key, Folded};
use keygate::store::{FoldTarget, FoldWrite};
use keygate_tests::services::RedisServer;
use keygate_tests::{alone, key_hash, spawn_app, Endpoints, TestApp};
use lambda_http::http::Method;
use serde_json::{json, Value};
use tokio::task::JoinSet;

async fn usage(app: &TestApp, query: &str) -> Value {
    let reply = app
        .admin_api(Method::GET, &format!("/usage?{query}"), None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

async fn totals(app: &TestApp, query: &str) -> Value {
    usage(app, query).await["totals"].clone()
}

async fn fold(app: &TestApp) {
    let report = fold_all(&app.app.store, &app.app.cache, Utc::now())
        .await
        .expect("the fold runs");
    assert_eq!(report.failed, 0, "{report:?}");
}

/// An instance with a generous Redis timeout: a slow reply on a busy machine must not
/// turn into an uncounted request (that path is tested on its own).
async fn patient(app: &TestApp) -> Arc<TestApp> {
    Arc::new(
        app.instance_with(app.endpoints(), &[("REDIS_TIMEOUT_MS", "5000")])
            .await,
    )
}

fn counts(valid: u64, rate_limited: u64, missing_scope: u64, revoked: u64, expired: u64) -> Value {
    json!({
        "valid": valid,
        "rate_limited": rate_limited,
        "quota_exhausted": 0,
        "missing_scope": missing_scope,
        "revoked": revoked,
        "expired": expired,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_through_several_instances_is_counted_once_per_request_by_outcome() {
    let alone = alone().await;
    let app = alone.spawn_app().await;
    let plain = app
        .issue_with(json!({"name": "plain", "scopes": ["read"]}))
        .await;
    let limited = app
        .issue_with(json!({"name": "limited", "rate_limit": {"limit": 7, "window_seconds": 3600}}))
        .await;
    let revoked = app.issue("revoked").await;
    assert_eq!(app.revoke(&revoked.key).await.status, 200);
    let expired = app.insert_expiring(-TimeDelta::hours(1)).await;
    let expired_id = app.stored(&expired.hash()).await.id.to_string();

    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(patient(&app).await);
    }
    let mut burst = JoinSet::new();
    for i in 0..120 {
        let instance = instances[i % 3].clone();
        let (plain, limited, revoked, expired) = (
            plain.key.clone(),
            limited.key.clone(),
            revoked.key.clone(),
            expired.expose().to_owned(),
        );
        burst.spawn(async move {
            match i % 6 {
                0 | 1 => instance.protected(&plain).await.status,
                2 => instance.protected_with_scope(&plain, "write").await.status,
                3 => instance.protected(&limited).await.status,
                4 => instance.protected(&revoked).await.status,
                _ => instance.protected(&expired).await.status,
            }
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = burst.join_next().await {
        statuses.push(status.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 13);

    // Counted before any fold, and the same after one.
    for folded in [false, true] {
        if folded {
            fold(&app).await;
        }
        let of = |id: &str| format!("key_id={id}");
        assert_eq!(
            totals(&app, &of(&plain.id)).await,
            counts(40, 0, 20, 0, 0),
            "folded: {folded}"
        );
        assert_eq!(totals(&app, &of(&limited.id)).await, counts(7, 13, 0, 0, 0));
        assert_eq!(totals(&app, &of(&revoked.id)).await, counts(0, 0, 0, 20, 0));
        assert_eq!(totals(&app, &of(&expired_id)).await, counts(0, 0, 0, 0, 20));
        assert_eq!(totals(&app, "").await, counts(47, 13, 20, 20, 20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_shows_at_once_in_its_hour_bucket() {
    let app = spawn_app().await;
    let key = app.issue("fresh").await;
    let made = Utc::now();
    for _ in 0..3 {
        assert_eq!(app.protected(&key.key).await.status, 200);
    }
    let body = usage(&app, &format!("key_id={}", key.id)).await;
    let buckets = body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 24);
    // In the bucket of the hour they were made in (or split with the next, at the turn of
    // an hour).
    let hour = Hour::of(made)
        .start()
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    let at = buckets
        .iter()
        .position(|b| b["start"] == hour)
        .expect("its hour is in range");
    let valid = |b: &Value| b["valid"].as_u64().unwrap();
    let theirs = valid(&buckets[at]) + buckets.get(at + 1).map_or(0, valid);
    assert_eq!(theirs, 3, "{body}");
    assert_eq!(body["totals"]["valid"], 3);
    assert_eq!(body["key_id"], key.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verify_api_counts_too_but_admin_credentials_do_not() {
    let app = spawn_app().await;
    let key = app.issue("verified elsewhere").await;
    let reply = app
        .verify_api(json!({"key": key.key, "scopes": ["nope"]}))
        .await;
    assert_eq!(reply.body["code"], "MISSING_SCOPE", "{}", reply.text);
    assert_eq!(
        app.verify_api(json!({"key": key.key})).await.body["code"],
        "VALID"
    );
    assert_eq!(
        totals(&app, &format!("key_id={}", key.id)).await,
        counts(1, 0, 1, 0, 0)
    );
    // The admin API's own credentials are checked by the same path: not counted.
    let reader = app.create_admin("reader", "read").await;
    let reply = app
        .admin_api_as(&reader.key, Method::GET, "/usage", None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    fold(&app).await;
    assert_eq!(totals(&app, "").await, counts(1, 0, 1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fold_tried_again_after_it_wrote_adds_nothing_twice() {
    let app = spawn_app().await;
    let key = app.issue("folded twice").await;
    for _ in 0..5 {
        app.protected(&key.key).await;
    }
    let (store, cache) = (&app.app.store, &app.app.cache);
    let hash = key_hash(&key.key);
    // A fold that wrote DynamoDB and stopped before deleting its counts from Redis.
    let taken = cache.take_usage(&hash, "first-try").await.unwrap().unwrap();
    let record = app.stored(&hash).await;
    let target = FoldTarget {
        key_id: record.id.clone(),
        identity: None,
        owner: None,
        shard: keygate::domain::usage::total_shard(&hash),
    };
    let wrote = store
        .apply_fold(&taken.fold_id, &target, &taken.hours, Utc::now())
        .await
        .unwrap();
    assert_eq!(wrote, FoldWrite::Applied);
    // Meanwhile the API counts them once: DynamoDB has them, so Redis's copy is skipped.
    let of = format!("key_id={}", key.id);
    assert_eq!(totals(&app, &of).await["valid"], 5);
    app.protected(&key.key).await;

    // The next fold finds the same counts under the same id, adds nothing, and deletes
    // them; the request made since is still in Redis for the fold after.
    assert_eq!(
        fold_key(store, cache, &hash, Utc::now()).await.unwrap(),
        Folded::Finished
    );
    assert_eq!(totals(&app, &of).await["valid"], 6);
    assert_eq!(
        fold_key(store, cache, &hash, Utc::now()).await.unwrap(),
        Folded::Added
    );
    assert_eq!(
        fold_key(store, cache, &hash, Utc::now()).await.unwrap(),
        Folded::Nothing
    );
    assert_eq!(totals(&app, &of).await["valid"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_in_the_middle_of_a_fold_adds_no_count_twice() {
    let alone = alone().await;
    let mut redis = RedisServer::start();
    let app = alone.spawn_app_on(Endpoints::with_redis(redis.url())).await;
    let key = app.issue("through a restart").await;
    let hash = key_hash(&key.key);
    let of = format!("key_id={}", key.id);
    for _ in 0..4 {
        assert_eq!(app.protected(&key.key).await.status, 200);
    }
    fold(&app).await;
    for _ in 0..3 {
        assert_eq!(app.protected(&key.key).await.status, 200);
    }
    // A fold takes the three and writes them to DynamoDB; Redis restarts, empty, before
    // the fold deletes them.
    let (store, cache) = (&app.app.store, &app.app.cache);
    let taken = cache
        .take_usage(&hash, "before-restart")
        .await
        .unwrap()
        .unwrap();
    let target = FoldTarget {
        key_id: app.stored(&hash).await.id,
        identity: None,
        owner: None,
        shard: keygate::domain::usage::total_shard(&hash),
    };
    store
        .apply_fold(&taken.fold_id, &target, &taken.hours, Utc::now())
        .await
        .unwrap();
    redis.stop();
    redis.restart();
    // Past the longest back-off, the app counts in the new Redis.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    for _ in 0..2 {
        assert_eq!(app.protected(&key.key).await.status, 200);
    }
    fold(&app).await;
    fold(&app).await;
    assert_eq!(totals(&app, &of).await["valid"], 9);
    assert_eq!(totals(&app, "").await["valid"], 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_and_an_owner_add_up_their_keys() {
    let app = spawn_app().await;
    let external = format!("usage-{:016x}", rand::random::<u64>());
    let reply = app
        .admin_api(
            Method::POST,
            "/identities",
            Some(json!({"external_id": external})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let identity = reply.body["id"].as_str().unwrap().to_owned();
    let owner = format!("owner-{:08x}", rand::random::<u32>());
    let a = app
        .issue_with(json!({"name": "a", "identity_id": identity, "owner": owner}))
        .await;
    let b = app
        .issue_with(json!({"name": "b", "identity_id": identity}))
        .await;
    for _ in 0..3 {
        app.protected(&a.key).await;
    }
    for _ in 0..2 {
        app.protected(&b.key).await;
    }
    // Fresh before the fold for the identity (its keys' live counts), exact after it.
    assert_eq!(
        totals(&app, &format!("identity_id={identity}")).await["valid"],
        5
    );
    fold(&app).await;
    assert_eq!(
        totals(&app, &format!("identity_id={identity}")).await["valid"],
        5
    );
    assert_eq!(totals(&app, &format!("owner={owner}")).await["valid"], 3);
    assert_eq!(totals(&app, &format!("key_id={}", b.id)).await["valid"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_by_day_and_as_csv() {
    let app = spawn_app().await;
    let key = app.issue("daily").await;
    app.protected(&key.key).await;
    fold(&app).await;
    let body = usage(&app, &format!("key_id={}&granularity=day", key.id)).await;
    assert_eq!(body["granularity"], "day");
    let buckets = body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 30);
    assert_eq!(buckets.last().unwrap()["valid"], 1);

    let reply = app
        .admin_get_text(&format!(
            "/usage?key_id={}&format=csv&granularity=day",
            key.id
        ))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "text/csv; charset=utf-8");
    let lines: Vec<&str> = reply.text.lines().collect();
    assert_eq!(
        lines[0],
        "start,valid,rate_limited,quota_exhausted,missing_scope,revoked,expired"
    );
    assert_eq!(lines.len(), 31);
    assert!(lines[30].ends_with(",1,0,0,0,0,0"), "{}", lines[30]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ranges_and_unknown_subjects_are_refused_with_a_detail() {
    let app = spawn_app().await;
    let reply = app
        .admin_api(
            Method::GET,
            "/usage?granularity=hour&from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.detail().contains("2000"), "{}", reply.text);
    let reply = app.admin_api(Method::GET, "/usage?to=soon", None).await;
    assert_eq!(reply.status, 400);
    assert!(reply.detail().contains("`to`"), "{}", reply.text);
    let reply = app
        .admin_api(
            Method::GET,
            "/usage?key_id=key_000000000000000000000000",
            None,
        )
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    let reply = app
        .admin_api(
            Method::GET,
            "/usage?identity_id=idt_000000000000000000000000",
            None,
        )
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_needs_the_read_role() {
    let app = spawn_app().await;
    let verifier = app.create_admin("verifier", "verify").await;
    let reply = app
        .admin_api_as(&verifier.key, Method::GET, "/usage", None)
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_busiest_and_the_most_refused_keys_of_the_day_rank_first() {
    let app = spawn_app().await;
    let busy = app.issue("busy").await;
    let quiet = app.issue("quiet").await;
    let refused = app
        .issue_with(json!({"name": "refused", "scopes": ["read"]}))
        .await;
    for _ in 0..5 {
        app.protected(&busy.key).await;
    }
    app.protected(&quiet.key).await;
    for _ in 0..3 {
        assert_eq!(
            app.protected_with_scope(&refused.key, "write").await.status,
            403
        );
    }
    fold(&app).await;
    // Folded twice: the ranks add up, they are not replaced.
    app.protected(&busy.key).await;
    fold(&app).await;

    // Two days, so that a run across midnight (UTC) still sees every count.
    let reply = app.admin_api(Method::GET, "/usage/top?days=2", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let ranked: Vec<(String, u64)> = reply.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["key_id"].as_str().unwrap().to_owned(),
                k["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ranked,
        vec![
            (busy.id.clone(), 6),
            (refused.id.clone(), 3),
            (quiet.id.clone(), 1)
        ]
    );
    let reply = app
        .admin_api(Method::GET, "/usage/top?by=refusals&days=7&limit=5", None)
        .await;
    assert_eq!(
        reply.body["keys"],
        json!([{"key_id": refused.id, "count": 3}]),
        "{}",
        reply.text
    );
    let reply = app.admin_api(Method::GET, "/usage/top?days=31", None).await;
    assert_eq!(reply.status, 400);
    assert!(reply.detail().contains("`days`"), "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_made_up_key_leaves_no_count_behind_and_a_missed_real_one_is_counted() {
    let app = spawn_app().await;
    let made_up = keygate_tests::unissued_key();
    for _ in 0..3 {
        assert_eq!(app.protected(made_up.expose()).await.status, 403);
    }
    let names: Vec<String> = app.redis_dump().await.into_iter().map(|e| e.key).collect();
    assert!(
        names.iter().all(|n| !n.contains(":usage")),
        "a made-up key was counted: {names:?}"
    );
    // A real key's first verification is a cache miss: counted once DynamoDB has it.
    let key = app.issue("missed first").await;
    assert_eq!(app.protected(&key.key).await.status, 200);
    assert_eq!(app.protected(&key.key).await.status, 200);
    assert_eq!(
        totals(&app, &format!("key_id={}", key.id)).await["valid"],
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_waiting_for_a_fold_expire_and_so_do_those_counted_after_one() {
    let app = spawn_app().await;
    let plain = app.issue("plain").await;
    let limited = app
        .issue_with(
            json!({"name": "limited", "rate_limit": {"limit": 100, "window_seconds": 3600}}),
        )
        .await;
    let mut conn = keygate_tests::redis_connection().await;
    let usage_name = |key: &str| format!("{}:usage:{{{}}}", app.namespace, key_hash(key).to_hex());
    // Three each: a miss, the script's hit, and for the plain key the pipeline's hit;
    // after the fold, hits only, into a hash the fold has just taken away.
    for round in ["before a fold", "after a fold"] {
        for key in [&plain.key, &limited.key] {
            for _ in 0..3 {
                assert_eq!(app.protected(key).await.status, 200);
            }
            let ttl: i64 = redis::cmd("TTL")
                .arg(usage_name(key))
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!(
                (86_400..=2 * 86_400).contains(&ttl),
                "{round}: the counts' TTL is {ttl}"
            );
        }
        fold(&app).await;
    }
    assert_eq!(
        totals(&app, &format!("key_id={}", plain.id)).await["valid"],
        6
    );
}
