//! Importing the old system's keys (`POST admin/api/keys/import`): each key verifies with
//! the old system's meaning and Keygate's messages, an import never overwrites, and
//! legacy-looking strings cost I/O only while the deployment has imported keys.

use std::time::Duration;

use keygate::ops::import::ALREADY_PRESENT;
use keygate::store::LEGACY_RECHECK;
use keygate_tests::detail::{EXPIRED, INVALID, REVOKED};
use keygate_tests::{captured_logs, key_hash, spawn_app, Endpoints, TestApp};
use lambda_http::http::Method;
use rand::distr::{Distribution, Uniform};
use serde_json::{json, Value};

/// A key as the old system made them: 40 lowercase hexadecimal characters.
fn legacy_key() -> String {
    let hex = Uniform::new(0u8, 16).unwrap();
    hex.sample_iter(rand::rng())
        .take(40)
        .map(|d| char::from_digit(u32::from(d), 16).unwrap())
        .collect()
}

fn sha256(key: &str) -> String {
    key_hash(key).to_hex()
}

async fn import(app: &TestApp, keys: Value) -> Value {
    let reply = app
        .admin_api(Method::POST, "/keys/import", Some(json!({ "keys": keys })))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn a_few_hundred_legacy_keys_import_and_verify_with_the_old_systems_meaning() {
    let app = spawn_app().await;
    let (active, hashed, revoked, expired) = (
        (0..120).map(|_| legacy_key()).collect::<Vec<_>>(),
        (0..60).map(|_| legacy_key()).collect::<Vec<_>>(),
        (0..60).map(|_| legacy_key()).collect::<Vec<_>>(),
        (0..60).map(|_| legacy_key()).collect::<Vec<_>>(),
    );
    let mut keys = Vec::new();
    keys.extend(active.iter().map(|k| json!({"key": k, "name": "active"})));
    keys.extend(
        hashed
            .iter()
            .map(|k| json!({"sha256": sha256(k), "name": "hashed"})),
    );
    keys.extend(
        revoked
            .iter()
            .map(|k| json!({"key": k, "name": "gone", "status": "revoked"})),
    );
    keys.extend(expired.iter().map(|k| {
        json!({"key": k, "name": "old", "created_at": "2019-05-01T08:00:00Z",
               "expires_at": "2020-05-01T08:00:00Z"})
    }));

    let report = import(&app, Value::Array(keys)).await;
    assert_eq!(report["imported"], 300, "{report}");
    assert_eq!(report["skipped"], json!([]));

    for key in active.iter().chain(&hashed) {
        let reply = app.protected(key).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    for key in &revoked {
        let reply = app.protected(key).await;
        assert_eq!((reply.status, reply.detail()), (403, REVOKED));
    }
    for key in &expired {
        let reply = app.protected(key).await;
        assert_eq!((reply.status, reply.detail()), (403, EXPIRED));
    }
}

#[tokio::test]
async fn an_imported_key_keeps_its_fields_gets_an_id_and_a_short_prefix() {
    let app = spawn_app().await;
    let key = legacy_key();
    import(
        &app,
        json!([{"key": key, "name": "billing", "owner": "acme", "scopes": ["orders:read"],
                "meta": {"plan": "pro"}, "created_at": "2021-03-04T05:06:07Z"}]),
    )
    .await;
    let reply = app.protected(&key).await;
    assert_eq!(reply.status, 200);
    let id = reply.body["key_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("key_"), "{id}");
    let view = app.view_key(&id).await.body;
    assert_eq!(view["prefix"], key[..6], "{view}");
    assert_eq!(view["owner"], "acme");
    assert_eq!(view["scopes"], json!(["orders:read"]));
    assert_eq!(view["meta"], json!({"plan": "pro"}));
    assert_eq!(view["created_at"], "2021-03-04T05:06:07.000Z");
    assert_eq!(
        app.protected_with_scope(&key, "orders:write").await.status,
        403
    );
}

#[tokio::test]
async fn the_raw_key_is_never_stored_nor_logged() {
    let app = spawn_app().await;
    let key = legacy_key();
    import(&app, json!([{"key": key, "name": "secret"}])).await;
    assert_eq!(app.protected(&key).await.status, 200);
    assert!(!app.table_dump().await.contains(&key));
    let item = format!("{:?}", app.raw_item(&key_hash(&key)).await);
    assert!(item.contains(&sha256(&key)) && !item.contains(&key));
    assert!(!captured_logs().contains(&key));
}

#[tokio::test]
async fn importing_again_imports_nothing_and_overwrites_nothing() {
    let app = spawn_app().await;
    let (kept, revoked_since) = (legacy_key(), legacy_key());
    let keys = json!([{"key": kept, "name": "a"}, {"key": revoked_since, "name": "b"}]);
    import(&app, keys.clone()).await;
    assert_eq!(app.revoke(&revoked_since).await.status, 200);

    let again = import(&app, keys).await;
    assert_eq!(again["imported"], 0);
    assert_eq!(
        again["skipped"],
        json!([{"index": 0, "detail": ALREADY_PRESENT}, {"index": 1, "detail": ALREADY_PRESENT}])
    );
    assert_eq!(app.protected(&kept).await.status, 200);
    assert_eq!(app.protected(&revoked_since).await.detail(), REVOKED);
    // The same key twice in one call: the second is skipped, naming the first.
    let twice = legacy_key();
    let report = import(
        &app,
        json!([{"key": twice, "name": "x"}, {"sha256": sha256(&twice), "name": "y"}]),
    )
    .await;
    assert_eq!(report["imported"], 1);
    assert_eq!(
        report["skipped"],
        json!([{"index": 1, "detail": "The same key is at index 0 of this import."}])
    );
}

#[tokio::test]
async fn a_bad_key_is_skipped_with_its_reason_and_the_others_are_imported() {
    let app = spawn_app().await;
    let good = legacy_key();
    let report = import(
        &app,
        json!([{"key": "short", "name": "x"}, {"key": good, "name": "ok"},
               {"key": legacy_key(), "name": "x", "status": "disabled"}]),
    )
    .await;
    assert_eq!(report["imported"], 1);
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 2);
    assert_eq!(skipped[0]["index"], 0);
    assert!(skipped[0]["detail"]
        .as_str()
        .unwrap()
        .contains("`key` must be 16 to 128"));
    assert_eq!(skipped[1]["index"], 2);
    assert!(skipped[1]["detail"].as_str().unwrap().contains("`status`"));
    assert_eq!(app.protected(&good).await.status, 200);
}

#[tokio::test]
async fn a_body_that_is_not_a_list_of_keys_is_400_naming_the_field() {
    let app = spawn_app().await;
    for (body, words) in [
        (json!({}), "`keys` is required"),
        (json!({"keys": "abc"}), "`keys` must be an array"),
        (json!({"keys": []}), "at least one"),
        (json!({"key": []}), "did you mean `keys`"),
    ] {
        let reply = app
            .admin_api(Method::POST, "/keys/import", Some(body.clone()))
            .await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(reply.detail().contains(words), "{body}: {}", reply.detail());
    }
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"key": legacy_key(), "name": "x"}))
        .collect();
    let reply = app
        .admin_api(Method::POST, "/keys/import", Some(json!({ "keys": many })))
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.detail().contains("at most 1000"),
        "{}",
        reply.detail()
    );
    let reply = app.admin_api(Method::GET, "/keys/import", None).await;
    assert_eq!(reply.status, 405);
}

#[tokio::test]
async fn importing_needs_the_operate_role_and_is_audited_with_its_actor() {
    let app = spawn_app().await;
    let reader = app.create_admin("reader", "read").await;
    let operator = app.create_admin("operator", "operate").await;
    let body = json!({"keys": [{"key": legacy_key(), "name": "x"}]});
    let refused = app
        .admin_api_as(
            &reader.key,
            Method::POST,
            "/keys/import",
            Some(body.clone()),
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.detail(),
        "This admin credential lacks the role: operate."
    );
    let reply = app
        .admin_api_as(&operator.key, Method::POST, "/keys/import", Some(body))
        .await;
    assert_eq!(reply.body["imported"], 1, "{}", reply.body);

    let events = app.audit("?action=import").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor"]["type"], "admin");
    assert_eq!(events[0]["actor"]["id"], operator.id.as_str());
}

#[tokio::test]
async fn legacy_looking_garbage_is_refused_and_costs_no_dynamodb_read_the_second_time() {
    let app = spawn_app().await;
    import(&app, json!([{"key": legacy_key(), "name": "x"}])).await;
    let garbage = legacy_key();
    let reply = app.protected(&garbage).await;
    assert_eq!((reply.status, reply.detail()), (403, INVALID));
    let before = app.dynamodb_requests.get();
    let reply = app.protected(&garbage).await;
    assert_eq!((reply.status, reply.detail()), (403, INVALID));
    assert_eq!(app.dynamodb_requests.since(before), 0);
}

#[tokio::test]
async fn before_any_import_a_legacy_looking_key_costs_at_most_one_small_read_per_instance() {
    let app = spawn_app().await;
    let before = app.dynamodb_requests.get();
    for _ in 0..20 {
        let reply = app.protected(&legacy_key()).await;
        assert_eq!((reply.status, reply.detail()), (403, INVALID));
    }
    // The flag's read, once: none of the 20 keys was looked up. (More than one only if the
    // loop outlasted the recheck interval.)
    assert_eq!(app.dynamodb_requests.since(before), 1);
    let cached = app.redis_dump().await;
    assert_eq!(cached.len(), 0, "something was cached");
}

#[tokio::test]
async fn every_instance_learns_of_a_first_import_within_seconds() {
    let app = spawn_app().await;
    let other = app.same_services().await;
    let key = legacy_key();
    assert_eq!(other.protected(&key).await.detail(), INVALID);

    import(&app, json!([{"key": key, "name": "x"}])).await;
    // The other instance trusted its "no import yet" for at most LEGACY_RECHECK.
    let mut waited = Duration::ZERO;
    while other.protected(&key).await.status != 200 {
        assert!(
            waited <= LEGACY_RECHECK * 3,
            "not accepted after {waited:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
}

#[tokio::test]
async fn legacy_keys_off_refuses_imported_keys_with_no_io() {
    let app = spawn_app().await;
    let key = legacy_key();
    import(&app, json!([{"key": key, "name": "x"}])).await;
    let off = app
        .instance_with(Endpoints::default(), &[("LEGACY_KEYS", "off")])
        .await;
    let before = off.dynamodb_requests.get();
    assert_eq!(off.protected(&key).await.detail(), INVALID);
    assert_eq!(off.dynamodb_requests.since(before), 0);
    assert_eq!(app.protected(&key).await.status, 200);
}

#[tokio::test]
async fn with_legacy_keys_on_a_key_refused_before_its_import_works_right_after_it() {
    let app = spawn_app().await;
    let on = app
        .instance_with(Endpoints::default(), &[("LEGACY_KEYS", "on")])
        .await;
    let key = legacy_key();
    // Looked up at once, and remembered as unknown (a negative cache entry).
    assert_eq!(on.protected(&key).await.detail(), INVALID);
    import(&app, json!([{"key": key, "name": "x"}])).await;
    // The import replaced the negative entry: no wait for its TTL.
    assert_eq!(on.protected(&key).await.status, 200);
}

#[tokio::test]
async fn a_keygate_shaped_string_with_a_bad_checksum_stays_a_rejection_with_no_io() {
    let app = spawn_app().await;
    import(&app, json!([{"key": legacy_key(), "name": "x"}])).await;
    let mut typo = app.issue("real").await.key.into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    let before = app.dynamodb_requests.get();
    assert_eq!(app.protected(&typo).await.detail(), INVALID);
    assert_eq!(app.dynamodb_requests.since(before), 0);
}

#[tokio::test]
async fn an_imported_key_is_revoked_by_its_holder_and_rotated_into_keygates_format() {
    let app = spawn_app().await;
    let (held, rotating) = (legacy_key(), legacy_key());
    import(
        &app,
        json!([{"key": held, "name": "a"},
               {"key": rotating, "name": "b", "self_rotation": true}]),
    )
    .await;
    assert_eq!(app.revoke(&held).await.status, 200);
    assert_eq!(app.protected(&held).await.detail(), REVOKED);

    let rotated = app
        .rotate(&rotating, Some(json!({"grace_seconds": 60})))
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let new_key = rotated.body["key"].as_str().unwrap();
    assert!(new_key.starts_with("kg_"), "{new_key}");
    assert_eq!(app.protected(new_key).await.status, 200);
    // The old key works through its grace period, as any rotated key.
    assert_eq!(app.protected(&rotating).await.status, 200);
}

#[tokio::test]
async fn a_thousand_keys_import_in_one_call_past_the_usual_body_limit() {
    let app = spawn_app().await;
    let keys: Vec<String> = (0..1000).map(|_| legacy_key()).collect();
    let body: Vec<Value> = keys
        .iter()
        .map(|k| json!({"key": k, "name": format!("service {k}"), "owner": "team-payments"}))
        .collect();
    assert!(json!({ "keys": body }).to_string().len() > 64 * 1024);
    let report = import(&app, Value::Array(body)).await;
    assert_eq!(report["imported"], 1000, "{report}");
    for key in keys.iter().step_by(97) {
        assert_eq!(app.protected(key).await.status, 200);
    }
}

#[tokio::test]
async fn an_imported_key_answers_the_verify_api_like_any_key() {
    let app = spawn_app().await;
    let (active, revoked) = (legacy_key(), legacy_key());
    import(
        &app,
        json!([{"key": active, "name": "billing", "scopes": ["orders:read"]},
               {"key": revoked, "name": "old", "status": "revoked"}]),
    )
    .await;
    let reply = app
        .verify_api(json!({"key": active, "scopes": ["orders:read"]}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        (reply.body["valid"].as_bool(), reply.body["code"].as_str()),
        (Some(true), Some("VALID"))
    );
    assert_eq!(reply.body["name"], "billing");
    let reply = app.verify_api(json!({ "key": revoked })).await;
    assert_eq!(reply.body["code"], "REVOKED");
    let reply = app.verify_api(json!({ "key": legacy_key() })).await;
    assert_eq!(reply.body["code"], "NOT_FOUND");
}
