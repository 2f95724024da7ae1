//! Rotation with a grace period: the new key inherits the old one's fields, the old one
//! verifies until its grace ends, and a rotation is one transaction with its event, or
//! nothing at all.

use chrono::{TimeDelta, Utc};
use keygate::domain::audit::Origin;
use keygate::domain::outcome::{Outcome, Source};
use keygate::store::{Rotation, StoreError};
use keygate_tests::detail::{EXPIRED, INVALID, REVOKED};
use keygate_tests::{actions, key_hash, new_record, spawn_app, unissued_key, Issued};
use lambda_http::http::Method;
use serde_json::json;

#[tokio::test]
async fn admin_rotation_answers_201_with_a_new_key_that_inherits_the_old_ones_fields() {
    let app = spawn_app().await;
    let old_id = app.issue_full().await.id;
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
    let old_key = app.issue_full().await.key;
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
    assert_eq!(v.outcome, Outcome::Expired);
}

#[tokio::test]
async fn a_grace_of_zero_revokes_the_old_key_at_once_even_when_cached() {
    let app = spawn_app().await;
    let old_key = app.issue_full().await.key;
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
    let old_key = app.issue_full().await.key;
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
    let old_key = app.issue_full().await.key;
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
    let Issued { id, key } = app.issue_full().await;
    let past = (Utc::now() - TimeDelta::seconds(1)).to_rfc3339();
    let patched = app.update_key(&id, json!({"expires_at": past})).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(app.rotate(&key, None).await.detail(), EXPIRED);
}

#[tokio::test]
async fn a_bad_grace_period_is_400() {
    let app = spawn_app().await;
    let key = app.issue_full().await.key;
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
    let old_key = app.issue_full().await.key;
    app.rotate(&old_key, None).await;
    assert_eq!(app.revoke(&old_key).await.status, 200);
    assert_eq!(app.protected(&old_key).await.detail(), REVOKED);
}

#[tokio::test]
async fn a_failed_rotation_transaction_leaves_nothing_half_done() {
    let app = spawn_app().await;
    let issued = app.issue_full().await;
    let old_id = &issued.id;
    let hash = key_hash(&issued.key);
    let mut stale = app.stored(&hash).await;
    // Someone else changed the key since it was read: the old key's condition fails.
    app.update_key(old_id, json!({"name": "renamed"})).await;
    stale.version = 0;
    let new = new_record("n", Utc::now());
    let ended = keygate::domain::rotation::ended(&stale, &new.record.id, 60, Utc::now());
    let result = app
        .app
        .store
        .rotate(&Rotation {
            hash: &hash,
            old: &stale,
            old_ended: &ended,
            new_hash: &new.key.hash(),
            new: &new.record,
            origin: &Origin::default(),
            now: Utc::now(),
        })
        .await;
    assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    assert!(
        app.app.store.get(&new.key.hash()).await.unwrap().is_none(),
        "no new key"
    );
    let old = app.stored(&hash).await;
    assert_eq!(old.rotated_to, None, "the old key was not ended");
    assert!(!actions(&app.audit(&format!("?key_id={old_id}")).await).contains(&"rotate"));
}
