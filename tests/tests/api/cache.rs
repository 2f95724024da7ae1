//! The cache's promises: revocation is immediate despite read-then-fill races, and Redis
//! trouble never breaks verification.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::Utc;
use keygate::domain::outcome::{Outcome, Source};
use keygate_tests::{key_hash, spawn_app, Endpoints};

#[tokio::test]
async fn a_fill_that_read_active_before_a_revoke_cannot_resurrect_the_key() {
    let app = spawn_app().await;
    let raw = app.issue("race").await.key;
    let hash = key_hash(&raw);
    // A verification reads the record (active) from DynamoDB...
    let stale = app.stored(&hash).await;
    // ...the key is revoked meanwhile...
    assert_eq!(app.revoke(&raw).await.status, 200);
    // ...and only then does the verification fill the cache with what it read.
    app.app
        .cache
        .fill(&hash, Some(&stale), Utc::now())
        .await
        .unwrap();
    let v = app.verify(&raw).await;
    assert_eq!(v.outcome, Outcome::Revoked);
    assert_eq!(v.source, Source::Cache);
}

#[tokio::test]
async fn after_revoke_answers_no_concurrent_verification_succeeds() {
    let app = spawn_app().await;
    // Separate instances, each with its own Redis connection, like separate Lambdas.
    let mut instances = Vec::new();
    for _ in 0..4 {
        instances.push(Arc::new(app.same_services().await));
    }
    let started_after = Arc::new(AtomicUsize::new(0));
    for round in 0..20 {
        let key = Arc::new(app.issue(&format!("round {round}")).await.key);
        let revoked_at = Arc::new(tokio::sync::RwLock::new(false));
        let late_successes = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for instance in &instances {
            let (instance, key, revoked_at, late, after) = (
                instance.clone(),
                key.clone(),
                revoked_at.clone(),
                late_successes.clone(),
                started_after.clone(),
            );
            tasks.push(tokio::spawn(async move {
                for _ in 0..15 {
                    // Note whether revoke had answered before this verification began.
                    let after_revoke = *revoked_at.read().await;
                    if after_revoke {
                        after.fetch_add(1, Ordering::SeqCst);
                    }
                    let v = instance.verify(&key).await;
                    if after_revoke && v.outcome.is_valid() {
                        late.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }));
        }
        tokio::task::yield_now().await;
        let reply = app.revoke(&key).await;
        assert_eq!(reply.status, 200);
        *revoked_at.write().await = true;
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            late_successes.load(Ordering::SeqCst),
            0,
            "round {round}: a verification began after revoke answered and succeeded"
        );
        assert_eq!(app.protected(&key).await.status, 403);
    }
    // The race really happened: verifications began after revoke had answered.
    assert!(
        started_after.load(Ordering::SeqCst) > 0,
        "no verification began after a revoke answered: the test did not race"
    );
}

#[tokio::test]
async fn keys_verify_from_dynamodb_when_redis_is_unreachable() {
    let app = spawn_app().await;
    let valid = app.issue("valid").await.key;
    let revoked = app.issue("revoked").await.key;
    assert_eq!(app.revoke(&revoked).await.status, 200);
    let no_redis = app.instance(Endpoints::without_redis()).await;
    for _ in 0..5 {
        assert_eq!(no_redis.protected(&valid).await.status, 200);
        assert_eq!(no_redis.protected(&revoked).await.status, 403);
    }
    let v = no_redis.verify(&valid).await;
    assert_eq!(v.source, Source::DatabaseWithoutCache);
}

#[tokio::test]
async fn a_cached_key_verifies_while_dynamodb_is_down() {
    let app = spawn_app().await;
    let key = app.issue("cached").await.key;
    assert_eq!(app.protected(&key).await.status, 200);
    let no_dynamodb = app.instance(Endpoints::without_dynamodb()).await;
    assert_eq!(no_dynamodb.protected(&key).await.status, 200);
}

#[tokio::test]
async fn verification_is_503_when_neither_cache_nor_dynamodb_can_answer() {
    let app = spawn_app().await;
    let key = app.issue("dark").await.key;
    let nothing = app.instance(Endpoints::unreachable()).await;
    let reply = nothing.protected(&key).await;
    assert_eq!(reply.status, 503);
    assert!(!reply.detail().is_empty());
}

#[tokio::test]
async fn redis_is_skipped_after_a_failure_instead_of_paying_its_timeout_per_request() {
    let app = spawn_app().await;
    let key = app.issue("outage").await.key;
    let no_redis = app.instance(Endpoints::without_redis()).await;
    no_redis.protected(&key).await; // the failure that opens the back-off
    let v = no_redis.verify(&key).await;
    assert!(v.outcome.is_valid());
    assert_eq!(v.source, Source::DatabaseWithoutCache);
    // Each failure starts a back-off that doubles from 100 ms. A loaded machine can pause
    // longer than the first between two calls, so let three more failures through (the
    // skips between them waited out): the call right after the last must be skipped, not
    // tried, for at least 400 ms.
    let hash = key_hash(&key);
    let mut failures = 0;
    while failures < 3 {
        match no_redis.app.cache.get(&hash, Utc::now()).await {
            Err(keygate::cache::CacheError::Redis(_)) => failures += 1,
            Err(keygate::cache::CacheError::Skipped) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            other => panic!("Redis is down, yet the cache answered {other:?}"),
        }
    }
    assert!(matches!(
        no_redis.app.cache.get(&hash, Utc::now()).await,
        Err(keygate::cache::CacheError::Skipped)
    ));
}
