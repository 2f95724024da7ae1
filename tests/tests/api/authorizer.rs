//! The API Gateway authorizer, called with the real HTTP API (payload 2.0) event shape from
//! `local/events/`, against real DynamoDB Local and Redis.

use authorizer::{authorize, Caller, Request, Response};
use chrono::TimeDelta;
use keygate::domain::outcome::Source;
use keygate_tests::{
    a_line_with, captured_logs, spawn_app, unissued_key, Endpoints, Issued, TestApp,
};
use serde_json::{json, Value};

const ALLOW_EVENT: &str = include_str!("../../../local/events/authorizer-allow.json");
const MISSING_EVENT: &str = include_str!("../../../local/events/authorizer-missing.json");

/// The sample event, carrying `key` in `X-API-KEY` as API Gateway would (header names
/// lower-cased, the header also listed as the identity source).
fn event_with_key(key: &str) -> Request {
    let mut event: Value = serde_json::from_str(ALLOW_EVENT).unwrap();
    event["headers"]["x-api-key"] = json!(key);
    event["identitySource"] = json!([key]);
    serde_json::from_value(event).expect("the sample event is a valid authorizer event")
}

async fn ask(app: &TestApp, key: &str) -> Response {
    authorize(&app.app, &event_with_key(key)).await
}

/// The authorizer's log line for this key names `outcome` (other modules of the test binary
/// log the same outcomes for keys of their own).
fn assert_logged(key_id: &str, outcome: &str) {
    let logs = captured_logs();
    assert!(
        a_line_with(logs.lines(), &["authorizer", key_id, outcome]),
        "{key_id} {outcome}"
    );
}

#[tokio::test]
async fn a_valid_key_is_authorized_with_its_id_and_name_in_context() {
    let app = spawn_app().await;
    let Issued { id, key } = app.issue("orders").await;
    let response = ask(&app, &key).await;
    assert_eq!(
        response,
        Response {
            is_authorized: true,
            context: Some(Caller {
                key_id: id.clone(),
                name: "orders".into(),
                identity_id: None,
                external_id: None,
            }),
        }
    );
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"isAuthorized": true, "context": {"key_id": id, "name": "orders"}})
    );
}

#[tokio::test]
async fn the_sample_events_parse_unchanged() {
    let missing: Request = serde_json::from_str(MISSING_EVENT).unwrap();
    assert!(missing.headers.get("x-api-key").is_none());
    let allow: Request = serde_json::from_str(ALLOW_EVENT).unwrap();
    assert_eq!(allow.headers["x-api-key"], "REPLACE_WITH_KEY");
    assert_eq!(allow.route_key.as_deref(), Some("GET /example/hello"));
}

#[tokio::test]
async fn a_missing_key_is_denied_without_any_io() {
    let app = spawn_app().await;
    let before = app.dynamodb_requests.get();
    let event: Request = serde_json::from_str(MISSING_EVENT).unwrap();
    assert_eq!(authorize(&app.app, &event).await, Response::deny());
    assert_eq!(ask(&app, "   ").await, Response::deny());
    assert_eq!(app.dynamodb_requests.since(before), 0);
}

#[tokio::test]
async fn an_admin_credential_is_denied_as_a_key_without_any_io() {
    let app = spawn_app().await;
    let admin = app.create_admin("not a key", "admin").await;
    let before = app.dynamodb_requests.get();
    assert_eq!(ask(&app, &admin.key).await, Response::deny());
    assert_eq!(app.dynamodb_requests.since(before), 0);
}

#[tokio::test]
async fn malformed_keys_are_denied_without_any_io() {
    let app = spawn_app().await;
    let key = app.issue("real").await.key;
    let mut typo = key.clone().into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    let before = app.dynamodb_requests.get();
    for bad in [typo.as_str(), "kg_123", "hello", "kg_ü", "REPLACE WITH KEY"] {
        assert_eq!(ask(&app, bad).await, Response::deny(), "{bad}");
    }
    assert_eq!(app.dynamodb_requests.since(before), 0);
    // Shaped like an old system's key: denied too, and looked up only once a key has been
    // imported. Until then the instance reads whether one has been, at most once in a
    // while, and nothing per request.
    let before = app.dynamodb_requests.get();
    for _ in 0..3 {
        assert_eq!(ask(&app, "REPLACE_WITH_KEY").await, Response::deny());
    }
    assert!(app.dynamodb_requests.since(before) <= 1);
}

#[tokio::test]
async fn an_unknown_well_formed_key_is_denied() {
    let app = spawn_app().await;
    let unknown = unissued_key();
    assert_eq!(ask(&app, unknown.expose()).await, Response::deny());
    // Remembered as unknown: a repeat costs no database read.
    let before = app.dynamodb_requests.get();
    assert_eq!(ask(&app, unknown.expose()).await, Response::deny());
    assert_eq!(app.dynamodb_requests.since(before), 0);
}

#[tokio::test]
async fn a_revoked_key_is_denied() {
    let app = spawn_app().await;
    let key = app.issue("gone").await.key;
    assert_eq!(app.revoke(&key).await.status, 200);
    assert_eq!(ask(&app, &key).await, Response::deny());
}

#[tokio::test]
async fn an_expired_key_is_denied() {
    let app = spawn_app().await;
    let key = app.insert_expiring(TimeDelta::seconds(-1)).await;
    assert_eq!(ask(&app, key.expose()).await, Response::deny());
    // And again from the cache.
    assert_eq!(ask(&app, key.expose()).await, Response::deny());
}

#[tokio::test]
async fn a_key_revoked_while_cached_is_denied_by_every_instance() {
    let app = spawn_app().await;
    let other = app.same_services().await;
    let key = app.issue("hot").await.key;
    assert!(ask(&app, &key).await.is_authorized);
    assert!(ask(&other, &key).await.is_authorized);
    let v = other.verify(&key).await;
    assert_eq!(v.source, Source::Cache, "the key should be cached by now");

    assert_eq!(app.revoke(&key).await.status, 200);
    let before = other.dynamodb_requests.get();
    assert_eq!(ask(&other, &key).await, Response::deny());
    assert_eq!(ask(&app, &key).await, Response::deny());
    assert_eq!(
        other.dynamodb_requests.since(before),
        0,
        "the revocation should be seen in the cache"
    );
}

#[tokio::test]
async fn a_store_outage_denies_and_is_logged() {
    let app = spawn_app().await;
    let key = app.issue("outage").await.key;
    let cut_off = app.instance(Endpoints::unreachable()).await;
    assert_eq!(ask(&cut_off, &key).await, Response::deny());
    let logs = captured_logs();
    assert!(
        a_line_with(
            logs.lines(),
            &["authorizer", "key could not be checked; denying"]
        ),
        "{logs}"
    );
    assert!(
        a_line_with(
            logs.lines(),
            &["authorizer", "outcome=\"unavailable\"", "authorized=false"]
        ),
        "{logs}"
    );
}

#[tokio::test]
async fn each_decision_writes_one_log_line_with_key_id_outcome_and_no_key() {
    let app = spawn_app().await;
    let Issued { id, key } = app.issue("logged").await;
    ask(&app, &key).await;
    app.revoke(&key).await;
    ask(&app, &key).await;
    let logs = captured_logs();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("authorizer") && l.contains(&id) && l.contains("latency_us"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].contains("outcome=\"valid\"") && lines[0].contains("authorized=true"));
    assert!(lines[1].contains("outcome=\"revoked\"") && lines[1].contains("authorized=false"));
    assert!(lines.iter().all(|l| l.contains("GET /example/hello")));
    assert!(!logs.contains(&key[3..]), "a raw key is in the logs");
}

#[tokio::test]
async fn a_route_can_require_scopes() {
    let app = spawn_app().await;
    let key = app
        .issue_with(json!({"name": "reader", "scopes": ["orders:read"]}))
        .await
        .key;
    let event = event_with_key(&key);
    let route = event.route_key.clone().unwrap();
    let allowed =
        authorizer::RouteScopes::parse(&json!({ route.clone(): ["orders:read"] }).to_string())
            .unwrap();
    assert!(
        authorizer::authorize_with(&app.app, &allowed, &event)
            .await
            .is_authorized
    );
    let stricter = authorizer::RouteScopes::parse(
        &json!({ route: ["orders:read", "orders:write"] }).to_string(),
    )
    .unwrap();
    assert_eq!(
        authorizer::authorize_with(&app.app, &stricter, &event).await,
        Response::deny()
    );
}

#[tokio::test]
async fn a_key_over_its_rate_limit_is_denied_and_the_log_line_says_so() {
    let app = spawn_app().await;
    let Issued { id, key } = app
        .issue_with(json!({"name": "limited", "rate_limit": {"limit": 2, "window_seconds": 3600}}))
        .await;
    assert!(ask(&app, &key).await.is_authorized);
    assert!(ask(&app, &key).await.is_authorized);
    assert_eq!(ask(&app, &key).await, Response::deny());
    assert_logged(&id, "rate_limited");
}

#[tokio::test]
async fn a_key_with_its_quota_used_up_is_denied_and_the_log_line_says_so() {
    let app = spawn_app().await;
    let Issued { id, key } = app
        .issue_with(json!({"name": "quota", "quota": {"remaining": 1}}))
        .await;
    assert!(ask(&app, &key).await.is_authorized);
    assert_eq!(ask(&app, &key).await, Response::deny());
    assert_logged(&id, "quota_exhausted");
}
