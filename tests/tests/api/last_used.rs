//! `last_used_at`: recorded at most once per key per minute, from the same Redis round trip
//! as the cache read, and never by a write per request.

use keygate_tests::{key_hash, spawn_app, Endpoints};

#[tokio::test]
async fn last_used_at_is_null_until_the_key_is_used() {
    let app = spawn_app().await;
    let reply = app.try_issue(serde_json::json!({"name": "fresh"})).await;
    assert!(reply.body["last_used_at"].is_null());
    let id = reply.id();
    app.protected(reply.key()).await;
    let view = app.view_key(id).await;
    assert!(view.body["last_used_at"].is_string(), "{}", view.body);
}

#[tokio::test]
async fn last_used_at_is_written_once_however_many_verifications_arrive_in_a_minute() {
    let app = spawn_app().await;
    let key = app.issue("busy").await.key;
    app.protected(&key).await; // miss: one GetItem and the one write
    let before = app.dynamodb_requests.get();
    for _ in 0..50 {
        assert_eq!(app.protected(&key).await.status, 200);
    }
    assert_eq!(
        app.dynamodb_requests.since(before),
        0,
        "no write after the first"
    );
}

#[tokio::test]
async fn last_used_at_is_written_again_once_its_minute_is_over() {
    let app = spawn_app().await;
    let key = app.issue("busy").await.key;
    app.protected(&key).await; // the first write
    let hash = key_hash(&key);
    let first = app.stored(&hash).await.last_used_at.unwrap();
    // The minute's window ends when its marker expires.
    let mut conn = keygate_tests::redis_connection().await;
    let _: () = redis::cmd("DEL")
        .arg(app.app.cache.used_key(&hash))
        .query_async(&mut conn)
        .await
        .unwrap();
    let before = app.dynamodb_requests.get();
    app.protected(&key).await;
    assert_eq!(app.dynamodb_requests.since(before), 1, "exactly one write");
    let second = app.stored(&hash).await.last_used_at.unwrap();
    assert!(second >= first);
}

#[tokio::test]
async fn a_redis_outage_never_turns_into_a_dynamodb_write_per_request() {
    let app = spawn_app().await;
    let key = app.issue("outage").await.key;
    let no_redis = app.instance(Endpoints::without_redis()).await;
    let before = no_redis.dynamodb_requests.get();
    for _ in 0..10 {
        assert_eq!(no_redis.protected(&key).await.status, 200);
    }
    // One GetItem per verification, and not one write.
    assert_eq!(no_redis.dynamodb_requests.since(before), 10);
}

#[tokio::test]
async fn unused_days_finds_keys_not_used_lately_including_never_used_ones() {
    let app = spawn_app().await;
    let used = app.issue("used").await.key;
    app.issue("never used").await;
    app.protected(&used).await;
    let reply = app.list_keys("unused_days=1").await;
    let names: Vec<&str> = reply.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["never used"]);
}

#[tokio::test]
async fn unused_days_that_is_not_a_number_is_400() {
    let app = spawn_app().await;
    let bad = app.try_list_keys("unused_days=zero").await;
    assert_eq!(bad.status, 400);
}
