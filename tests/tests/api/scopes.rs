//! Owners, metadata and scopes: stored with the key, returned with it, and scopes enforced
//! by the guard from the cache entry.

use keygate_tests::spawn_app;
use serde_json::json;

#[tokio::test]
async fn issue_keeps_owner_meta_and_scopes_and_returns_them() {
    let app = spawn_app().await;
    let meta = json!({"zeta": 1, "alpha": {"nested": [true, null]}, "plan": "pro"});
    let reply = app
        .try_issue(json!({
            "name": "orders",
            "owner": "team-payments",
            "meta": meta,
            "scopes": ["orders:read", "orders:write"],
        }))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["owner"], "team-payments");
    assert_eq!(reply.body["scopes"], json!(["orders:read", "orders:write"]));
    // Returned as given, key order included.
    assert_eq!(
        reply.body["meta"].to_string(),
        r#"{"zeta":1,"alpha":{"nested":[true,null]},"plan":"pro"}"#
    );
    let key = reply.key();
    let verified = app.protected(key).await;
    assert_eq!(verified.body["owner"], "team-payments");
    assert_eq!(
        verified.body["scopes"],
        json!(["orders:read", "orders:write"])
    );
}

#[tokio::test]
async fn keys_can_be_listed_by_owner() {
    let app = spawn_app().await;
    app.try_issue(json!({"name": "a", "owner": "team-a"})).await;
    app.try_issue(json!({"name": "b", "owner": "team-b"})).await;
    let reply = app.try_list_keys("owner=team-b").await;
    let keys = reply.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["name"], "b");
}

#[tokio::test]
async fn bad_owner_meta_or_scopes_are_400_naming_the_field() {
    let app = spawn_app().await;
    let big = "x".repeat(5000);
    for (body, field) in [
        (json!({"name": "x", "owner": 5}), "owner"),
        (json!({"name": "x", "owner": " "}), "owner"),
        (json!({"name": "x", "owner": "o".repeat(201)}), "owner"),
        (json!({"name": "x", "meta": [1]}), "meta"),
        (json!({"name": "x", "meta": "text"}), "meta"),
        (json!({"name": "x", "meta": {"big": big}}), "meta"),
        (json!({"name": "x", "scopes": "orders:read"}), "scopes"),
        (json!({"name": "x", "scopes": ["Orders"]}), "scopes"),
        (json!({"name": "x", "scopes": ["a", "a"]}), "scopes"),
        (
            json!({"name": "x", "scopes": (0..51).map(|i| format!("s{i}")).collect::<Vec<_>>()}),
            "scopes",
        ),
    ] {
        let reply = app.try_issue(body.clone()).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(
            reply.detail().contains(&format!("`{field}`")),
            "{body}: {}",
            reply.detail()
        );
    }
}

#[tokio::test]
async fn a_key_lacking_a_required_scope_is_403_naming_it() {
    let app = spawn_app().await;
    let key = &app
        .issue_with(json!({"name": "reader", "scopes": ["orders:read"]}))
        .await
        .key;
    let denied = app
        .protected_with_scope(key, "orders:read,orders:write")
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.detail(),
        "API Key lacks the required scope: orders:write."
    );
}

#[tokio::test]
async fn a_key_with_every_required_scope_passes() {
    let app = spawn_app().await;
    let key = &app
        .issue_with(json!({"name": "rw", "scopes": ["orders:read", "orders:write"]}))
        .await
        .key;
    let ok = app
        .protected_with_scope(key, "orders:write,orders:read")
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test]
async fn a_key_without_scopes_has_none() {
    let app = spawn_app().await;
    let key = app.issue("plain").await.key;
    assert_eq!(
        app.protected(&key).await.status,
        200,
        "no scope asked: as before"
    );
    let denied = app.protected_with_scope(&key, "orders:read").await;
    assert_eq!(
        denied.detail(),
        "API Key lacks the required scope: orders:read."
    );
}

#[tokio::test]
async fn scopes_are_enforced_from_the_cache_with_no_dynamodb_request() {
    let app = spawn_app().await;
    let key = &app
        .issue_with(json!({"name": "cached", "scopes": ["a"]}))
        .await
        .key;
    app.protected(key).await; // fills the cache
    let before = app.dynamodb_requests.get();
    assert_eq!(app.protected_with_scope(key, "a").await.status, 200);
    assert_eq!(app.protected_with_scope(key, "b").await.status, 403);
    assert_eq!(app.dynamodb_requests.since(before), 0);
}

#[tokio::test]
async fn a_malformed_scope_parameter_is_400() {
    let app = spawn_app().await;
    let key = app.issue("k").await.key;
    let reply = app.protected_with_scope(&key, "Not%20A%20Scope").await;
    assert_eq!(reply.status, 400);
    assert!(reply.detail().contains("`scope`"));
}
