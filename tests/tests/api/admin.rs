//! The admin function: its page, and its JSON API against real DynamoDB Local and Redis.

use chrono::{DateTime, TimeDelta, Utc};
use keygate::domain::key::{ApiKey, KeyHash, KeyId};
use keygate::domain::record::{KeyRecord, State};
use keygate_tests::detail::{NOT_FOUND, REVOKED_NOW};
use keygate_tests::{
    captured_logs, get, key_hash, new_record, post, spawn_app, Endpoints, Issued, NewRecord, Reply,
    TestApp,
};
use lambda_http::http::{Method, Request as HttpRequest};
use lambda_http::Body;
use serde_json::{json, Value};

/// The admin function's answer to a request without credentials, as a browser's first
/// load of the page.
async fn get_anonymously(app: &TestApp, path: &str) -> Reply {
    app.admin_request(get(path).body(Body::Empty).unwrap())
        .await
}

fn base_time() -> DateTime<Utc> {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

/// Puts a key straight into the table, with a chosen creation time and state, so that
/// ordering and expiry do not depend on the clock. Returns its id.
async fn seed(
    app: &TestApp,
    name: &str,
    minute: i64,
    state: State,
    expires_at: Option<DateTime<Utc>>,
) -> String {
    let NewRecord { key, record } = new_record(name, base_time() + TimeDelta::minutes(minute));
    let record = KeyRecord {
        state,
        expires_at,
        revoked_at: (state == State::Revoked).then(|| base_time() + TimeDelta::days(1)),
        ..record
    };
    app.insert(&key, &record).await;
    record.id.as_str().to_owned()
}

fn assert_security_headers(answer: &Reply) {
    let csp = answer.header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp:?}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
    assert_eq!(answer.header("referrer-policy"), "no-referrer");
    assert_eq!(answer.header("cache-control"), "no-store");
}

/// An error answer: this status, a `detail`, and the security headers like every answer.
fn assert_error(answer: &Reply, status: u16, context: &str) {
    assert_eq!(answer.status, status, "{context}: {}", answer.text);
    assert!(!answer.detail().is_empty(), "{context}");
    assert_security_headers(answer);
}

// ------------------------------------------------------------------ the page

#[tokio::test]
async fn the_page_its_script_and_its_stylesheet_are_served_with_security_headers() {
    let app = spawn_app().await;
    for (path, content_type, marker) in [
        (
            "/admin/",
            "text/html",
            "<script type=\"module\" src=\"app.js\"",
        ),
        ("/admin/app.js", "text/javascript", "textContent"),
        ("/admin/app.css", "text/css", ":focus-visible"),
    ] {
        let answer = get_anonymously(&app, path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert!(answer.header("content-type").starts_with(content_type));
        assert!(answer.text.contains(marker), "{path}");
        assert_security_headers(&answer);
    }
}

#[tokio::test]
async fn the_page_has_no_inline_script_or_style() {
    let app = spawn_app().await;
    let html = get_anonymously(&app, "/admin/").await.text;
    assert!(!html.contains("<script>"), "inline script");
    assert!(!html.contains("<style"), "inline style");
    assert!(!html.contains("style=\""), "inline style attribute");
    let handler = html.split(" on").skip(1).find(|rest| {
        let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(handler.is_none(), "inline event handler: on{handler:?}");
    let script = get_anonymously(&app, "/admin/app.js").await.text;
    assert!(
        !script.contains("innerHTML"),
        "the script must not write HTML"
    );
}

#[tokio::test]
async fn the_page_is_found_under_every_prefix() {
    let app = spawn_app().await;
    for path in ["/admin/", "/prod/admin/", "/"] {
        let answer = get_anonymously(&app, path).await;
        assert_eq!(answer.status, 200, "{path}");
    }
}

#[tokio::test]
async fn the_page_without_its_slash_is_redirected() {
    let app = spawn_app().await;
    let answer = get_anonymously(&app, "/prod/admin").await;
    assert_eq!(answer.status, 308);
    assert_eq!(answer.header("location"), "admin/");
    assert_security_headers(&answer);
}

// ------------------------------------------------------------------ credentials

#[tokio::test]
async fn every_api_route_needs_the_admin_token() {
    let app = spawn_app().await;
    let id = seed(&app, "guarded", 0, State::Active, None).await;
    let routes = [
        (Method::GET, "/admin/api/keys".to_owned()),
        (Method::POST, "/admin/api/keys".to_owned()),
        (Method::GET, format!("/admin/api/keys/{id}")),
        (Method::POST, format!("/admin/api/keys/{id}/revoke")),
        (Method::GET, "/admin/api/unknown".to_owned()),
    ];
    for (method, path) in &routes {
        for auth in [
            None,
            Some("Bearer wrong-token-0123456789"),
            Some("Basic abc"),
        ] {
            let mut req = HttpRequest::builder()
                .method(method.clone())
                .uri(format!("https://keygate.test{path}"))
                .header("content-type", "application/json");
            if let Some(auth) = auth {
                req = req.header("authorization", auth);
            }
            let answer = app
                .admin_request(req.body(Body::Text("{\"name\":\"x\"}".into())).unwrap())
                .await;
            assert_error(&answer, 401, &format!("{method} {path} {auth:?}"));
            assert_eq!(answer.header("www-authenticate"), "Bearer");
        }
    }
    // Nothing was issued or revoked on the way.
    let keys = app.list_keys("").await.body;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert_eq!(keys["keys"][0]["status"], "active");
}

// ------------------------------------------------------------------ issue and view

#[tokio::test]
async fn issuing_through_the_admin_api_answers_like_the_issue_function() {
    let app = spawn_app().await;
    let answer = app
        .admin_at(
            Method::POST,
            "/admin/api/keys",
            Some(json!({"name": "billing", "expires_at": "2999-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_security_headers(&answer);
    let body = &answer.body;
    let key = body["key"].as_str().unwrap();
    assert!(ApiKey::parse(key).is_ok());
    assert_eq!(body["name"], "billing");
    assert_eq!(body["status"], "active");
    assert_eq!(body["expires_at"], "2999-01-01T00:00:00.000Z");
    assert!(key.starts_with(body["prefix"].as_str().unwrap()));
    assert_eq!(app.protected(key).await.status, 200);
}

#[tokio::test]
async fn one_key_is_shown_by_id_without_its_key_or_hash() {
    let app = spawn_app().await;
    let Issued { id, key } = app.admin_issue("reporting").await;
    let answer = app.view_key(&id).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_security_headers(&answer);
    let body = &answer.body;
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["name"], "reporting");
    assert_eq!(body["status"], "active");
    assert_eq!(body["expires_at"], Value::Null);
    assert_eq!(body["revoked_at"], Value::Null);
    assert!(body.get("key").is_none());
    let hash = key_hash(&key).to_hex();
    for secret in [&key[3..], hash.as_str()] {
        assert!(!answer.text.contains(secret));
        assert!(!app.list_keys("").await.text.contains(secret));
    }
}

#[tokio::test]
async fn an_unknown_id_is_404() {
    let app = spawn_app().await;
    let unknown = KeyId::generate().unwrap();
    for path in [
        format!("/admin/api/keys/{unknown}"),
        format!("/admin/api/keys/{unknown}/revoke"),
    ] {
        let answer = if path.ends_with("revoke") {
            app.admin_at(Method::POST, &path, None).await
        } else {
            app.admin_at(Method::GET, &path, None).await
        };
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(answer.detail(), NOT_FOUND);
        assert_security_headers(&answer);
    }
}

#[tokio::test]
async fn a_malformed_id_is_400() {
    let app = spawn_app().await;
    for bad in [
        "nope",
        "key_XYZ",
        "KEY_0123456789abcdef01234567",
        "key_%3Cimg%3E",
    ] {
        let answer = app.view_key(bad).await;
        assert_eq!(answer.status, 400, "{bad}");
        assert!(answer.detail().contains("key id"), "{}", answer.detail());
        let answer = app.revoke_by_id(bad).await;
        assert_eq!(answer.status, 400, "{bad}");
    }
}

/// POST `/admin/api/keys` with the admin token and this body as it is.
async fn issue_raw(app: &TestApp, content_type: &str, body: &str) -> Reply {
    let req = post("/admin/api/keys")
        .header("authorization", app.bearer())
        .header("content-type", content_type)
        .body(Body::Text(body.to_owned()))
        .unwrap();
    app.admin_request(req).await
}

#[tokio::test]
async fn bad_issue_bodies_are_400_with_a_detail() {
    let app = spawn_app().await;
    for body in [
        "",
        "{",
        "[]",
        "{}",
        r#"{"name": ""}"#,
        r#"{"name": 5}"#,
        r#"{"name": "x", "expires_at": "2000-01-01T00:00:00Z"}"#,
    ] {
        let answer = issue_raw(&app, "application/json", body).await;
        assert_error(&answer, 400, body);
    }
}

#[tokio::test]
async fn an_issue_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let answer = issue_raw(&app, "text/plain", "name=x").await;
    assert_eq!(answer.status, 415);
}

// ------------------------------------------------------------------ revoke

#[tokio::test]
async fn revoking_by_id_stops_the_key_at_once_even_when_cached() {
    let app = spawn_app().await;
    let Issued { id, key } = app.admin_issue("leaked").await;
    assert_eq!(app.protected(&key).await.status, 200); // now cached
    let answer = app.revoke_by_id(&id).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body, json!({"detail": REVOKED_NOW}));
    assert_security_headers(&answer);
    assert_eq!(app.protected(&key).await.status, 403);
    assert_eq!(app.view_key(&id).await.body["status"], "revoked");
}

#[tokio::test]
async fn revoking_by_id_twice_is_harmless_and_keeps_the_first_time() {
    let app = spawn_app().await;
    let id = app.admin_issue("leaked").await.id;
    app.revoke_by_id(&id).await;
    let view = app.view_key(&id).await.body;
    let revoked_at = view["revoked_at"].as_str().unwrap().to_owned();

    let again = app.revoke_by_id(&id).await;
    assert_eq!(again.status, 200);
    let view = app.view_key(&id).await.body;
    assert_eq!(view["revoked_at"], revoked_at.as_str());
}

#[tokio::test]
async fn revoking_one_key_leaves_the_others_alone() {
    let app = spawn_app().await;
    let first = app.admin_issue("first").await.id;
    let second_key = app.admin_issue("second").await.key;
    app.revoke_by_id(&first).await;
    assert_eq!(app.protected(&second_key).await.status, 200);
}

// ------------------------------------------------------------------ the list

#[tokio::test]
async fn an_empty_table_lists_no_keys_and_no_cursor() {
    let app = spawn_app().await;
    let answer = app.list_keys("").await;
    assert_eq!(answer.body, json!({"keys": [], "next_cursor": null}));
    assert_security_headers(&answer);
}

#[tokio::test]
async fn keys_are_listed_newest_first_across_pages() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for minute in 0..7 {
        ids.push(seed(&app, &format!("k{minute}"), minute, State::Active, None).await);
    }
    ids.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".to_owned(),
        };
        let page = app.list_keys(&query).await;
        pages += 1;
        let page_ids = page.ids();
        assert!(page_ids.len() <= 3);
        seen.extend(page_ids);
        cursor = page.next_cursor();
        if cursor.is_none() {
            break;
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(seen, ids);
    assert_eq!(pages, 3);

    // The default page holds them all, newest first, with no cursor.
    let all = app.list_keys("").await;
    assert_eq!(all.ids(), ids);
    assert_eq!(all.next_cursor(), None);
    // A page that ends exactly at the last key says there is no more.
    assert_eq!(app.list_keys("limit=7").await.next_cursor(), None);
    assert!(app.list_keys("limit=6").await.next_cursor().is_some());
}

#[tokio::test]
async fn keys_issued_in_the_same_millisecond_are_all_listed_once() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(seed(&app, &format!("same{i}"), 0, State::Active, None).await);
    }
    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let page = app.list_keys(&query).await;
        seen.extend(page.ids());
        match page.next_cursor() {
            Some(c) => query = format!("limit=2&cursor={c}"),
            None => break,
        }
    }
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
}

#[tokio::test]
async fn the_status_filter_follows_revocation_and_expiry() {
    let app = spawn_app().await;
    let past = Utc::now() - TimeDelta::days(1);
    let future = Utc::now() + TimeDelta::days(365);
    let active = seed(&app, "active", 0, State::Active, None).await;
    let expiring = seed(&app, "not yet expired", 1, State::Active, Some(future)).await;
    let expired = seed(&app, "expired", 2, State::Active, Some(past)).await;
    let revoked = seed(&app, "revoked", 3, State::Revoked, None).await;
    let revoked_and_expired =
        seed(&app, "revoked and expired", 4, State::Revoked, Some(past)).await;

    assert_eq!(
        app.list_keys("status=active").await.ids(),
        [expiring.as_str(), active.as_str()]
    );
    assert_eq!(
        app.list_keys("status=expired").await.ids(),
        [expired.as_str()]
    );
    assert_eq!(
        app.list_keys("status=revoked").await.ids(),
        [revoked_and_expired.as_str(), revoked.as_str()]
    );
    let all = app.list_keys("status=").await.body;
    let statuses: Vec<&str> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["revoked", "revoked", "expired", "active", "active"]
    );
}

#[tokio::test]
async fn search_finds_names_anywhere_and_prefixes_from_the_start_ignoring_case() {
    let app = spawn_app().await;
    let billing = seed(&app, "Billing API", 0, State::Active, None).await;
    let _other = seed(&app, "reporting", 1, State::Active, None).await;
    let view = app.view_key(&billing).await.body;
    let prefix = view["prefix"].as_str().unwrap().to_owned();

    for q in [
        "billing",
        "ING+a",
        "api",
        &prefix,
        &prefix[..6],
        &prefix.to_uppercase(),
    ] {
        assert_eq!(
            app.list_keys(&format!("q={q}")).await.ids(),
            [billing.as_str()],
            "{q}"
        );
    }
    let none = app.list_keys("q=invoices").await;
    assert_eq!(none.body, json!({"keys": [], "next_cursor": null}));
    // A prefix matches from its start only.
    assert!(app
        .list_keys(&format!("q={}", &prefix[3..]))
        .await
        .ids()
        .is_empty());
}

#[tokio::test]
async fn filtered_lists_paginate_too() {
    let app = spawn_app().await;
    let mut wanted = Vec::new();
    for minute in 0..9 {
        let name = if minute % 3 == 0 { "alpha" } else { "beta" };
        let id = seed(
            &app,
            &format!("{name}-{minute}"),
            minute,
            State::Active,
            None,
        )
        .await;
        if name == "alpha" {
            wanted.push(id);
        }
    }
    wanted.reverse();
    let first = app.list_keys("q=alpha&limit=2").await;
    assert_eq!(first.ids(), wanted[..2]);
    let cursor = first.next_cursor().expect("a third match remains");
    let second = app
        .list_keys(&format!("q=alpha&limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second.ids(), wanted[2..]);
    assert_eq!(second.next_cursor(), None);
}

#[tokio::test]
async fn bad_list_queries_are_400_with_a_detail() {
    let app = spawn_app().await;
    seed(&app, "one", 0, State::Active, None).await;
    for query in [
        "cursor=nope",
        "cursor=7b7d",
        "cursor=00",
        "limit=0",
        "limit=101",
        "limit=many",
        "status=deleted",
        "sort=name",
        "limit=1&limit=2",
    ] {
        let answer = app.try_list_keys(query).await;
        assert_error(&answer, 400, query);
    }
}

// ------------------------------------------------------------------ routes and methods

#[tokio::test]
async fn unknown_routes_are_404() {
    let app = spawn_app().await;
    for path in [
        "/admin/api/users",
        "/admin/api/keys/a/b/c",
        "/admin/index.html",
        "/admin/app.jsx",
    ] {
        let answer = app.admin_at(Method::GET, path, None).await;
        assert_error(&answer, 404, path);
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_naming_the_allowed_ones() {
    let app = spawn_app().await;
    let id = KeyId::generate().unwrap();
    for (method, path, allow) in [
        (Method::DELETE, "/admin/api/keys".to_owned(), "GET, POST"),
        (Method::POST, format!("/admin/api/keys/{id}"), "GET, PATCH"),
        (Method::GET, format!("/admin/api/keys/{id}/revoke"), "POST"),
        (Method::POST, "/admin/".to_owned(), "GET"),
        (Method::PUT, "/admin/app.js".to_owned(), "GET"),
    ] {
        let answer = app.admin_at(method.clone(), &path, None).await;
        assert_eq!(answer.status, 405, "{method} {path}");
        assert_eq!(answer.header("allow"), allow);
        assert_security_headers(&answer);
    }
}

#[tokio::test]
async fn the_api_answers_wherever_the_path_is_mounted() {
    let app = spawn_app().await;
    let id = seed(&app, "mounted", 0, State::Active, None).await;
    for prefix in ["/admin", "/prod/admin", ""] {
        let answer = app
            .admin_at(Method::GET, &format!("{prefix}/api/keys/{id}"), None)
            .await;
        assert_eq!(answer.status, 200, "{prefix}");
    }
}

// ------------------------------------------------------------------ failures and secrets

#[tokio::test]
async fn a_store_outage_is_a_503_with_the_security_headers() {
    let app = spawn_app().await;
    let dead = app.instance(Endpoints::without_dynamodb()).await;
    let answer = dead.admin_api(Method::GET, "/keys", None).await;
    assert_error(&answer, 503, "the list, with DynamoDB down");
}

#[tokio::test]
async fn keys_issued_and_revoked_by_the_admin_never_reach_the_logs() {
    let app = spawn_app().await;
    let Issued { id, key } = app.admin_issue("logged?").await;
    app.view_key(&id).await;
    app.revoke_by_id(&id).await;
    let logs = captured_logs();
    assert!(logs.contains(&id), "the log line names the key by id");
    assert!(!logs.contains(&key[3..]), "a raw key is in the logs");
    assert!(
        !logs.contains(&app.admin_token),
        "the admin token is in the logs"
    );
    let hash: KeyHash = key_hash(&key);
    assert!(!logs.contains(&hash.to_hex()), "a key hash is in the logs");
}
