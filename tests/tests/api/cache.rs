//! The cache's promises: revocation is immediate despite read-then-fill races, and Redis
//! trouble never breaks verification.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::Utc;
use keygate::domain::key::ApiKey;
use keygate::domain::outcome::{Outcome, Source};
use keygate::ops::verify::verify;
use keygate_tests::{spawn_app, Endpoints, DEAD_ENDPOINT, DEAD_REDIS};

#[tokio::test]
async fn a_fill_that_read_active_before_a_revoke_cannot_resurrect_the_key() {
    let app = spawn_app().await;
    let raw = app.issue_key("race").await;
    let hash = ApiKey::parse(&raw).unwrap().hash();
    // A verification reads the record (active) from DynamoDB...
    let stale = app.app.store.get(&hash).await.unwrap().unwrap();
    // ...the key is revoked meanwhile...
    assert_eq!(app.revoke(&raw).await.status, 200);
    // ...and only then does the verification fill the cache with what it read.
    app.app
        .cache
        .fill(&hash, Some(&stale), Utc::now())
        .await
        .unwrap();
    let v = verify(&app.app.store, &app.app.cache, &raw, Utc::now()).await;
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
    for round in 0..20 {
        let key = Arc::new(app.issue_key(&format!("round {round}")).await);
        let revoked_at = Arc::new(tokio::sync::RwLock::new(false));
        let late_successes = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for instance in &instances {
            let (instance, key, revoked_at, late) = (
                instance.clone(),
                key.clone(),
                revoked_at.clone(),
                late_successes.clone(),
            );
            tasks.push(tokio::spawn(async move {
                for _ in 0..15 {
                    // Note whether revoke had answered before this verification began.
                    let after_revoke = *revoked_at.read().await;
                    let v =
                        verify(&instance.app.store, &instance.app.cache, &key, Utc::now()).await;
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
        assert_eq!(app.protected(Some(&key)).await.status, 403);
    }
}

#[tokio::test]
async fn keys_verify_from_dynamodb_when_redis_is_unreachable() {
    let app = spawn_app().await;
    let valid = app.issue_key("valid").await;
    let revoked = app.issue_key("revoked").await;
    assert_eq!(app.revoke(&revoked).await.status, 200);
    let no_redis = app
        .instance(Endpoints {
            redis: DEAD_REDIS.to_owned(),
            ..Default::default()
        })
        .await;
    for _ in 0..5 {
        assert_eq!(no_redis.protected(Some(&valid)).await.status, 200);
        assert_eq!(no_redis.protected(Some(&revoked)).await.status, 403);
    }
    let v = verify(&no_redis.app.store, &no_redis.app.cache, &valid, Utc::now()).await;
    assert_eq!(v.source, Source::DatabaseWithoutCache);
}

#[tokio::test]
async fn a_cached_key_verifies_while_dynamodb_is_down() {
    let app = spawn_app().await;
    let key = app.issue_key("cached").await;
    assert_eq!(app.protected(Some(&key)).await.status, 200);
    let no_dynamodb = app
        .instance(Endpoints {
            dynamodb: DEAD_ENDPOINT.to_owned(),
            ..Default::default()
        })
        .await;
    assert_eq!(no_dynamodb.protected(Some(&key)).await.status, 200);
}

#[tokio::test]
async fn verification_is_503_when_neither_cache_nor_dynamodb_can_answer() {
    let app = spawn_app().await;
    let key = app.issue_key("dark").await;
    let nothing = app
        .instance(Endpoints {
            dynamodb: DEAD_ENDPOINT.to_owned(),
            redis: DEAD_REDIS.to_owned(),
        })
        .await;
    let reply = nothing.protected(Some(&key)).await;
    assert_eq!(reply.status, 503);
    assert!(!reply.detail().is_empty());
}

#[tokio::test]
async fn redis_is_skipped_after_a_failure_instead_of_paying_its_timeout_per_request() {
    let app = spawn_app().await;
    let key = app.issue_key("outage").await;
    let no_redis = app
        .instance(Endpoints {
            redis: DEAD_REDIS.to_owned(),
            ..Default::default()
        })
        .await;
    no_redis.protected(Some(&key)).await; // the failure that opens the back-off
    let v = verify(&no_redis.app.store, &no_redis.app.cache, &key, Utc::now()).await;
    assert!(v.outcome.is_valid());
    assert_eq!(v.source, Source::DatabaseWithoutCache);
    // The cache reports it was skipped, not tried.
    let hash = ApiKey::parse(&key).unwrap().hash();
    assert!(matches!(
        no_redis.app.cache.get(&hash, Utc::now()).await,
        Err(keygate::cache::CacheError::Skipped)
    ));
}
