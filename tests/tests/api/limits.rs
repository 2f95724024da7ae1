//! Per-key rate limits and quotas: exact under concurrency, counted in the verify path's one
//! Redis round trip, durable across a Redis restart, and enforced per
//! `RATE_LIMIT_WHEN_CACHE_DOWN` while Redis is down. Against real Redis and DynamoDB Local.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use keygate::domain::outcome::{Outcome, Source};
use keygate_tests::services::RedisServer;
use keygate_tests::{alone, key_hash, spawn_app, Endpoints, Issued, TestApp};
use lambda_http::http::Method;
use serde_json::{json, Value};
use tokio::task::JoinSet;

/// Issues a key named "limited" with these fields besides.
async fn issue_limited(app: &TestApp, fields: Value) -> Issued {
    let mut body = json!({ "name": "limited" });
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    app.issue_with(body).await
}

/// Issues a key allowed `limit` requests per `window_seconds`, and returns it.
async fn rate_limited(app: &TestApp, limit: usize, window_seconds: u64) -> String {
    let limits = json!({"rate_limit": {"limit": limit, "window_seconds": window_seconds}});
    issue_limited(app, limits).await.key
}

/// Lambda instances of one deployment: each its own Redis connection and DynamoDB client.
/// A generous Redis timeout, so a busy test machine cannot turn a slow reply into an
/// uncounted request (that path has its own test).
async fn instances(app: &TestApp, n: usize) -> Vec<Arc<TestApp>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(Arc::new(
            app.instance_with(app.endpoints(), &[("REDIS_TIMEOUT_MS", "5000")])
                .await,
        ));
    }
    out
}

/// `n` concurrent requests, taking `keys` in turn, spread over `instances`: the statuses
/// (each 200 or 429), sorted.
async fn burst(instances: &[Arc<TestApp>], keys: &[&str], n: usize) -> Vec<u16> {
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let instance = instances[i % instances.len()].clone();
        let key = keys[i % keys.len()].to_owned();
        tasks.spawn(async move {
            let reply = instance.protected(&key).await;
            assert!(
                reply.status == 200 || reply.status == 429,
                "{}: {}",
                reply.status,
                reply.body
            );
            reply.status
        });
    }
    let mut statuses = tasks.join_all().await;
    statuses.sort();
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concurrent_burst_gets_exactly_the_limit_across_instances() {
    let alone = alone().await;
    let app = alone.spawn_app().await;
    let instances = instances(&app, 8).await;
    let (limit, n) = (25, 200);
    for repetition in 0..5 {
        let key = rate_limited(&app, limit, 3600).await;
        // One request first puts the entry in the cache, so the burst is all cache hits
        // (the quota test below bursts on a cold key, through the miss path).
        assert_eq!(instances[0].protected(&key).await.status, 200);
        let statuses = burst(&instances, &[&key], n - 1).await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(ok, limit - 1, "repetition {repetition}: {statuses:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concurrent_burst_uses_the_quota_exactly() {
    let alone = alone().await;
    let app = alone.spawn_app().await;
    let instances = instances(&app, 8).await;
    for repetition in 0..5 {
        // A fresh key and no warm-up: the first requests find no cache entry, so the burst
        // goes through the miss path (DynamoDB, fill, count) and the hit path at once.
        let Issued { id, key } = issue_limited(&app, json!({"quota": {"remaining": 10}})).await;
        let statuses = burst(&instances, &[&key], 40).await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(ok, 10, "repetition {repetition}: {statuses:?}");
        let shown = app.view_key(&id).await;
        assert_eq!(shown.body["quota"]["remaining"], 0, "{}", shown.body);
    }
}

/// Rotates the key with this id by an administrator with a grace period, and returns the
/// new key.
async fn rotated(app: &TestApp, id: &str) -> String {
    let reply = app
        .admin_api(
            Method::POST,
            &format!("/keys/{id}/rotate"),
            Some(json!({"grace_seconds": 3600})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.key().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_split_across_the_old_and_new_key_of_a_rotation_gets_exactly_the_limit() {
    let alone = alone().await;
    let app = alone.spawn_app().await;
    let instances = instances(&app, 8).await;
    let (limit, n) = (25, 200);
    for repetition in 0..3 {
        let limits = json!({"rate_limit": {"limit": limit, "window_seconds": 3600}});
        let Issued { id, key: old } = issue_limited(&app, limits).await;
        let new = rotated(&app, &id).await;
        // Both entries cached first, so the burst is all hits on both keys.
        assert_eq!(instances[0].protected(&old).await.status, 200);
        assert_eq!(instances[1].protected(&new).await.status, 200);
        let statuses = burst(&instances, &[&old, &new], n - 2).await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(ok, limit - 2, "repetition {repetition}: {statuses:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_split_across_the_old_and_new_key_of_a_rotation_uses_one_quota() {
    let alone = alone().await;
    let app = alone.spawn_app().await;
    let instances = instances(&app, 8).await;
    for repetition in 0..3 {
        let Issued { id, key: old } =
            issue_limited(&app, json!({"quota": {"remaining": 10}})).await;
        let new = rotated(&app, &id).await;
        // Cold keys: the burst goes through the miss path of both at once.
        let statuses = burst(&instances, &[&old, &new], 40).await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(ok, 10, "repetition {repetition}: {statuses:?}");
    }
}

#[tokio::test]
async fn over_the_limit_is_429_with_retry_after_and_rate_limit_headers() {
    let app = spawn_app().await;
    let key = rate_limited(&app, 3, 60).await;
    for expected_remaining in [2, 1, 0] {
        let ok = app.protected(&key).await;
        assert_eq!(ok.status, 200);
        assert_eq!(ok.number_header("ratelimit-limit"), Some(3));
        assert_eq!(
            ok.number_header("ratelimit-remaining"),
            Some(expected_remaining)
        );
        let reset = ok.number_header("ratelimit-reset").unwrap();
        assert!((1..=60).contains(&reset), "{reset}");
    }
    let refused = app.protected(&key).await;
    assert_eq!(refused.status, 429);
    let retry_after = refused.number_header("retry-after").unwrap();
    // Until this window's 3 weigh no more than 2 in the next one: within two windows.
    assert!((1..=120).contains(&retry_after), "{retry_after}");
    assert_eq!(
        refused.detail(),
        format!("Rate limit exceeded. Retry after {retry_after} seconds.")
    );
    assert_eq!(refused.number_header("ratelimit-limit"), Some(3));
    assert_eq!(refused.number_header("ratelimit-remaining"), Some(0));
    assert_eq!(refused.number_header("ratelimit-reset"), Some(retry_after));
}

#[tokio::test]
async fn a_full_window_is_forgotten_two_windows_later() {
    let app = spawn_app().await;
    let key = rate_limited(&app, 2, 1).await;
    let statuses = [
        app.protected(&key).await.status,
        app.protected(&key).await.status,
        app.protected(&key).await.status,
    ];
    assert_eq!(statuses, [200, 200, 429]);
    // The window slides: a window's count still weighs in the next one (see windows.rs),
    // and is gone in the one after.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let again = app.protected(&key).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.number_header("ratelimit-remaining"), Some(1));
}

#[tokio::test]
async fn a_key_without_limits_gets_no_headers_and_no_counters() {
    let app = spawn_app().await;
    let key = app.issue("free").await.key;
    for _ in 0..3 {
        let ok = app.protected(&key).await;
        assert_eq!(ok.status, 200);
        assert!(ok.headers.get("ratelimit-limit").is_none());
    }
    let keys: Vec<String> = app.redis_dump().await.into_iter().map(|e| e.key).collect();
    assert!(
        keys.iter()
            .all(|k| !k.contains(":rate:") && !k.contains(":quota:")),
        "{keys:?}"
    );
}

#[tokio::test]
async fn a_request_that_fails_a_scope_check_still_counts() {
    let app = spawn_app().await;
    let limits =
        json!({"scopes": ["orders:read"], "rate_limit": {"limit": 2, "window_seconds": 60}});
    let key = issue_limited(&app, limits).await.key;
    assert_eq!(
        app.protected_with_scope(&key, "orders:write").await.status,
        403
    );
    assert_eq!(app.protected(&key).await.status, 200);
    assert_eq!(app.protected(&key).await.status, 429);
}

#[tokio::test]
async fn revoked_and_unknown_keys_are_not_counted() {
    let app = spawn_app().await;
    let limits =
        json!({"quota": {"remaining": 5}, "rate_limit": {"limit": 5, "window_seconds": 60}});
    let Issued { id, key } = issue_limited(&app, limits).await;
    assert_eq!(app.protected(&key).await.status, 200);
    assert_eq!(app.revoke(&key).await.status, 200);
    for _ in 0..3 {
        assert_eq!(app.protected(&key).await.status, 403);
    }
    let shown = app.view_key(&id).await;
    assert_eq!(shown.body["quota"]["remaining"], 4, "{}", shown.body);
}

#[tokio::test]
async fn expired_keys_are_not_counted() {
    let app = spawn_app().await;
    let limits = json!({
        "quota": {"remaining": 5},
        "rate_limit": {"limit": 5, "window_seconds": 60},
        "expires_at": "2099-01-01T00:00:00Z",
    });
    let Issued { id, key } = issue_limited(&app, limits).await;
    assert_eq!(app.protected(&key).await.status, 200);
    let past = (Utc::now() - TimeDelta::seconds(5)).to_rfc3339();
    let updated = app.update_key(&id, json!({"expires_at": past})).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    for _ in 0..3 {
        assert_eq!(app.protected(&key).await.status, 403);
    }
    let shown = app.view_key(&id).await;
    assert_eq!(shown.body["quota"]["remaining"], 4, "{}", shown.body);
}

#[tokio::test]
async fn an_exhausted_quota_is_429_with_no_time_to_retry_after_when_it_never_refills() {
    let app = spawn_app().await;
    let limits = json!({"quota": {"remaining": 1}});
    let key = issue_limited(&app, limits).await.key;
    assert_eq!(app.protected(&key).await.status, 200);
    let refused = app.protected(&key).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.detail(), "Usage quota exhausted.");
    assert!(
        refused.headers.get("retry-after").is_none(),
        "no refill, no time to retry after"
    );
}

#[tokio::test]
async fn an_exhausted_quota_is_429_and_says_when_it_refills() {
    let app = spawn_app().await;
    let limits = json!({"quota": {"remaining": 0, "refill": {"every": "day", "amount": 10}}});
    let key = issue_limited(&app, limits).await.key;
    let refused = app.protected(&key).await;
    assert_eq!(refused.status, 429);
    let now = Utc::now();
    let midnight = (now + TimeDelta::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let to_midnight = (midnight - now).num_seconds() as u64;
    let retry_after = refused.number_header("retry-after").unwrap();
    assert!(
        retry_after.abs_diff(to_midnight) <= 2,
        "{retry_after} vs {to_midnight}"
    );
}

#[tokio::test]
async fn a_quota_refills_in_a_new_period_and_the_refill_is_stored() {
    let app = spawn_app().await;
    let limits = json!({"quota": {"remaining": 1, "refill": {"every": "day", "amount": 3}}});
    let Issued { id, key } = issue_limited(&app, limits).await;
    let today = Utc::now();
    assert!(app.verify_at(&key, today).await.outcome.is_valid());
    let used_up = app.verify_at(&key, today).await;
    assert!(matches!(used_up.outcome, Outcome::QuotaExhausted { .. }));

    // Verification is told it is tomorrow: a new period, so the quota is full again.
    let tomorrow = today + TimeDelta::days(1);
    let refilled = app.verify_at(&key, tomorrow).await;
    let Outcome::Valid(info) = refilled.outcome else {
        panic!("refused after a refill: {:?}", refilled.outcome)
    };
    assert_eq!(info.quota_remaining, Some(2));
    // A refill is written to DynamoDB at once, whatever the minute's marker says.
    let hash = key_hash(&key);
    let stored = app.stored(&hash).await.quota.unwrap();
    assert_eq!(stored.remaining, 2);
    assert_eq!(stored.period, tomorrow.format("%Y-%m-%d").to_string());
    // And it does not refill twice in the same period.
    let again = app.verify_at(&key, tomorrow).await;
    let Outcome::Valid(info) = again.outcome else {
        panic!("refused: {:?}", again.outcome)
    };
    assert_eq!(info.quota_remaining, Some(1));
    let shown = app.view_key(&id).await;
    assert_eq!(
        shown.body["quota"]["refill"],
        json!({"every": "day", "amount": 3})
    );
}

#[tokio::test]
async fn a_redis_restart_does_not_refill_a_quota() {
    let alone = alone().await;
    let mut redis = RedisServer::start();
    let app = alone.spawn_app_on(Endpoints::with_redis(redis.url())).await;
    let Issued { id, key } = issue_limited(&app, json!({"quota": {"remaining": 10}})).await;
    for _ in 0..3 {
        assert_eq!(app.protected(&key).await.status, 200);
    }
    // The first use was written to DynamoDB (9 left); the next two live only in Redis.
    redis.stop();
    redis.restart();
    // Until the cache is back, requests pass uncounted (RATE_LIMIT_WHEN_CACHE_DOWN=allow).
    for _ in 0..50 {
        let v = app.verify(&key).await;
        if v.source != Source::DatabaseWithoutCache {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let shown = app.view_key(&id).await;
    let remaining = shown.body["quota"]["remaining"].as_u64().unwrap();
    assert_eq!(
        remaining, 8,
        "restarted from the stored 9, minus this use; never back to 10"
    );
}

#[tokio::test]
async fn a_redis_that_forgot_the_scripts_counts_the_next_request_once() {
    let alone = alone().await;
    let redis = RedisServer::start();
    let app = alone.spawn_app_on(Endpoints::with_redis(redis.url())).await;
    let key = rate_limited(&app, 3, 3600).await;
    assert_eq!(app.protected(&key).await.status, 200);
    // As after a failover to a replica that never ran them: the next call is refused with
    // NOSCRIPT, loads the script and runs it once.
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    let second = app.protected(&key).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.number_header("ratelimit-remaining"), Some(1));
    assert_eq!(app.protected(&key).await.status, 200);
    assert_eq!(app.protected(&key).await.status, 429);
}

#[tokio::test]
async fn with_redis_down_and_the_setting_allow_limited_keys_pass_uncounted() {
    let app = spawn_app().await;
    let limited = rate_limited(&app, 1, 60).await;
    let allow = app.instance(Endpoints::without_redis()).await;
    for _ in 0..3 {
        let ok = allow.protected(&limited).await;
        assert_eq!(ok.status, 200, "allow lets the key through uncounted");
        assert!(ok.headers.get("ratelimit-limit").is_none());
    }
}

#[tokio::test]
async fn with_redis_down_and_the_setting_deny_limited_keys_are_503_and_others_pass() {
    let app = spawn_app().await;
    let limited = rate_limited(&app, 1, 60).await;
    let free = app.issue("free").await.key;
    let deny = app
        .instance_with(
            Endpoints::without_redis(),
            &[("RATE_LIMIT_WHEN_CACHE_DOWN", "deny")],
        )
        .await;
    let refused = deny.protected(&limited).await;
    assert_eq!(refused.status, 503);
    assert!(
        refused.detail().contains("rate limit"),
        "{}",
        refused.detail()
    );
    assert_eq!(deny.protected(&free).await.status, 200);
}

#[tokio::test]
async fn an_admin_update_of_limits_applies_to_the_next_request() {
    let app = spawn_app().await;
    let Issued { id, key } = issue_limited(&app, json!({})).await;
    assert_eq!(app.protected(&key).await.status, 200);

    let set = app
        .update_key(
            &id,
            json!({"rate_limit": {"limit": 1, "window_seconds": 60}}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(
        set.body["rate_limit"],
        json!({"limit": 1, "window_seconds": 60})
    );
    assert_eq!(app.protected(&key).await.status, 200);
    assert_eq!(app.protected(&key).await.status, 429);

    let swap = app
        .update_key(&id, json!({"rate_limit": null, "quota": {"remaining": 2}}))
        .await;
    assert_eq!(swap.status, 200, "{}", swap.body);
    assert_eq!(swap.body["quota"]["remaining"], 2);
    let statuses = [
        app.protected(&key).await.status,
        app.protected(&key).await.status,
        app.protected(&key).await.status,
    ];
    assert_eq!(statuses, [200, 200, 429]);

    // Setting the quota again starts it over, though the live counter said 0.
    let reset = app
        .update_key(&id, json!({"quota": {"remaining": 1}}))
        .await;
    assert_eq!(reset.body["quota"]["remaining"], 1, "{}", reset.body);
    assert_eq!(app.protected(&key).await.status, 200);
    assert_eq!(app.protected(&key).await.status, 429);
}

#[tokio::test]
async fn limits_are_shown_with_the_key() {
    let app = spawn_app().await;
    let reply = app
        .try_issue(json!({
            "name": "shown",
            "rate_limit": {"limit": 100, "window_seconds": 60},
            "quota": {"remaining": 1000, "refill": {"every": "month", "amount": 1000}},
        }))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        reply.body["rate_limit"],
        json!({"limit": 100, "window_seconds": 60})
    );
    assert_eq!(
        reply.body["quota"],
        json!({"remaining": 1000, "refill": {"every": "month", "amount": 1000}})
    );
}

#[tokio::test]
async fn bad_limits_are_400_naming_the_field() {
    let app = spawn_app().await;
    for (body, field) in [
        (
            json!({"rate_limit": {"limit": 0, "window_seconds": 60}}),
            "`rate_limit.limit`",
        ),
        (
            json!({"rate_limit": {"limit": 1, "window_seconds": 0}}),
            "`rate_limit.window_seconds`",
        ),
        (json!({"quota": {"remaining": -1}}), "`quota.remaining`"),
        (
            json!({"quota": {"remaining": 1, "refill": {"every": "year", "amount": 1}}}),
            "`quota.refill.every`",
        ),
    ] {
        let mut full = body.clone();
        full["name"] = json!("bad");
        let reply = app.try_issue(full).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(reply.detail().contains(field), "{body}: {}", reply.detail());
    }
}

#[tokio::test]
async fn a_rotated_key_keeps_its_limits_and_what_is_left_of_its_quota() {
    let app = spawn_app().await;
    let limits = json!({"rate_limit": {"limit": 50, "window_seconds": 60},
        "quota": {"remaining": 5}, "self_rotation": true});
    let key = issue_limited(&app, limits).await.key;
    for _ in 0..2 {
        assert_eq!(app.protected(&key).await.status, 200);
    }
    let rotated = app.rotate(&key, Some(json!({"grace_seconds": 60}))).await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    assert_eq!(
        rotated.body["rate_limit"],
        json!({"limit": 50, "window_seconds": 60})
    );
    // The rotation itself passed the guard: 5 - 2 - 1 left.
    assert_eq!(rotated.body["quota"]["remaining"], 2);
    let new_key = rotated.body["key"].as_str().unwrap();
    let ok = app.protected(new_key).await;
    assert_eq!(ok.status, 200);
    // And the new key goes on in the old key's rate window: 3 used before, this is the 4th.
    assert_eq!(ok.number_header("ratelimit-remaining"), Some(46));
}

#[tokio::test]
async fn a_name_or_owner_that_looks_like_a_limit_is_not_one() {
    let app = spawn_app().await;
    // The script finds limits in the entry's JSON with patterns; JSON escaping keeps a
    // quote inside a string from ever looking like the start of a field.
    let fields = json!({"name": "x\",\"rl\":[1,1],\"q\":[0,0,0,0,\"\"],\"st\":\"a",
               "owner": "\"rl\":[1,1]"});
    let key = issue_limited(&app, fields).await.key;
    for _ in 0..3 {
        let ok = app.protected(&key).await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert!(ok.headers.get("ratelimit-limit").is_none());
    }
}
