//! `last_used_at`: recorded at most once per key per minute, from the same Redis round trip
//! as the cache read, and never by a write per request.

use keygate::domain::key::ApiKey;
use keygate_tests::{spawn_app, Endpoints, DEAD_REDIS};
use lambda_http::http::Method;

#[tokio::test]
async fn last_used_at_is_null_until_the_key_is_used() {
    let app = spawn_app().await;
    let reply = app.issue(serde_json::json!({"name": "fresh"})).await;
    assert!(reply.body["last_used_at"].is_null());
    let id = reply.body["id"].as_str().unwrap();
    app.protected(Some(reply.body["key"].as_str().unwrap()))
        .await;
    let view = app
        .admin_api(Method::GET, &format!("/keys/{id}"), None)
        .await;
    assert!(view.body["last_used_at"].is_string(), "{}", view.body);
}

#[tokio::test]
async fn last_used_at_is_written_once_however_many_verifications_arrive_in_a_minute() {
    let app = spawn_app().await;
    let key = app.issue_key("busy").await;
    app.protected(Some(&key)).await; // miss: one GetItem and the one write
    let before = app.dynamodb_requests.get();
    for _ in 0..50 {
        assert_eq!(app.protected(Some(&key)).await.status, 200);
    }
    assert_eq!(
        app.dynamodb_requests.get(),
        before,
        "no write after the first"
    );

    // When the window ends (its marker expires), the next use is written again.
    let hash = ApiKey::parse(&key).unwrap().hash();
    let first = app
        .app
        .store
        .get(&hash)
        .await
        .unwrap()
        .unwrap()
        .last_used_at
        .unwrap();
    let mut conn = keygate_tests::redis_connection().await;
    let _: () = redis::cmd("DEL")
        .arg(app.app.cache.used_key(&hash))
        .query_async(&mut conn)
        .await
        .unwrap();
    let before = app.dynamodb_requests.get();
    app.protected(Some(&key)).await;
    assert_eq!(app.dynamodb_requests.get(), before + 1, "exactly one write");
    let second = app
        .app
        .store
        .get(&hash)
        .await
        .unwrap()
        .unwrap()
        .last_used_at
        .unwrap();
    assert!(second >= first);
}

#[tokio::test]
async fn a_redis_outage_never_turns_into_a_dynamodb_write_per_request() {
    let app = spawn_app().await;
    let key = app.issue_key("outage").await;
    let no_redis = app
        .instance(Endpoints {
            redis: DEAD_REDIS.to_owned(),
            ..Default::default()
        })
        .await;
    let before = no_redis.dynamodb_requests.get();
    for _ in 0..10 {
        assert_eq!(no_redis.protected(Some(&key)).await.status, 200);
    }
    // One GetItem per verification, and not one write.
    assert_eq!(no_redis.dynamodb_requests.get(), before + 10);
}

#[tokio::test]
async fn unused_days_finds_keys_not_used_lately_including_never_used_ones() {
    let app = spawn_app().await;
    let used = app.issue_key("used").await;
    app.issue_key("never used").await;
    app.protected(Some(&used)).await;
    let reply = app
        .admin_api(Method::GET, "/keys?unused_days=1", None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let names: Vec<&str> = reply.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["never used"]);
    let bad = app
        .admin_api(Method::GET, "/keys?unused_days=zero", None)
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn keys_can_be_listed_by_owner() {
    let app = spawn_app().await;
    app.issue(serde_json::json!({"name": "a", "owner": "team-a"}))
        .await;
    app.issue(serde_json::json!({"name": "b", "owner": "team-b"}))
        .await;
    let reply = app.admin_api(Method::GET, "/keys?owner=team-b", None).await;
    let keys = reply.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["name"], "b");
}
