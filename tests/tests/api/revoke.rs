use keygate::domain::key::{ApiKey, KeyPrefix};
use keygate_tests::{post, spawn_app, Endpoints, DEAD_ENDPOINT, DEAD_REDIS};
use lambda_http::Body;

#[tokio::test]
async fn revoke_answers_200_and_the_key_stops_working() {
    let app = spawn_app().await;
    let key = app.issue_key("leaked").await;
    let reply = app.revoke(&key).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.detail(), "API Key revoked successfully.");
    assert_eq!(app.protected(Some(&key)).await.status, 403);
}

#[tokio::test]
async fn revoking_twice_answers_200_both_times() {
    let app = spawn_app().await;
    let key = app.issue_key("twice").await;
    assert_eq!(app.revoke(&key).await.status, 200);
    let again = app.revoke(&key).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.detail(), "API Key revoked successfully.");
}

#[tokio::test]
async fn an_unknown_or_malformed_key_is_404() {
    let app = spawn_app().await;
    let unknown = ApiKey::generate(&KeyPrefix::default()).unwrap();
    for key in [unknown.expose(), "kg_nope", ""] {
        let reply = app.revoke(key).await;
        assert_eq!(reply.status, 404, "{key}");
        assert_eq!(reply.detail(), "API Key not found.");
    }
}

#[tokio::test]
async fn revoke_rejects_bad_bodies_with_400() {
    let app = spawn_app().await;
    for body in ["", "{", "[]", "{}", r#"{"key": 5}"#, r#"{"key": null}"#] {
        let req = post("/api/v1/keys/revoke/")
            .body(Body::Text(body.to_owned()))
            .unwrap();
        let reply = app.revoke_request(req).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(!reply.detail().is_empty());
    }
}

#[tokio::test]
async fn revoke_with_get_is_405() {
    let app = spawn_app().await;
    let req = keygate_tests::get("/").body(Body::Empty).unwrap();
    assert_eq!(app.revoke_request(req).await.status, 405);
}

#[tokio::test]
async fn a_revoked_key_is_rejected_even_when_cached() {
    let app = spawn_app().await;
    let key = app.issue_key("cached").await;
    assert_eq!(app.protected(Some(&key)).await.status, 200); // now cached
                                                             // Another instance with its own connections revokes it.
    let other = app.same_services().await;
    assert_eq!(other.revoke(&key).await.status, 200);
    let before = app.dynamodb_requests.get();
    assert_eq!(app.protected(Some(&key)).await.status, 403);
    assert_eq!(
        app.dynamodb_requests.get(),
        before,
        "answered from the cache"
    );
}

#[tokio::test]
async fn revoke_answers_503_with_advice_when_the_cache_cannot_be_updated() {
    let app = spawn_app().await;
    let key = app.issue_key("stuck").await;
    let no_redis = app
        .instance(Endpoints {
            redis: DEAD_REDIS.to_owned(),
            ..Default::default()
        })
        .await;
    let reply = no_redis.revoke(&key).await;
    assert_eq!(reply.status, 503);
    assert!(reply.detail().contains("Retry"), "{}", reply.detail());
    // The database already says revoked, and retrying where Redis works finishes the job.
    assert_eq!(app.protected(Some(&key)).await.status, 403);
    assert_eq!(app.revoke(&key).await.status, 200);
}

#[tokio::test]
async fn revoke_answers_503_when_dynamodb_is_down() {
    let app = spawn_app().await;
    let key = app.issue_key("later").await;
    let down = app
        .instance(Endpoints {
            dynamodb: DEAD_ENDPOINT.to_owned(),
            ..Default::default()
        })
        .await;
    let reply = down.revoke(&key).await;
    assert_eq!(reply.status, 503);
    assert!(!reply.detail().is_empty());
    assert_eq!(
        app.protected(Some(&key)).await.status,
        200,
        "nothing changed"
    );
}
