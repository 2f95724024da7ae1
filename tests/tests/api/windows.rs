//! Named limits on a sliding window: every limit of a key's list must pass, a 429 names the
//! one that refused, the headers describe the one closest to refusal, a refused request
//! takes from none of them, and a full window just before a boundary is still counted just
//! after it (no 2× burst). Against real Redis and DynamoDB Local.

use std::sync::Arc;

use keygate_tests::{alone, redis_connection, spawn_app, Issued, TestApp};
use serde_json::{json, Value};
use tokio::task::JoinSet;

fn limit(name: &str, limit: u64, window_seconds: u64) -> Value {
    json!({"name": name, "limit": limit, "window_seconds": window_seconds})
}

async fn with_limits(app: &TestApp, limits: Value) -> Issued {
    app.issue_with(json!({"name": "windows", "limits": limits}))
        .await
}

/// Redis's clock in ms: the windows are aligned on it.
async fn redis_now_ms() -> u64 {
    let mut conn = redis_connection().await;
    let (s, us): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
    s * 1000 + us / 1000
}

/// Sleeps until `at_ms` into a window of `window_ms` (the next such moment).
async fn sleep_until_in_window(window_ms: u64, at_ms: u64) {
    let elapsed = redis_now_ms().await % window_ms;
    let wait = (at_ms + window_ms - elapsed) % window_ms;
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
}

#[tokio::test]
async fn a_full_window_just_before_the_boundary_still_counts_just_after_it() {
    let app = spawn_app().await;
    let (limit_n, window_ms) = (10, 4_000);
    // The two bursts must fall on either side of one boundary, the second in the first
    // quarter of its window; on a machine too slow for that, try again with a new key.
    for attempt in 0..5 {
        let key = with_limits(&app, json!([limit("default", limit_n, 4)]))
            .await
            .key;
        sleep_until_in_window(window_ms, window_ms - 1_500).await;
        let before = redis_now_ms().await;
        let mut first = 0;
        for _ in 0..limit_n {
            first += u64::from(app.protected(&key).await.status == 200);
        }
        if redis_now_ms().await / window_ms != before / window_ms {
            continue;
        }
        assert_eq!(first, limit_n, "the whole limit passes in one window");
        sleep_until_in_window(window_ms, 50).await;
        let start = redis_now_ms().await;
        let mut second = Vec::new();
        for _ in 0..limit_n {
            second.push(app.protected(&key).await);
        }
        let end = redis_now_ms().await;
        if start / window_ms != before / window_ms + 1 || end % window_ms > window_ms / 4 {
            eprintln!("attempt {attempt}: the second burst missed its quarter window");
            continue;
        }
        // At most a quarter of the window has passed: at least 3/4 of the full previous
        // window still counts, so at most 2 of 10 pass, where a fixed window lets all 10.
        let passed = second.iter().filter(|r| r.status == 200).count();
        assert!(passed <= 2, "{passed} passed just after the boundary");
        let refused = second.iter().find(|r| r.status == 429).unwrap();
        assert_eq!(
            refused.detail(),
            format!(
                "Rate limit exceeded. Retry after {} seconds.",
                refused.number_header("retry-after").unwrap()
            )
        );
        return;
    }
    panic!("no attempt put the two bursts on either side of one boundary");
}

#[tokio::test]
async fn every_named_limit_must_pass_and_the_429_names_the_one_that_refused() {
    let app = spawn_app().await;
    for (limits, tight) in [
        (
            json!([limit("per_hour", 3, 3600), limit("per_day", 50, 86_400)]),
            "per_hour",
        ),
        (
            json!([limit("per_hour", 50, 3600), limit("per_day", 3, 86_400)]),
            "per_day",
        ),
    ] {
        let key = with_limits(&app, limits).await.key;
        for remaining in [2, 1, 0] {
            let ok = app.protected(&key).await;
            assert_eq!(ok.status, 200, "{}", ok.body);
            // The headers describe the limit closest to refusal.
            assert_eq!(ok.number_header("ratelimit-limit"), Some(3));
            assert_eq!(ok.number_header("ratelimit-remaining"), Some(remaining));
        }
        let refused = app.protected(&key).await;
        assert_eq!(refused.status, 429);
        let retry_after = refused.number_header("retry-after").unwrap();
        assert_eq!(
            refused.detail(),
            format!("Rate limit exceeded ({tight}). Retry after {retry_after} seconds.")
        );
        assert_eq!(refused.number_header("ratelimit-limit"), Some(3));
        assert_eq!(refused.number_header("ratelimit-remaining"), Some(0));
        assert_eq!(refused.number_header("ratelimit-reset"), Some(retry_after));
    }
}

#[tokio::test]
async fn a_request_refused_by_one_limit_takes_nothing_from_the_others() {
    let app = spawn_app().await;
    let key = with_limits(
        &app,
        json!([limit("small", 2, 3600), limit("large", 10, 3600)]),
    )
    .await
    .key;
    let statuses: Vec<u16> = {
        let mut out = Vec::new();
        for _ in 0..7 {
            out.push(app.protected(&key).await.status);
        }
        out
    };
    assert_eq!(statuses, [200, 200, 429, 429, 429, 429, 429]);
    // The verify API shows every limit: the large one has had 2 requests, not 7.
    let check = app.verify_api(json!({"key": key, "cost": 0})).await;
    assert_eq!(check.status, 200, "{}", check.body);
    assert_eq!(check.body["code"], "RATE_LIMITED");
    let remaining: Vec<_> = check.body["limits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap(),
                l["remaining"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(remaining, [("small", 0), ("large", 8)]);
}

#[tokio::test]
async fn a_request_refused_by_the_quota_takes_nothing_from_the_rate_limits() {
    let app = spawn_app().await;
    let Issued { id, key } = app
        .issue_with(
            json!({"name": "q", "rate_limit": {"limit": 5, "window_seconds": 3600},
                           "quota": {"remaining": 2}}),
        )
        .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.protected(&key).await.status);
    }
    assert_eq!(statuses, [200, 200, 429, 429, 429]);
    let more = app
        .update_key(&id, json!({"quota": {"remaining": 100}}))
        .await;
    assert_eq!(more.status, 200, "{}", more.body);
    // 2 of the rate limit's 5 are used: 3 more pass.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.protected(&key).await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concurrent_burst_gets_exactly_the_tightest_limit_across_instances() {
    let alone = alone().await;
    let app = alone.spawn_app().await;
    let mut instances = Vec::new();
    for _ in 0..8 {
        instances.push(Arc::new(
            app.instance_with(app.endpoints(), &[("REDIS_TIMEOUT_MS", "5000")])
                .await,
        ));
    }
    for repetition in 0..3 {
        let limits = json!([limit("wide", 100, 3600), limit("narrow", 20, 3600)]);
        let key = with_limits(&app, limits).await.key;
        let mut tasks = JoinSet::new();
        for i in 0..150 {
            let (instance, key) = (instances[i % 8].clone(), key.clone());
            tasks.spawn(async move { instance.protected(&key).await.status });
        }
        let statuses = tasks.join_all().await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        let refused = statuses.iter().filter(|s| **s == 429).count();
        assert_eq!((ok, refused), (20, 130), "repetition {repetition}");
    }
}

#[tokio::test]
async fn limits_and_rate_limit_are_one_list_in_the_key_view() {
    let app = spawn_app().await;
    let Issued { id, .. } = with_limits(&app, json!([limit("per_second", 5, 1)])).await;
    let set = app
        .update_key(
            &id,
            json!({"rate_limit": {"limit": 100, "window_seconds": 60}}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(
        set.body["limits"],
        json!([limit("per_second", 5, 1), limit("default", 100, 60)])
    );
    assert_eq!(
        set.body["rate_limit"],
        json!({"limit": 100, "window_seconds": 60})
    );
    let replaced = app
        .update_key(&id, json!({"limits": [limit("per_minute", 9, 60)]}))
        .await;
    assert_eq!(replaced.body["limits"], json!([limit("per_minute", 9, 60)]));
    assert_eq!(replaced.body["rate_limit"], Value::Null);
    let both = app
        .update_key(
            &id,
            json!({"limits": [], "rate_limit": {"limit": 1, "window_seconds": 1}}),
        )
        .await;
    assert_eq!(both.status, 400);
    assert!(both.detail().contains("not both"), "{}", both.detail());
}

#[tokio::test]
async fn an_entry_cached_before_named_limits_is_still_counted() {
    let app = spawn_app().await;
    let Issued { id, key } = app
        .issue_with(json!({"name": "old", "rate_limit": {"limit": 2, "window_seconds": 3600}}))
        .await;
    // The entry as the previous release wrote it: `rl`, no `lm`.
    let entry = json!({"id": id, "name": "old", "st": "a", "v": 1, "rl": [2, 3600]});
    let mut conn = redis_connection().await;
    let _: () = redis::cmd("SET")
        .arg(app.app.cache.entry_key(&keygate_tests::key_hash(&key)))
        .arg(entry.to_string())
        .arg("PX")
        .arg(60_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(app.protected(&key).await.status);
    }
    assert_eq!(statuses, [200, 200, 429]);
}

#[tokio::test]
async fn the_counters_expire_once_the_key_is_unused() {
    let app = spawn_app().await;
    let key = app
        .issue_with(
            json!({"name": "ttl", "limits": [limit("short", 100, 10), limit("long", 100, 60)],
                           "quota": {"remaining": 100}}),
        )
        .await
        .key;
    for _ in 0..3 {
        assert_eq!(app.protected(&key).await.status, 200);
    }
    let (windows, quota) = app.app.cache.counter_keys(&keygate_tests::key_hash(&key));
    // Two of the longest window: a window's count is read again in the next one.
    let windows_ttl = pttl(windows).await;
    assert!((1..=120_000).contains(&windows_ttl), "{windows_ttl}");
    assert!(
        windows_ttl > 100_000,
        "set at this window's first request: {windows_ttl}"
    );
    let quota_ttl = pttl(quota).await;
    let expected = keygate::cache::QUOTA_COUNTER_TTL.as_millis() as i64;
    assert!(
        quota_ttl > expected - 60_000 && quota_ttl <= expected,
        "{quota_ttl}"
    );
}

async fn pttl(name: String) -> i64 {
    let mut conn = redis_connection().await;
    redis::cmd("PTTL")
        .arg(name)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn rate_limit_in_an_update_changes_the_default_limit_in_its_place() {
    let app = spawn_app().await;
    let Issued { id, .. } = with_limits(
        &app,
        json!([limit("per_second", 10, 1), limit("default", 100, 60)]),
    )
    .await;
    let set = app
        .update_key(
            &id,
            json!({"rate_limit": {"limit": 50, "window_seconds": 60}}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let expected = json!([limit("per_second", 10, 1), limit("default", 50, 60)]);
    assert_eq!(set.body["limits"], expected);
    assert_eq!(app.view_key(&id).await.body["limits"], expected);
}

#[tokio::test]
async fn removing_the_limits_of_an_item_stored_before_named_limits_removes_its_rate_limit() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let app = spawn_app().await;
    let Issued { id, key } = app
        .issue_with(json!({"name": "old item", "rate_limit": {"limit": 2, "window_seconds": 60}}))
        .await;
    // The item as the previous release wrote it: `rate_limit`, no `limits`.
    let hash = keygate_tests::key_hash(&key);
    let number = |n: u64| AttributeValue::N(n.to_string());
    app.app
        .store
        .client()
        .update_item()
        .table_name(app.app.store.table())
        .key("pk", AttributeValue::S(format!("KEY#{}", hash.to_hex())))
        .update_expression("SET rate_limit = :rl REMOVE limits")
        .expression_attribute_values(
            ":rl",
            AttributeValue::M(
                [
                    ("limit".to_owned(), number(2)),
                    ("window_seconds".to_owned(), number(60)),
                ]
                .into(),
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        app.view_key(&id).await.body["rate_limit"],
        json!({"limit": 2, "window_seconds": 60})
    );
    let cleared = app.update_key(&id, json!({"limits": []})).await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    let item = app.raw_item(&hash).await;
    assert!(
        !item.contains_key("rate_limit") && !item.contains_key("limits"),
        "{item:?}"
    );
    let shown = app.view_key(&id).await.body;
    assert_eq!(
        (&shown["limits"], &shown["rate_limit"]),
        (&json!([]), &Value::Null)
    );
}
