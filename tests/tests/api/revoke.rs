//! Self-service revocation: a revoked key stops at once on every instance, revoking is
//! idempotent, and a revoke that cannot reach the cache or the table says so.

use keygate_tests::detail::{NOT_FOUND, REVOKED_NOW};
use keygate_tests::{get, spawn_app, unissued_key, Endpoints};
use lambda_http::Body;

#[tokio::test]
async fn revoke_answers_200_and_the_key_stops_working() {
    let app = spawn_app().await;
    let key = app.issue("leaked").await.key;
    let reply = app.revoke(&key).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.detail(), REVOKED_NOW);
    assert_eq!(app.protected(&key).await.status, 403);
}

#[tokio::test]
async fn revoking_twice_answers_200_both_times() {
    let app = spawn_app().await;
    let key = app.issue("twice").await.key;
    assert_eq!(app.revoke(&key).await.status, 200);
    let again = app.revoke(&key).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.detail(), REVOKED_NOW);
}

#[tokio::test]
async fn an_unknown_or_malformed_key_is_404() {
    let app = spawn_app().await;
    let unknown = unissued_key();
    for key in [unknown.expose(), "kg_nope", ""] {
        let reply = app.revoke(key).await;
        assert_eq!(reply.status, 404, "{key}");
        assert_eq!(reply.detail(), NOT_FOUND);
    }
}

#[tokio::test]
async fn revoke_rejects_bad_bodies_with_400() {
    let app = spawn_app().await;
    for body in ["", "{", "[]", "{}", r#"{"key": 5}"#, r#"{"key": null}"#] {
        let reply = app.revoke_raw(None, Body::Text(body.to_owned())).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(!reply.detail().is_empty());
    }
}

#[tokio::test]
async fn revoke_with_get_is_405() {
    let app = spawn_app().await;
    let req = get("/").body(Body::Empty).unwrap();
    assert_eq!(app.revoke_request(req).await.status, 405);
}

#[tokio::test]
async fn a_revoked_key_is_rejected_even_when_cached() {
    let app = spawn_app().await;
    let key = app.issue("cached").await.key;
    assert_eq!(app.protected(&key).await.status, 200); // now cached
                                                       // Another instance with its own connections revokes it.
    let other = app.same_services().await;
    assert_eq!(other.revoke(&key).await.status, 200);
    let before = app.dynamodb_requests.get();
    assert_eq!(app.protected(&key).await.status, 403);
    assert_eq!(
        app.dynamodb_requests.since(before),
        0,
        "answered from the cache"
    );
}

#[tokio::test]
async fn revoke_answers_503_with_advice_when_the_cache_cannot_be_updated() {
    let app = spawn_app().await;
    let key = app.issue("stuck").await.key;
    let no_redis = app.instance(Endpoints::without_redis()).await;
    let reply = no_redis.revoke(&key).await;
    assert_eq!(reply.status, 503);
    assert!(reply.detail().contains("Retry"), "{}", reply.detail());
    // The database already says revoked, and retrying where Redis works finishes the job.
    assert_eq!(app.protected(&key).await.status, 403);
    assert_eq!(app.revoke(&key).await.status, 200);
}

#[tokio::test]
async fn revoke_answers_503_when_dynamodb_is_down() {
    let app = spawn_app().await;
    let key = app.issue("later").await.key;
    let down = app.instance(Endpoints::without_dynamodb()).await;
    let reply = down.revoke(&key).await;
    assert_eq!(reply.status, 503);
    assert!(!reply.detail().is_empty());
    assert_eq!(app.protected(&key).await.status, 200, "nothing changed");
}
