//! The guard, through the smallest endpoint behind it: which key passes, which is refused
//! with which `detail`, and which answers cost no DynamoDB request.

use chrono::{TimeDelta, Utc};
use keygate::domain::outcome::{Outcome, Source};
use keygate_tests::detail::{EXPIRED, INVALID, MISSING, REVOKED};
use keygate_tests::{get, post, spawn_app, unissued_key};
use lambda_http::http::HeaderValue;

#[tokio::test]
async fn a_valid_key_gets_200_with_its_id_and_name() {
    let app = spawn_app().await;
    let issued = app.issue("orders").await;
    let reply = app.protected(&issued.key).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.detail(),
        "Hello from protected endpoint! Your API key is valid."
    );
    assert_eq!(reply.body["key_id"], issued.id.as_str());
    assert_eq!(reply.body["name"], "orders");
}

#[tokio::test]
async fn the_header_name_is_case_insensitive() {
    let app = spawn_app().await;
    let key = app.issue("case").await.key;
    for name in ["x-api-key", "X-Api-Key", "X-API-KEY"] {
        let req = get("/").header(name, &key);
        assert_eq!(app.protected_with(req).await.status, 200, "{name}");
    }
}

#[tokio::test]
async fn a_missing_key_is_403_missing() {
    let app = spawn_app().await;
    let reply = app.protected_without_key().await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.detail(), MISSING);
    assert_eq!(app.protected("   ").await.detail(), MISSING);
}

#[tokio::test]
async fn a_malformed_key_is_403_invalid_without_any_io() {
    let app = spawn_app().await;
    let key = app.issue("real").await.key;
    let mut typo = key.clone().into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    for bad in [typo.as_str(), "kg_123", "hello", "kg_ü"] {
        let before = app.dynamodb_requests.get();
        let reply = app.protected(bad).await;
        assert_eq!(reply.status, 403, "{bad}");
        assert_eq!(reply.detail(), INVALID);
        assert_eq!(
            app.dynamodb_requests.since(before),
            0,
            "{bad} reached DynamoDB"
        );
        let v = app.verify(bad).await;
        assert_eq!(v.source, Source::Format);
    }
}

#[tokio::test]
async fn an_unknown_well_formed_key_is_403_invalid_and_cached_negatively() {
    let app = spawn_app().await;
    let unknown = unissued_key();
    let reply = app.protected(unknown.expose()).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.detail(), INVALID);
    let before = app.dynamodb_requests.get();
    for _ in 0..5 {
        assert_eq!(app.protected(unknown.expose()).await.detail(), INVALID);
    }
    assert_eq!(
        app.dynamodb_requests.since(before),
        0,
        "repeats reached DynamoDB"
    );
}

#[tokio::test]
async fn a_cache_hit_costs_no_dynamodb_request() {
    let app = spawn_app().await;
    let key = app.issue("hot").await.key;
    app.protected(&key).await; // fills the cache
    let before = app.dynamodb_requests.get();
    for _ in 0..10 {
        assert_eq!(app.protected(&key).await.status, 200);
    }
    assert_eq!(app.dynamodb_requests.since(before), 0);
    let v = app.verify(&key).await;
    assert_eq!(v.source, Source::Cache);
}

#[tokio::test]
async fn a_revoked_key_is_403_revoked() {
    let app = spawn_app().await;
    let key = app.issue("gone").await.key;
    assert_eq!(app.revoke(&key).await.status, 200);
    let reply = app.protected(&key).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.detail(), REVOKED);
}

#[tokio::test]
async fn an_expired_key_is_403_expired() {
    let app = spawn_app().await;
    let key = app.insert_expiring(TimeDelta::seconds(-1)).await;
    let reply = app.protected(key.expose()).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.detail(), EXPIRED);
    // And again from the cache.
    assert_eq!(app.protected(key.expose()).await.detail(), EXPIRED);
}

#[tokio::test]
async fn a_cached_key_expires_on_time_without_waiting_for_the_cache() {
    let app = spawn_app().await;
    let key = app.insert_expiring(TimeDelta::hours(1)).await;
    assert_eq!(app.protected(key.expose()).await.status, 200); // cached now
    let later = Utc::now() + TimeDelta::hours(2);
    let v = app.verify_at(key.expose(), later).await;
    assert_eq!(v.source, Source::Cache);
    assert_eq!(v.outcome, Outcome::Expired);
}

#[tokio::test]
async fn a_cache_entry_lives_no_longer_than_its_keys_expiry() {
    let app = spawn_app().await;
    let key = app.insert_expiring(TimeDelta::seconds(20)).await;
    app.protected(key.expose()).await;
    let mut conn = keygate_tests::redis_connection().await;
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(app.app.cache.entry_key(&key.hash()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl_ms > 0 && ttl_ms <= 20_000, "{ttl_ms}");
}

#[tokio::test]
async fn a_post_is_405() {
    let app = spawn_app().await;
    let req = post("/");
    let reply = app.protected_with(req).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.headers["allow"], "GET");
}

#[tokio::test]
async fn a_duplicated_api_key_header_is_400() {
    let app = spawn_app().await;
    let key = app.issue("dup").await.key;
    let req = get("/").header("x-api-key", &key).header("x-api-key", &key);
    let reply = app.protected_with(req).await;
    assert_eq!(reply.status, 400);
    assert!(reply.detail().contains("X-API-KEY"));
}

#[tokio::test]
async fn a_non_ascii_header_value_is_403_invalid() {
    let app = spawn_app().await;
    let value = HeaderValue::from_bytes(b"kg_\xff\xfe").unwrap();
    let req = get("/").header("x-api-key", value);
    let reply = app.protected_with(req).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.detail(), INVALID);
}
