//! Issuing a key: the admin token is required, the key is shown once and verifies at once,
//! bad requests are refused with a `detail`, and no key is returned that was not stored.

use keygate_tests::{get, post, spawn_app, Endpoints};
use lambda_http::Body;
use serde_json::json;

#[tokio::test]
async fn issue_returns_201_with_the_key_shown_once() {
    let app = spawn_app().await;
    let reply = app.try_issue(json!({"name": "billing service"})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let b = &reply.body;
    assert_eq!(b["name"], "billing service");
    assert_eq!(b["status"], "active");
    assert!(b["id"].as_str().unwrap().starts_with("key_"));
    let key = b["key"].as_str().unwrap();
    assert!(key.starts_with("kg_") && key.len() == 75, "{key}");
    assert!(key.starts_with(b["prefix"].as_str().unwrap()));
    assert!(b["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(b["expires_at"].is_null());
    let mut fields: Vec<_> = b.as_object().unwrap().keys().cloned().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "created_at",
            "expires_at",
            "id",
            "identity_id",
            "key",
            "last_used_at",
            "limits",
            "meta",
            "name",
            "owner",
            "prefix",
            "quota",
            "rate_limit",
            "revoked_at",
            "rotated_from",
            "rotated_to",
            "scopes",
            "self_rotation",
            "status"
        ]
    );
    assert!(b["last_used_at"].is_null());
    assert_eq!(b["scopes"], json!([]));
}

#[tokio::test]
async fn an_issued_key_verifies_at_once() {
    let app = spawn_app().await;
    let key = app.issue("fresh").await.key;
    assert_eq!(app.protected(&key).await.status, 200);
}

#[tokio::test]
async fn issue_keeps_a_future_expiry_in_utc() {
    let app = spawn_app().await;
    let reply = app
        .try_issue(json!({"name": "temp", "expires_at": "2099-01-01T01:00:00+01:00"}))
        .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.body["expires_at"], "2099-01-01T00:00:00.000Z");
}

#[tokio::test]
async fn issue_without_credentials_is_401() {
    let app = spawn_app().await;
    let req = post("/api/v1/keys/issue/")
        .body(Body::Text(json!({"name": "x"}).to_string()))
        .unwrap();
    let reply = app.issue_request(req).await;
    assert_eq!(reply.status, 401);
    assert!(reply.detail().contains("Bearer"), "{}", reply.detail());
}

#[tokio::test]
async fn issue_with_a_wrong_token_is_401_and_does_not_echo_it() {
    let app = spawn_app().await;
    for auth in [
        "Bearer not-the-admin-token".to_owned(),
        format!("Basic {}", app.admin_token),
        format!("Bearer {}x", app.admin_token),
    ] {
        let req = post("/api/v1/keys/issue/")
            .header("authorization", &auth)
            .body(Body::Text(json!({"name": "x"}).to_string()))
            .unwrap();
        let reply = app.issue_request(req).await;
        assert_eq!(reply.status, 401, "{auth}");
        assert!(!reply.body.to_string().contains("not-the-admin-token"));
        assert!(!reply.body.to_string().contains(&app.admin_token));
    }
}

#[tokio::test]
async fn issue_rejects_bad_bodies_with_400_and_a_detail() {
    let app = spawn_app().await;
    let too_long = "x".repeat(201);
    for body in [
        "",
        "   ",
        "{not json",
        "[1, 2]",
        "\"name\"",
        "{}",
        r#"{"name": null}"#,
        r#"{"name": 42}"#,
        r#"{"name": "   "}"#,
        &format!(r#"{{"name": "{too_long}"}}"#),
        r#"{"name": "x", "expires_at": "next tuesday"}"#,
        r#"{"name": "x", "expires_at": 1700000000}"#,
        r#"{"name": "x", "expires_at": "2001-01-01T00:00:00Z"}"#,
    ] {
        let reply = app
            .issue_raw(Some("application/json"), Body::Text(body.to_owned()))
            .await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(!reply.detail().is_empty(), "{body}");
    }
}

#[tokio::test]
async fn issue_rejects_a_body_over_64_kib_with_413() {
    let app = spawn_app().await;
    let body = json!({"name": "x", "padding": "p".repeat(70_000)}).to_string();
    let reply = app.issue_raw(None, Body::Text(body)).await;
    assert_eq!(reply.status, 413);
    assert!(reply.detail().contains("64 KiB"));
}

#[tokio::test]
async fn issue_rejects_a_non_json_content_type_with_415() {
    let app = spawn_app().await;
    let form = Some("application/x-www-form-urlencoded");
    let reply = app.issue_raw(form, Body::Text("name=x".to_owned())).await;
    assert_eq!(reply.status, 415);
    assert!(reply.detail().contains("application/json"));
}

#[tokio::test]
async fn issue_rejects_non_utf8_bytes_with_400() {
    let app = spawn_app().await;
    let body = Body::Binary(b"{\"name\": \"\xff\xfe\"}".to_vec());
    assert_eq!(app.issue_raw(None, body).await.status, 400);
}

#[tokio::test]
async fn issue_with_get_is_405() {
    let app = spawn_app().await;
    let req = get("/api/v1/keys/issue/")
        .header("authorization", app.bearer())
        .body(Body::Empty)
        .unwrap();
    let reply = app.issue_request(req).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.headers["allow"], "POST");
    assert!(!reply.detail().is_empty());
}

#[tokio::test]
async fn issue_answers_503_and_returns_no_key_when_dynamodb_is_down() {
    let app = spawn_app().await;
    let down = app.instance(Endpoints::without_dynamodb()).await;
    let reply = down.try_issue(json!({"name": "x"})).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.body.get("key").is_none());
    assert!(!reply.detail().is_empty());
}

#[tokio::test]
async fn many_keys_issued_concurrently_are_all_distinct_and_verify() {
    let app = std::sync::Arc::new(spawn_app().await);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { app.issue(&format!("k{i}")).await.key })
        })
        .collect();
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.unwrap());
    }
    let distinct: std::collections::HashSet<_> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len());
    for key in &keys {
        assert_eq!(app.protected(key).await.status, 200);
    }
}
