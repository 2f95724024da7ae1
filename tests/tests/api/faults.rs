//! Faults: each test runs its own Redis or DynamoDB Local on a spare port and stops, stalls
//! or restarts it while Keygate works; the last one bursts 1,000 issues at the shared
//! services. Each runs alone in the binary ([`alone`]): none disturbs another test, and
//! none is slowed by one.
//!
//! Latency figures are printed (run with `--nocapture` to see them), never asserted:
//! what is asserted is that every answer stays right.

use std::time::{Duration, Instant};

use keygate::domain::outcome::Source;
use keygate_tests::services::{DynamoDbLocal, RedisServer};
use keygate_tests::{alone, Endpoints, TestApp};
use serde_json::json;

/// The keys a fault test verifies over and over.
struct Keys {
    valid: Vec<String>,
    revoked: Vec<String>,
}

/// Issues the keys and verifies each once, so that every one is cached.
async fn cached_keys(app: &TestApp, valid: usize, revoked: usize) -> Keys {
    let keys = keys(app, valid, revoked).await;
    check_all(app, &keys).await;
    keys
}

async fn keys(app: &TestApp, valid: usize, revoked: usize) -> Keys {
    let mut keys = Keys {
        valid: Vec::new(),
        revoked: Vec::new(),
    };
    for i in 0..valid {
        keys.valid.push(app.issue(&format!("valid {i}")).await.key);
    }
    for i in 0..revoked {
        let key = app.issue(&format!("revoked {i}")).await.key;
        assert_eq!(app.revoke(&key).await.status, 200);
        keys.revoked.push(key);
    }
    keys
}

/// Verifies every key, checks every answer, and returns the slowest verification.
async fn check_all(app: &TestApp, keys: &Keys) -> Duration {
    let mut worst = Duration::ZERO;
    for (keys, expected) in [(&keys.valid, 200), (&keys.revoked, 403)] {
        for key in keys {
            let started = Instant::now();
            let reply = app.protected(key).await;
            worst = worst.max(started.elapsed());
            assert_eq!(reply.status, expected, "{}", reply.body);
        }
    }
    worst
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_survives_redis_stopping_and_coming_back_empty() {
    let alone = alone().await;
    let mut redis = RedisServer::start();
    let app = alone.spawn_app_on(Endpoints::with_redis(redis.url())).await;
    let keys = cached_keys(&app, 10, 5).await;

    redis.stop();
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        worst = worst.max(check_all(&app, &keys).await);
    }
    println!(
        "redis down: worst verification {worst:?} over {} requests",
        5 * 15
    );

    redis.restart();
    // Past the longest back-off, the same app reconnects by itself and refills the cache.
    tokio::time::sleep(Duration::from_secs(6)).await;
    check_all(&app, &keys).await;
    let v = app.verify(&keys.valid[0]).await;
    assert_eq!(v.source, Source::Cache, "the cache is in use again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_during_a_redis_stall_never_leaves_the_key_usable_after_a_200() {
    let alone = alone().await;
    let redis = RedisServer::start();
    let app = alone.spawn_app_on(Endpoints::with_redis(redis.url())).await;
    let key = app.issue("stalled").await.key;
    assert_eq!(app.protected(&key).await.status, 200); // cached as active

    redis.pause(1_000).await;
    let reply = app.revoke(&key).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await; // the stall ends
    match reply.status {
        200 => {}
        503 => {
            assert!(reply.detail().contains("Retry"), "{}", reply.detail());
            // Doing what the detail says completes the revocation.
            tokio::time::sleep(Duration::from_secs(6)).await; // past the back-off
            assert_eq!(app.revoke(&key).await.status, 200);
        }
        other => panic!("revoke answered {other}: {}", reply.body),
    }
    for _ in 0..5 {
        assert_eq!(app.protected(&key).await.status, 403);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_dynamodb_is_down_cached_keys_verify_and_changes_answer_503() {
    let alone = alone().await;
    let mut dynamodb = DynamoDbLocal::start();
    let app = alone
        .spawn_app_on(Endpoints::with_dynamodb(dynamodb.endpoint()))
        .await;
    let keys = cached_keys(&app, 5, 2).await;

    dynamodb.stop();
    let worst = check_all(&app, &keys).await;
    println!("dynamodb down: worst cached verification {worst:?}");

    let issued = app.try_issue(json!({"name": "never stored"})).await;
    assert_eq!(issued.status, 503, "{}", issued.body);
    assert!(
        issued.body.get("key").is_none(),
        "a key was returned without being stored"
    );
    assert!(!issued.detail().is_empty());

    let revoked = app.revoke(&keys.valid[0]).await;
    assert_eq!(revoked.status, 503, "{}", revoked.body);
    assert!(!revoked.detail().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_keys_issued_concurrently_are_distinct_and_all_verify() {
    let alone = alone().await;
    let app = std::sync::Arc::new(alone.spawn_app().await);
    // 20 in flight at once, as from 20 Lambda instances. DynamoDB Local answers writes one
    // at a time: with 100 in flight the queue alone came near the SDK's 1 s attempt timeout,
    // and one JVM pause on a loaded CI machine pushed a write past it (a 503, one run in
    // several). Distinct ids and keys need concurrency, not a deep queue.
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(20));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1_000 {
        let (app, in_flight) = (app.clone(), in_flight.clone());
        tasks.spawn(async move {
            let _permit = in_flight.acquire().await.unwrap();
            app.issue(&format!("bulk {i}")).await.key
        });
    }
    let mut keys = std::collections::HashSet::new();
    while let Some(key) = tasks.join_next().await {
        keys.insert(key.unwrap());
    }
    assert_eq!(keys.len(), 1_000);
    let mut tasks = tokio::task::JoinSet::new();
    for key in keys {
        let (app, in_flight) = (app.clone(), in_flight.clone());
        tasks.spawn(async move {
            let _permit = in_flight.acquire().await.unwrap();
            app.protected(&key).await.status
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
}
