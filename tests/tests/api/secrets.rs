//! Only hashes are stored, and no raw key, admin credential or admin token reaches the
//! table, the cache or a log line.

use keygate_tests::{a_line_with, captured_logs, spawn_app, Issued};
use lambda_http::http::Method;
use serde_json::json;

#[tokio::test]
async fn no_raw_key_or_admin_token_is_stored_cached_or_logged() {
    let app = spawn_app().await;
    let mut keys = Vec::new();
    for name in ["a", "b", "c"] {
        keys.push(app.issue(name).await.key);
    }
    for key in &keys {
        app.protected(key).await;
        app.protected(key).await;
    }
    app.revoke(&keys[0]).await;
    app.revoke(&keys[0]).await;
    app.protected(&keys[0]).await;
    app.try_issue(json!({"name": ""})).await; // an error path too
                                              // Admin credentials: created, used (cached), rotated, refused, revoked.
    let admin = app.create_admin("scanned", "admin").await;
    app.admin_api_as(&admin.key, Method::GET, "/keys", None)
        .await;
    app.admin_api_as(&admin.key, Method::GET, "/keys", None)
        .await;
    let rotated = app
        .admin_api_as(
            &admin.key,
            Method::POST,
            &format!("/admins/{}/rotate", admin.id),
            None,
        )
        .await;
    let successor = rotated.body["key"].as_str().unwrap().to_owned();
    app.admin_api_as(&admin.key, Method::GET, "/keys", None)
        .await;
    app.admin_api_as(&successor, Method::GET, "/me", None).await;
    app.protected(&successor).await;
    keys.push(admin.key);
    keys.push(successor);

    let table = app.table_dump().await;
    let cache = app.redis_dump().await;
    let logs = captured_logs();
    assert!(!cache.is_empty(), "the flow should have filled the cache");
    assert!(logs.contains("function=\"issue\"") || logs.contains("\"function\":\"issue\""));
    for key in &keys {
        let secret = &key[4..];
        assert!(!table.contains(secret), "a raw key is in the table");
        for entry in &cache {
            assert!(!entry.key.contains(secret), "a raw key is a Redis key");
            assert!(
                !String::from_utf8_lossy(&entry.value).contains(secret),
                "a raw key is in Redis"
            );
        }
        assert!(!logs.contains(secret), "a raw key is in the logs");
    }
    assert!(
        !logs.contains(&app.admin_token),
        "the admin token is in the logs"
    );
    assert!(!table.contains(&app.admin_token));
}

#[tokio::test]
async fn each_request_writes_one_log_line_with_function_key_id_outcome_and_latency() {
    let app = spawn_app().await;
    let Issued { id, key } = app.issue("logged").await;
    app.protected(&key).await;
    let logs = captured_logs();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(&id) && l.contains("latency_us"))
        .collect();
    assert!(
        a_line_with(
            lines.iter().copied(),
            &["issue", "outcome=\"issued\"", "status=201"]
        ),
        "{lines:#?}"
    );
    assert!(
        a_line_with(
            lines.iter().copied(),
            &["test-protected", "outcome=\"valid\"", "status=200"]
        ),
        "{lines:#?}"
    );
}
