//! The verify API (`POST /api/v1/keys/verify/`): every code, the key's fields, counting on
//! the guard's own counters, `cost`, and the caller's credential checked before anything
//! about the key is told.

use chrono::TimeDelta;
use keygate_tests::{post, spawn_app, unissued_key, Endpoints, Issued, TestApp};
use lambda_http::Body;
use serde_json::{json, Value};

/// Issues a key named "limited" with these fields besides.
async fn issue_with(app: &TestApp, fields: Value) -> Issued {
    let mut body = json!({ "name": "limited" });
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    app.issue_with(body).await
}

async fn rate_limited(app: &TestApp, limit: u64) -> String {
    issue_with(
        app,
        json!({"rate_limit": {"limit": limit, "window_seconds": 3600}}),
    )
    .await
    .key
}

async fn with_quota(app: &TestApp, remaining: u64) -> String {
    issue_with(app, json!({"quota": {"remaining": remaining}}))
        .await
        .key
}

/// The verify API's answer for `key` with these fields besides; it must be a 200.
async fn verified(app: &TestApp, key: &str, fields: Value) -> Value {
    let mut body = json!({ "key": key });
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    let reply = app.verify_api(body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

async fn code(app: &TestApp, key: &str, fields: Value) -> String {
    verified(app, key, fields).await["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn not_found_body() -> Value {
    json!({
        "valid": false, "code": "NOT_FOUND", "key_id": null, "name": null, "owner": null,
        "identity": null, "scopes": null, "meta": null, "expires_at": null, "limits": [],
        "quota": null,
    })
}

#[tokio::test]
async fn a_valid_key_answers_valid_with_its_fields() {
    let app = spawn_app().await;
    let issued = app.issue_full().await;
    let body = verified(&app, &issued.key, json!({})).await;
    assert_eq!(
        body,
        json!({
            "valid": true, "code": "VALID", "key_id": issued.id, "name": "orders",
            "owner": "team-a", "identity": null, "scopes": ["orders:read"],
            "meta": {"plan": "pro"}, "expires_at": null, "limits": [], "quota": null,
        })
    );
}

#[tokio::test]
async fn a_cache_hit_answers_what_the_database_answered() {
    let app = spawn_app().await;
    let expires_at = "2999-01-01T00:00:00.000Z";
    let key = issue_with(
        &app,
        json!({"owner": "o", "meta": {"a": [1, {"b": null}], "rl": [1, 1]}, "expires_at": expires_at}),
    )
    .await
    .key;
    let first = verified(&app, &key, json!({})).await;
    let before = app.dynamodb_requests.get();
    let second = verified(&app, &key, json!({})).await;
    assert_eq!(
        app.dynamodb_requests.since(before),
        0,
        "a cache hit read DynamoDB"
    );
    assert_eq!(first, second);
    assert_eq!(second["expires_at"], expires_at);
    assert_eq!(second["meta"], json!({"a": [1, {"b": null}], "rl": [1, 1]}));
    // A `meta` that looks like the entry's own limit field is only meta.
    assert_eq!(second["limits"], json!([]));
}

#[tokio::test]
async fn an_unknown_key_is_not_found() {
    let app = spawn_app().await;
    let body = verified(&app, unissued_key().expose(), json!({})).await;
    assert_eq!(body, not_found_body());
}

#[tokio::test]
async fn a_malformed_key_or_a_bad_checksum_is_not_found_without_any_io() {
    let app = spawn_app().await;
    let key = app.issue("real").await.key;
    let mut typo = key.clone().into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    for bad in [typo.as_str(), "kg_123", "hello", "", "kg_ü"] {
        let before = app.dynamodb_requests.get();
        let body = verified(&app, bad, json!({})).await;
        assert_eq!(body, not_found_body(), "{bad}");
        assert_eq!(
            app.dynamodb_requests.since(before),
            0,
            "{bad} reached DynamoDB"
        );
    }
}

#[tokio::test]
async fn an_admin_credential_presented_as_the_key_is_not_found() {
    let app = spawn_app().await;
    let admin = app.create_admin("ops", "admin").await;
    let body = verified(&app, &admin.key, json!({})).await;
    assert_eq!(body, not_found_body());
}

#[tokio::test]
async fn a_revoked_key_is_revoked_with_its_id_and_name() {
    let app = spawn_app().await;
    let issued = app.issue("gone").await;
    assert_eq!(app.revoke(&issued.key).await.status, 200);
    let body = verified(&app, &issued.key, json!({})).await;
    assert_eq!(
        (&body["valid"], &body["code"]),
        (&json!(false), &json!("REVOKED"))
    );
    assert_eq!(body["key_id"], issued.id.as_str());
    assert_eq!(body["name"], "gone");
}

#[tokio::test]
async fn an_expired_key_is_expired() {
    let app = spawn_app().await;
    let key = app.insert_expiring(TimeDelta::seconds(-5)).await;
    let body = verified(&app, key.expose(), json!({})).await;
    assert_eq!(body["code"], "EXPIRED");
    assert_eq!(body["valid"], false);
    assert_eq!(body["name"], "dated");
    assert!(body["expires_at"].is_string(), "{body}");
}

#[tokio::test]
async fn a_key_over_its_rate_limit_is_rate_limited() {
    let app = spawn_app().await;
    let key = rate_limited(&app, 2).await;
    for remaining in [1, 0] {
        let body = verified(&app, &key, json!({})).await;
        assert_eq!(body["code"], "VALID");
        let limit = &body["limits"][0];
        assert_eq!(
            (&limit["name"], &limit["limit"], &limit["remaining"]),
            (&json!("default"), &json!(2), &json!(remaining))
        );
        let reset = limit["reset"].as_u64().unwrap();
        assert!((1..=3600).contains(&reset), "{body}");
    }
    let body = verified(&app, &key, json!({})).await;
    assert_eq!(
        (&body["valid"], &body["code"]),
        (&json!(false), &json!("RATE_LIMITED"))
    );
    assert_eq!(body["limits"][0]["remaining"], 0);
}

#[tokio::test]
async fn a_key_without_quota_left_is_quota_exhausted() {
    let app = spawn_app().await;
    let key = with_quota(&app, 1).await;
    let body = verified(&app, &key, json!({})).await;
    assert_eq!(
        (&body["code"], &body["quota"]),
        (&json!("VALID"), &json!({"remaining": 0}))
    );
    let body = verified(&app, &key, json!({})).await;
    assert_eq!(body["code"], "QUOTA_EXHAUSTED");
    assert_eq!(body["quota"], json!({"remaining": 0}));
}

#[tokio::test]
async fn a_key_lacking_a_required_scope_is_missing_scope() {
    let app = spawn_app().await;
    let key = app.issue_full().await.key;
    assert_eq!(
        code(&app, &key, json!({"scopes": ["orders:read"]})).await,
        "VALID"
    );
    let body = verified(
        &app,
        &key,
        json!({"scopes": ["orders:read", "orders:write"]}),
    )
    .await;
    assert_eq!(
        (&body["valid"], &body["code"]),
        (&json!(false), &json!("MISSING_SCOPE"))
    );
    assert_eq!(body["scopes"], json!(["orders:read"]));
}

#[tokio::test]
async fn the_verify_api_and_the_guard_count_on_one_counter() {
    let app = spawn_app().await;
    let key = rate_limited(&app, 4).await;
    assert_eq!(app.protected(&key).await.status, 200);
    let body = verified(&app, &key, json!({})).await;
    assert_eq!(body["limits"][0]["remaining"], 2);
    let reply = app.protected(&key).await;
    assert_eq!(reply.header("ratelimit-remaining"), "1");
    assert_eq!(code(&app, &key, json!({})).await, "VALID");
    assert_eq!(app.protected(&key).await.status, 429);
    assert_eq!(code(&app, &key, json!({})).await, "RATE_LIMITED");
}

#[tokio::test]
async fn cost_zero_checks_without_consuming() {
    let app = spawn_app().await;
    let key = with_quota(&app, 2).await;
    let limited = rate_limited(&app, 1).await;
    for _ in 0..3 {
        let body = verified(&app, &key, json!({"cost": 0})).await;
        assert_eq!(
            (&body["code"], &body["quota"]),
            (&json!("VALID"), &json!({"remaining": 2}))
        );
        let body = verified(&app, &limited, json!({"cost": 0})).await;
        assert_eq!(body["code"], "VALID");
        assert_eq!(body["limits"][0]["remaining"], 1);
    }
    assert_eq!(app.protected(&limited).await.status, 200);
    // Nothing left: a check says so, and still takes nothing.
    assert_eq!(
        code(&app, &limited, json!({"cost": 0})).await,
        "RATE_LIMITED"
    );
    let body = verified(&app, &key, json!({"cost": 2})).await;
    assert_eq!(body["quota"], json!({"remaining": 0}));
    assert_eq!(
        code(&app, &key, json!({"cost": 0})).await,
        "QUOTA_EXHAUSTED"
    );
}

#[tokio::test]
async fn a_cost_of_n_takes_n_from_the_rate_limit_and_the_quota() {
    let app = spawn_app().await;
    let key = issue_with(
        &app,
        json!({"rate_limit": {"limit": 10, "window_seconds": 3600}, "quota": {"remaining": 20}}),
    )
    .await
    .key;
    let body = verified(&app, &key, json!({"cost": 4})).await;
    assert_eq!(body["code"], "VALID");
    assert_eq!(body["limits"][0]["remaining"], 6);
    assert_eq!(body["quota"], json!({"remaining": 16}));
    // The guard's `?cost=` is the same count.
    let reply = app.protected_with_cost(&key, "6").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("ratelimit-remaining"), "0");
    assert_eq!(code(&app, &key, json!({})).await, "RATE_LIMITED");
}

#[tokio::test]
async fn a_cost_over_what_the_rate_limit_has_left_consumes_nothing() {
    let app = spawn_app().await;
    let key = rate_limited(&app, 5).await;
    assert_eq!(code(&app, &key, json!({"cost": 3})).await, "VALID");
    let body = verified(&app, &key, json!({"cost": 3})).await;
    assert_eq!(body["code"], "RATE_LIMITED");
    assert_eq!(body["limits"][0]["remaining"], 2);
    let body = verified(&app, &key, json!({"cost": 2})).await;
    assert_eq!(body["code"], "VALID");
    assert_eq!(body["limits"][0]["remaining"], 0);
}

#[tokio::test]
async fn a_cost_over_what_the_quota_has_left_consumes_nothing() {
    let app = spawn_app().await;
    let key = issue_with(
        &app,
        json!({"rate_limit": {"limit": 100, "window_seconds": 3600}, "quota": {"remaining": 5}}),
    )
    .await
    .key;
    let body = verified(&app, &key, json!({"cost": 6})).await;
    assert_eq!(body["code"], "QUOTA_EXHAUSTED");
    assert_eq!(body["quota"], json!({"remaining": 5}));
    // Nor from the rate window.
    let body = verified(&app, &key, json!({"cost": 5})).await;
    assert_eq!(body["code"], "VALID");
    assert_eq!(body["quota"], json!({"remaining": 0}));
    assert_eq!(body["limits"][0]["remaining"], 95);
}

#[tokio::test]
async fn a_cost_outside_zero_to_a_thousand_is_400() {
    let app = spawn_app().await;
    let key = app.issue("k").await.key;
    for cost in [json!(1001), json!(-1), json!(2.5), json!("1")] {
        let reply = app.verify_api(json!({"key": key, "cost": cost})).await;
        assert_eq!(reply.status, 400, "{cost}");
        assert_eq!(
            reply.detail(),
            "`cost` must be a whole number from 0 to 1000."
        );
    }
    assert_eq!(code(&app, &key, json!({"cost": 1000})).await, "VALID");
}

#[tokio::test]
async fn test_protected_refuses_a_cost_outside_zero_to_a_thousand() {
    let app = spawn_app().await;
    let key = app.issue("k").await.key;
    for cost in ["1001", "-1", "x", "1.5", ""] {
        let reply = app.protected_with_cost(&key, cost).await;
        assert_eq!(reply.status, 400, "{cost}");
        assert_eq!(
            reply.detail(),
            "`cost` must be a whole number from 0 to 1000."
        );
    }
    assert_eq!(app.protected_with_cost(&key, "1000").await.status, 200);
    assert_eq!(app.protected_with_cost(&key, "0").await.status, 200);
}

#[tokio::test]
async fn a_bad_body_is_400_with_a_detail() {
    let app = spawn_app().await;
    for (body, detail) in [
        (json!({}), "`key` is required."),
        (json!({"key": 5}), "`key` must be a string."),
        (json!({"key": "k", "scopes": ["Not A Scope"]}), "must match"),
        (
            json!({"key": "k", "scopes": "orders:read"}),
            "list of strings",
        ),
        (
            json!({"key": "k", "scope": ["orders:read"]}),
            "did you mean `scopes`",
        ),
        (json!(["key"]), "must be a JSON object"),
    ] {
        let reply = app.verify_api(body.clone()).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(
            reply.detail().contains(detail),
            "{body}: {}",
            reply.detail()
        );
    }
    let req = post("/api/v1/keys/verify/")
        .header("authorization", app.bearer())
        .header("content-type", "application/json")
        .body(Body::Text("{not json".into()))
        .unwrap();
    let reply = app.verify_request(req).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.detail().contains("not valid JSON"),
        "{}",
        reply.detail()
    );
}

#[tokio::test]
async fn a_caller_without_a_valid_credential_is_401_as_in_the_admin_api() {
    let app = spawn_app().await;
    let key = app.issue("k").await.key;
    let req = post("/api/v1/keys/verify/")
        .header("content-type", "application/json")
        .body(Body::Text(json!({"key": key}).to_string()))
        .unwrap();
    let reply = app.verify_request(req).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("www-authenticate"), "Bearer");
    let admin_api = app
        .admin_api_as(
            "kga_nonsense",
            lambda_http::http::Method::GET,
            "/keys",
            None,
        )
        .await;
    for credential in ["kga_nonsense", key.as_str(), "admin-wrong"] {
        let reply = app.verify_api_as(credential, json!({"key": key})).await;
        assert_eq!(reply.status, 401, "{credential}");
        assert_eq!(reply.body, admin_api.body, "{credential}");
    }
    // A bad body is not answered to such a caller either.
    let reply = app
        .verify_api_as("kga_nonsense", json!({"cost": 5000}))
        .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn a_revoked_admin_credential_is_401() {
    let app = spawn_app().await;
    let key = app.issue("k").await.key;
    let admin = app.create_admin("checker", "verify").await;
    assert_eq!(code(&app, &key, json!({})).await, "VALID");
    let reply = app
        .admin_api(
            lambda_http::http::Method::POST,
            &format!("/admins/{}/revoke", admin.id),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = app.verify_api_as(&admin.key, json!({"key": key})).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn every_role_from_verify_up_may_verify() {
    let app = spawn_app().await;
    let key = app.issue("k").await.key;
    for role in ["verify", "read", "operate", "admin"] {
        let admin = app.create_admin(role, role).await;
        let reply = app.verify_api_as(&admin.key, json!({"key": key})).await;
        assert_eq!(reply.status, 200, "{role}: {}", reply.body);
        assert_eq!(reply.body["code"], "VALID");
    }
}

#[tokio::test]
async fn a_refused_caller_learns_nothing_about_the_key() {
    let app = spawn_app().await;
    let valid = app.issue("valid").await.key;
    let revoked = app.issue("revoked").await.key;
    assert_eq!(app.revoke(&revoked).await.status, 200);
    let limited = rate_limited(&app, 1).await;
    assert_eq!(app.protected(&limited).await.status, 200);
    let unknown = unissued_key().expose().to_owned();
    let mut answers = Vec::new();
    for key in [&valid, &revoked, &limited, &unknown, &"garbage".to_owned()] {
        let reply = app.verify_api_as("kga_nonsense", json!({"key": key})).await;
        answers.push((reply.status, reply.text, format!("{:?}", reply.headers)));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:#?}");
    assert_eq!(answers[0].0, 401);
}

#[tokio::test]
async fn a_cache_hit_by_an_admin_credential_reads_no_dynamodb() {
    let app = spawn_app().await;
    let key = rate_limited(&app, 100).await;
    let admin = app.create_admin("checker", "verify").await;
    assert_eq!(
        app.verify_api_as(&admin.key, json!({"key": key}))
            .await
            .status,
        200
    );
    let before = app.dynamodb_requests.get();
    for _ in 0..3 {
        let reply = app.verify_api_as(&admin.key, json!({"key": key})).await;
        assert_eq!(reply.body["code"], "VALID");
    }
    assert_eq!(app.dynamodb_requests.since(before), 0);
}

#[tokio::test]
async fn the_verify_api_is_503_when_neither_store_answers() {
    let app = spawn_app().await;
    let key = app.issue("dark").await.key;
    let nothing = app.instance(Endpoints::unreachable()).await;
    let reply = nothing.verify_api(json!({"key": key})).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.header("retry-after"), "1");
    assert!(!reply.detail().is_empty());
}

#[tokio::test]
async fn only_post_is_allowed() {
    let app = spawn_app().await;
    let req = keygate_tests::get("/api/v1/keys/verify/")
        .header("authorization", app.bearer())
        .body(Body::Empty)
        .unwrap();
    let reply = app.verify_request(req).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), "POST");
}

#[tokio::test]
async fn a_rotated_key_in_its_grace_period_spends_its_cost_on_the_replacements_counters() {
    let app = spawn_app().await;
    let Issued { id, key: old } = issue_with(
        &app,
        json!({"rate_limit": {"limit": 10, "window_seconds": 3600}}),
    )
    .await;
    let reply = app
        .admin_api(
            lambda_http::http::Method::POST,
            &format!("/keys/{id}/rotate"),
            Some(json!({"grace_seconds": 3600})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let new = reply.key().to_owned();
    let body = verified(&app, &old, json!({"cost": 3})).await;
    assert_eq!(body["limits"][0]["remaining"], 7, "{body}");
    let body = verified(&app, &new, json!({"cost": 7})).await;
    assert_eq!(
        (&body["code"], &body["limits"][0]["remaining"]),
        (&json!("VALID"), &json!(0))
    );
    assert_eq!(code(&app, &old, json!({"cost": 0})).await, "RATE_LIMITED");
}

#[tokio::test]
async fn while_redis_is_down_a_key_with_limits_is_valid_and_its_counts_unknown() {
    let app = spawn_app().await;
    let key = issue_with(
        &app,
        json!({"rate_limit": {"limit": 10, "window_seconds": 60}, "quota": {"remaining": 5}}),
    )
    .await
    .key;
    let no_redis = app.instance(Endpoints::without_redis()).await;
    let body = verified(&no_redis, &key, json!({})).await;
    assert_eq!(body["code"], "VALID");
    assert_eq!(
        body["limits"],
        json!([{"name": "default", "limit": 10, "window_seconds": 60, "remaining": null, "reset": null}])
    );
    assert_eq!(body["quota"], json!({"remaining": null}));
}
