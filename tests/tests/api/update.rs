//! Updates through the admin API: each change takes effect on the next verification,
//! cached or not, and an older version of a key never replaces a newer one.

use chrono::{TimeDelta, Utc};
use keygate::domain::audit::Origin;
use keygate::domain::key::KeyId;
use keygate::ops::revoke::revoke_hash;
use keygate_tests::detail::{EXPIRED, REVOKED};
use keygate_tests::{key_hash, new_record, spawn_app, Issued, NewRecord, TestApp};
use serde_json::{json, Value};

#[tokio::test]
async fn an_update_takes_effect_on_the_next_verification_even_when_cached() {
    let app = spawn_app().await;
    let Issued { id, key } = app.issue_full().await;
    assert_eq!(
        app.protected_with_scope(&key, "orders:read").await.status,
        200
    );
    let reply = app
        .update_key(&id, json!({"scopes": ["orders:write"], "owner": null}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["owner"], Value::Null);
    let before = app.dynamodb_requests.get();
    assert_eq!(
        app.protected_with_scope(&key, "orders:read").await.status,
        403
    );
    assert_eq!(
        app.protected_with_scope(&key, "orders:write").await.status,
        200
    );
    assert_eq!(
        app.dynamodb_requests.since(before),
        0,
        "answered from the updated cache entry"
    );
}

/// A key that expires in 2099, verified once so that it is cached.
async fn issue_cached_dated(app: &TestApp) -> Issued {
    let issued = app
        .issue_with(json!({"name": "dated", "expires_at": "2099-01-01T00:00:00Z"}))
        .await;
    app.protected(&issued.key).await;
    issued
}

#[tokio::test]
async fn an_expiry_may_only_move_earlier() {
    let app = spawn_app().await;
    let id = issue_cached_dated(&app).await.id;
    for later in [json!("2099-06-01T00:00:00Z"), json!(null)] {
        let r = app.update_key(&id, json!({"expires_at": later})).await;
        assert_eq!(r.status, 400, "{later}");
        assert!(r.detail().contains("`expires_at`"));
    }
}

#[tokio::test]
async fn an_expiry_in_the_past_ends_the_key_at_once_even_when_cached() {
    let app = spawn_app().await;
    let Issued { id, key } = issue_cached_dated(&app).await;
    let past = (Utc::now() - TimeDelta::seconds(5)).to_rfc3339();
    let r = app.update_key(&id, json!({"expires_at": past})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "expired");
    assert_eq!(app.protected(&key).await.detail(), EXPIRED);
}

#[tokio::test]
async fn bad_updates_are_400() {
    let app = spawn_app().await;
    let id = app.issue_full().await.id;
    for body in [
        json!({}),
        json!({"state": "active"}),
        json!({"name": ""}),
        json!({"scopes": ["X"]}),
    ] {
        let r = app.update_key(&id, body.clone()).await;
        assert_eq!(r.status, 400, "{body}");
    }
}

#[tokio::test]
async fn updating_an_unknown_key_is_404() {
    let app = spawn_app().await;
    let unknown = KeyId::generate().unwrap();
    let r = app.update_key(unknown.as_str(), json!({"name": "x"})).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn an_older_version_can_never_replace_a_newer_one_in_the_cache() {
    let app = spawn_app().await;
    let key = app.issue("race").await.key;
    let hash = key_hash(&key);
    let before = app.stored(&hash).await;
    assert_eq!(app.revoke(&key).await.status, 200);
    // An update that read the key before the revoke writes its (active) entry late.
    let mut stale = before.clone();
    stale.version += 1; // what that update would have written: the same version as the revoke
    stale.name = "late update".into();
    app.app
        .cache
        .replace(&hash, &stale, Utc::now())
        .await
        .unwrap();
    assert_eq!(app.protected(&key).await.detail(), REVOKED);
}

#[tokio::test]
async fn keys_stored_before_versions_existed_count_as_version_0() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let app = spawn_app().await;
    let store = &app.app.store;
    let NewRecord { key, record } = new_record("old", Utc::now());
    app.insert(&key, &record).await;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key(
            "pk",
            AttributeValue::S(format!("KEY#{}", key.hash().to_hex())),
        )
        .update_expression("REMOVE v")
        .send()
        .await
        .unwrap();
    assert_eq!(store.get(&key.hash()).await.unwrap().unwrap().version, 0);
    let revoked = revoke_hash(&app.app, &key.hash(), Utc::now(), &Origin::default())
        .await
        .unwrap();
    assert!(revoked.changed);
    assert_eq!(revoked.record.version, 1);
}
