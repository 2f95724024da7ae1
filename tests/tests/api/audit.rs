//! The audit log: each change to a key is one event, written in the same transaction as
//! the change, found by either key's id, and paged newest first.

use keygate_tests::{actions, spawn_app, Issued};
use lambda_http::http::Method;
use serde_json::json;

#[tokio::test]
async fn every_change_has_exactly_one_audit_event() {
    let app = spawn_app().await;
    let Issued { id, key } = app.issue_full().await;
    app.update_key(&id, json!({"name": "renamed", "owner": "team-b"}))
        .await;
    app.update_key(&id, json!({"name": "renamed"})).await; // no change: no event
    app.revoke(&key).await;
    app.revoke(&key).await; // already revoked: no event
    let log = app.audit(&format!("?key_id={id}")).await;
    assert_eq!(actions(&log), ["revoke", "update", "issue"], "newest first");
    assert_eq!(
        log[0]["actor"],
        json!({"type": "key", "id": id}),
        "self-service revoke"
    );
    assert_eq!(log[1]["actor"], json!({"type": "bootstrap"}));
    assert_eq!(log[1]["changes"], json!(["name", "owner"]));
    assert_eq!(log[2]["key_id"], id.as_str());
    let dump = serde_json::to_string(&log).unwrap();
    assert!(!dump.contains(&key[3..]), "an event holds a raw key");
}

#[tokio::test]
async fn a_rotation_is_one_event_found_by_either_keys_id() {
    let app = spawn_app().await;
    let old = app.issue_full().await;
    let old_id = &old.id;
    let reply = app.rotate(&old.key, None).await;
    let new_id = reply.id().to_owned();
    let by_old = app.audit(&format!("?key_id={old_id}")).await;
    assert_eq!(actions(&by_old), ["rotate", "issue"]);
    assert_eq!(by_old[0]["new_key_id"], new_id.as_str());
    assert_eq!(by_old[0]["actor"], json!({"type": "key", "id": old_id}));
    let by_new = app.audit(&format!("?key_id={new_id}")).await;
    assert_eq!(actions(&by_new), ["rotate"]);
    assert_eq!(by_new[0]["id"], by_old[0]["id"]);
    let rotations = app.audit("?action=rotate").await;
    assert_eq!(rotations.len(), 1);
}

#[tokio::test]
async fn a_filter_finds_an_event_behind_more_than_a_page_of_others() {
    let app = spawn_app().await;
    let first = app.issue_full().await;
    app.revoke(&first.key).await;
    for i in 0..12 {
        app.issue(&format!("k{i}")).await;
    }
    // The revoke is behind 12 issues, more than a page of 5: the filter reads on.
    let revokes = app.audit("?action=revoke&limit=5").await;
    assert_eq!(actions(&revokes), ["revoke"]);
    assert_eq!(revokes[0]["key_id"], first.id.as_str());
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
