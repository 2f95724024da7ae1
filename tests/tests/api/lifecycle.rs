//! Rotation with a grace period, updates, and the audit log: each change to a key is one
//! transaction with its event, and takes effect on the next verification, cached or not.

use chrono::{TimeDelta, Utc};
use keygate::audit::Origin;
use keygate::key::KeyId;
use keygate::store::StoreError;
use keygate::verify::{Denial, Source};
use keygate_tests::detail::{EXPIRED, INVALID, REVOKED};
use keygate_tests::{key_hash, new_record, spawn_app, unissued_key, Issued, TestApp};
use lambda_http::http::Method;
use serde_json::{json, Value};

/// A key with an owner, metadata and a scope, for a rotation or an update to carry over.
async fn issue_full(app: &TestApp) -> Issued {
    app.issue_with(json!({
        "name": "orders",
        "owner": "team-a",
        "meta": {"plan": "pro"},
        "scopes": ["orders:read"],
    }))
    .await
}

fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn admin_rotation_answers_201_with_a_new_key_that_inherits_the_old_ones_fields() {
    let app = spawn_app().await;
    let old_id = issue_full(&app).await.id;
    let reply = app
        .admin_api(
            Method::POST,
            &format!("/keys/{old_id}/rotate"),
            Some(json!({"grace_seconds": 60})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let b = &reply.body;
    assert_ne!(b["id"], old_id.as_str());
    assert_eq!(b["name"], "orders");
    assert_eq!(b["owner"], "team-a");
    assert_eq!(b["meta"], json!({"plan": "pro"}));
    assert_eq!(b["scopes"], json!(["orders:read"]));
    assert_eq!(b["rotated_from"], old_id.as_str());
    assert_eq!(b["old_key"]["rotated_to"], b["id"]);
    let new_key = b["key"].as_str().unwrap();
    assert_eq!(app.protected(new_key).await.status, 200);
}

#[tokio::test]
async fn the_old_key_verifies_during_its_grace_period_and_not_after() {
    let app = spawn_app().await;
    let old_key = issue_full(&app).await.key;
    assert_eq!(app.protected(&old_key).await.status, 200); // cached before rotation
    let reply = app
        .rotate(&old_key, Some(json!({"grace_seconds": 3600})))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(app.protected(&old_key).await.status, 200, "during grace");
    let after = Utc::now() + TimeDelta::seconds(3601);
    let v = app.verify_at(&old_key, after).await;
    assert_eq!(
        v.source,
        Source::Cache,
        "the cache entry carries the new end"
    );
    assert_eq!(v.verdict, Err(Denial::Expired));
}

#[tokio::test]
async fn a_grace_of_zero_revokes_the_old_key_at_once_even_when_cached() {
    let app = spawn_app().await;
    let old_key = issue_full(&app).await.key;
    app.protected(&old_key).await;
    let reply = app
        .rotate(&old_key, Some(json!({"grace_seconds": 0})))
        .await;
    assert_eq!(reply.status, 201);
    assert_eq!(app.protected(&old_key).await.detail(), REVOKED);
}

#[tokio::test]
async fn rotating_a_key_in_its_grace_period_is_409() {
    let app = spawn_app().await;
    let old_key = issue_full(&app).await.key;
    assert_eq!(app.rotate(&old_key, None).await.status, 201);
    let again = app.rotate(&old_key, None).await;
    assert_eq!(again.status, 409);
    assert!(!again.detail().is_empty());
}

#[tokio::test]
async fn rotating_a_revoked_key_is_403_with_the_usual_message() {
    let app = spawn_app().await;
    let key = app.issue("revoked").await.key;
    app.revoke(&key).await;
    assert_eq!(app.rotate(&key, None).await.detail(), REVOKED);
}

#[tokio::test]
async fn rotating_a_key_a_rotation_has_ended_is_403_with_the_usual_message() {
    let app = spawn_app().await;
    let old_key = issue_full(&app).await.key;
    app.rotate(&old_key, Some(json!({"grace_seconds": 0})))
        .await;
    assert_eq!(app.rotate(&old_key, None).await.detail(), REVOKED);
}

#[tokio::test]
async fn rotating_an_unknown_or_missing_key_is_403() {
    let app = spawn_app().await;
    let unknown = unissued_key();
    let reply = app.rotate(unknown.expose(), None).await;
    assert_eq!((reply.status, reply.detail()), (403, INVALID));
    let reply = app.rotate("", None).await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn an_expired_key_cannot_be_rotated() {
    let app = spawn_app().await;
    let Issued { id, key } = issue_full(&app).await;
    let past = (Utc::now() - TimeDelta::seconds(1)).to_rfc3339();
    let patched = app.update_key(&id, json!({"expires_at": past})).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(app.rotate(&key, None).await.detail(), EXPIRED);
}

#[tokio::test]
async fn a_bad_grace_period_is_400() {
    let app = spawn_app().await;
    let key = issue_full(&app).await.key;
    for grace in [json!(-1), json!(604_801), json!("1"), json!(1.5)] {
        let reply = app
            .rotate(&key, Some(json!({"grace_seconds": grace})))
            .await;
        assert_eq!(reply.status, 400, "{grace}");
        assert!(reply.detail().contains("`grace_seconds`"));
    }
}

#[tokio::test]
async fn the_old_key_can_still_be_revoked_during_its_grace_period() {
    let app = spawn_app().await;
    let old_key = issue_full(&app).await.key;
    app.rotate(&old_key, None).await;
    assert_eq!(app.revoke(&old_key).await.status, 200);
    assert_eq!(app.protected(&old_key).await.detail(), REVOKED);
}

#[tokio::test]
async fn a_failed_rotation_transaction_leaves_nothing_half_done() {
    let app = spawn_app().await;
    let Issued {
        id: old_id,
        key: old_key,
    } = issue_full(&app).await;
    let hash = key_hash(&old_key);
    let mut stale = app.stored(&hash).await;
    // Someone else changed the key since it was read: the old key's condition fails.
    app.update_key(&old_id, json!({"name": "renamed"})).await;
    stale.version = 0;
    let (new_key, new) = new_record("n", Utc::now());
    let ended = keygate::rotate::ended(&stale, &new.id, 60, Utc::now());
    let result = app
        .app
        .store
        .rotate(
            &hash,
            &stale,
            &ended,
            &new_key.hash(),
            &new,
            &Origin::default(),
            Utc::now(),
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    assert!(
        app.app.store.get(&new_key.hash()).await.unwrap().is_none(),
        "no new key"
    );
    let old = app.stored(&hash).await;
    assert_eq!(old.rotated_to, None, "the old key was not ended");
    assert!(!actions(&app.audit(&format!("?key_id={old_id}")).await).contains(&"rotate"));
}

#[tokio::test]
async fn an_update_takes_effect_on_the_next_verification_even_when_cached() {
    let app = spawn_app().await;
    let Issued { id, key } = issue_full(&app).await;
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
    let id = issue_full(&app).await.id;
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
async fn every_change_has_exactly_one_audit_event() {
    let app = spawn_app().await;
    let Issued { id, key } = issue_full(&app).await;
    app.update_key(&id, json!({"name": "renamed", "owner": "team-b"}))
        .await;
    app.update_key(&id, json!({"name": "renamed"})).await; // no change: no event
    app.revoke(&key).await;
    app.revoke(&key).await; // already revoked: no event
    let log = app.audit(&format!("?key_id={id}")).await;
    assert_eq!(actions(&log), ["revoke", "update", "issue"], "newest first");
    assert_eq!(log[0]["actor"], format!("key:{id}"), "self-service revoke");
    assert_eq!(log[1]["actor"], "admin");
    assert_eq!(log[1]["changes"], json!(["name", "owner"]));
    assert_eq!(log[2]["key_id"], id.as_str());
    let dump = serde_json::to_string(&log).unwrap();
    assert!(!dump.contains(&key[3..]), "an event holds a raw key");
}

#[tokio::test]
async fn a_rotation_is_one_event_found_by_either_keys_id() {
    let app = spawn_app().await;
    let Issued {
        id: old_id,
        key: old_key,
    } = issue_full(&app).await;
    let reply = app.rotate(&old_key, None).await;
    let new_id = reply.id().to_owned();
    let by_old = app.audit(&format!("?key_id={old_id}")).await;
    assert_eq!(actions(&by_old), ["rotate", "issue"]);
    assert_eq!(by_old[0]["new_key_id"], new_id.as_str());
    assert_eq!(by_old[0]["actor"], format!("key:{old_id}"));
    let by_new = app.audit(&format!("?key_id={new_id}")).await;
    assert_eq!(actions(&by_new), ["rotate"]);
    assert_eq!(by_new[0]["id"], by_old[0]["id"]);
    let rotations = app.audit("?action=rotate").await;
    assert_eq!(rotations.len(), 1);
}

#[tokio::test]
async fn the_audit_log_pages_newest_first() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.issue(&format!("k{i}")).await;
    }
    let first = app.admin_api(Method::GET, "/audit?limit=3", None).await;
    assert_eq!(first.body["events"].as_array().unwrap().len(), 3);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .admin_api(
            Method::GET,
            &format!("/audit?limit=3&cursor={cursor}"),
            None,
        )
        .await;
    let rest = second.body["events"].as_array().unwrap();
    assert_eq!(rest.len(), 2);
    assert!(second.body["next_cursor"].is_null());
    let times: Vec<&str> = first.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest)
        .map(|e| e["time"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
}

#[tokio::test]
async fn bad_audit_queries_are_400() {
    let app = spawn_app().await;
    for q in [
        "?key_id=nope",
        "?action=delete",
        "?cursor=zz",
        "?limit=0",
        "?other=1",
    ] {
        let r = app
            .admin_api(Method::GET, &format!("/audit{q}"), None)
            .await;
        assert_eq!(r.status, 400, "{q}");
        assert!(!r.detail().is_empty());
    }
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
    let (key, record) = new_record("old", Utc::now());
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
    let revoked = store
        .revoke(&key.hash(), Utc::now(), &Origin::default())
        .await
        .unwrap()
        .unwrap();
    assert!(revoked.changed);
    assert_eq!(revoked.record.version, 1);
}
