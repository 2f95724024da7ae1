//! Hostile input: whatever a client sends, the answer is a 4xx with a JSON `detail`, never a
//! panic, a 5xx or a secret echoed back. One test per behaviour, against real DynamoDB Local
//! and Redis, through the functions' handlers as the Lambda runtime calls them.

use keygate_tests::detail::{INVALID, NOT_FOUND};
use keygate_tests::{get, post, spawn_app, Reply, TestApp};
use lambda_http::http::request::Builder;
use lambda_http::http::HeaderValue;
use lambda_http::Body;
use serde_json::json;

const BODY_LIMIT: usize = 64 * 1024;
const NAME_X: &str = r#"{"name": "x"}"#;
const JSON: Option<&str> = Some("application/json");

fn json_body(text: impl Into<String>) -> Body {
    Body::Text(text.into())
}

/// An issue of a key named "x", POSTed to `/` with the headers `req` has been given.
async fn issue_x(app: &TestApp, req: Builder) -> Reply {
    app.issue_request(req.body(json_body(NAME_X)).unwrap())
        .await
}

/// The refusal every hostile request must get: this status, a JSON body whose `detail` says
/// what went wrong, and none of `secrets` anywhere in the answer.
fn assert_refused(reply: &Reply, status: u16, secrets: &[&str]) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert!(
        !reply.detail().trim().is_empty(),
        "no detail: {}",
        reply.body
    );
    assert_eq!(reply.headers["content-type"], "application/json");
    let text = format!("{} {:?}", reply.body, reply.headers);
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!text.contains(secret), "a secret was echoed: {text:.200}");
    }
}

/// A body of exactly `len` bytes: a valid issue request padded with white space, which
/// JSON allows between tokens (an unknown member would be refused).
fn padded_issue_body(len: usize) -> String {
    let request = json!({"name": "padded"}).to_string();
    let body = format!("{}{}", request, " ".repeat(len - request.len()));
    assert_eq!(body.len(), len);
    body
}

#[tokio::test]
async fn a_body_of_exactly_64_kib_is_read() {
    let app = spawn_app().await;
    let body = padded_issue_body(BODY_LIMIT);
    let reply = app.issue_raw(JSON, json_body(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

#[tokio::test]
async fn a_body_one_byte_over_64_kib_is_413_on_issue_and_revoke() {
    let app = spawn_app().await;
    let body = padded_issue_body(BODY_LIMIT + 1);
    let reply = app.issue_raw(JSON, json_body(body.clone())).await;
    assert_refused(&reply, 413, &[&app.admin_token]);
    assert!(reply.detail().contains("64 KiB"), "{}", reply.detail());

    let reply = app.revoke_raw(JSON, json_body(body)).await;
    assert_refused(&reply, 413, &[]);
}

#[tokio::test]
async fn a_10_mb_body_is_413_and_nothing_is_stored() {
    let app = spawn_app().await;
    let body = padded_issue_body(10 * 1024 * 1024);
    let reply = app.issue_raw(JSON, Body::Binary(body.into_bytes())).await;
    assert_refused(&reply, 413, &[&app.admin_token]);
    assert_eq!(app.table_dump().await, "[]");
}

#[tokio::test]
async fn non_json_content_types_are_415_on_issue_and_revoke() {
    let app = spawn_app().await;
    let key = app.issue("content types").await.key;
    let revoke_json = json!({ "key": key }).to_string();
    for content_type in [
        "text/plain",
        "text/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonx",
        "json",
        "",
        "*/*",
    ] {
        let reply = app.issue_raw(Some(content_type), json_body(NAME_X)).await;
        assert_refused(&reply, 415, &[&app.admin_token]);

        let reply = app
            .revoke_raw(Some(content_type), json_body(revoke_json.clone()))
            .await;
        assert_refused(&reply, 415, &[&key]);
    }
    // None of those revokes went through.
    assert_eq!(app.protected(&key).await.status, 200);
}

#[tokio::test]
async fn json_content_types_with_parameters_or_a_json_suffix_are_read() {
    let app = spawn_app().await;
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ] {
        assert_eq!(
            app.issue_raw(Some(content_type), json_body(NAME_X))
                .await
                .status,
            201,
            "{content_type}"
        );
    }
}

#[tokio::test]
async fn a_non_utf8_content_type_is_415() {
    let app = spawn_app().await;
    let value = HeaderValue::from_bytes(b"application/json\xff").unwrap();
    let req = post("/")
        .header("authorization", app.bearer())
        .header("content-type", value);
    assert_refused(&issue_x(&app, req).await, 415, &[&app.admin_token]);
}

#[tokio::test]
async fn two_different_api_key_headers_are_400_and_neither_is_echoed() {
    let app = spawn_app().await;
    let valid = app.issue("dup").await.key;
    let other = app.issue("other").await.key;
    let req = get("/")
        .header("X-API-KEY", &valid)
        .header("x-api-key", &other);
    let reply = app.protected_with(req).await;
    assert_refused(&reply, 400, &[&valid, &other, &valid[3..], &other[3..]]);
    assert!(reply.detail().contains("X-API-KEY"), "{}", reply.detail());
}

#[tokio::test]
async fn an_empty_api_key_header_next_to_a_valid_one_is_400() {
    let app = spawn_app().await;
    let valid = app.issue("dup").await.key;
    let req = get("/").header("x-api-key", "").header("x-api-key", &valid);
    assert_refused(&app.protected_with(req).await, 400, &[&valid]);
}

#[tokio::test]
async fn a_duplicated_authorization_header_is_400_and_issues_nothing() {
    let app = spawn_app().await;
    let req = post("/")
        .header("authorization", app.bearer())
        .header("authorization", "Bearer wrong-token-wrong-token")
        .header("content-type", "application/json");
    assert_refused(&issue_x(&app, req).await, 400, &[&app.admin_token]);
    assert_eq!(app.table_dump().await, "[]");
}

#[tokio::test]
async fn non_utf8_bytes_in_a_body_are_400_on_issue_and_revoke() {
    let app = spawn_app().await;
    for body in [
        &b"{\"name\": \"\xff\xfe\"}"[..],
        b"\xef\xbb\xbf{\"name\": \"bom\"}",
        b"{\"name\": \"\xc3\"}",
        b"{\"name\": \"\xed\xa0\x80\"}",
        b"\x00\x01\x02\x03",
    ] {
        let reply = app.issue_raw(JSON, Body::Binary(body.to_vec())).await;
        assert_refused(&reply, 400, &[&app.admin_token]);
    }
    for body in [
        &b"{\"key\": \"kg_\xff\xfe\"}"[..],
        b"\xef\xbb\xbf{\"key\": \"kg_x\"}",
        b"{\"key\": \"\xc3\"}",
        b"{\"key\": \"\xed\xa0\x80\"}",
        b"\x00\x01\x02\x03",
    ] {
        let reply = app.revoke_raw(JSON, Body::Binary(body.to_vec())).await;
        assert_refused(&reply, 400, &[]);
    }
}

#[tokio::test]
async fn a_non_utf8_authorization_header_is_401() {
    let app = spawn_app().await;
    let value = HeaderValue::from_bytes(b"Bearer \xff\xfe\xfd").unwrap();
    let req = post("/")
        .header("authorization", value)
        .header("content-type", "application/json");
    assert_refused(&issue_x(&app, req).await, 401, &[&app.admin_token]);
}

#[tokio::test]
async fn a_non_utf8_api_key_header_is_403_invalid() {
    let app = spawn_app().await;
    let key = app.issue("bytes").await.key;
    // The real key with one byte made invalid UTF-8: it must not verify as the real key.
    let mut bytes = key.clone().into_bytes();
    bytes[10] = 0xff;
    let req = get("/").header("x-api-key", HeaderValue::from_bytes(&bytes).unwrap());
    let reply = app.protected_with(req).await;
    assert_refused(&reply, 403, &[&key, &key[12..]]);
    assert_eq!(reply.detail(), INVALID);
}

#[tokio::test]
async fn control_characters_inside_a_name_are_400() {
    let app = spawn_app().await;
    for name in [
        "a\u{0}b",
        "a\u{7}b",
        "a\u{8}b",
        "a\nb",
        "a\rb",
        "a\tb",
        "a\u{1b}[31mred",
        "a\u{7f}b",
        "a\u{85}b",
        "a\u{9b}b",
    ] {
        let reply = app.try_issue(json!({ "name": name })).await;
        assert_refused(&reply, 400, &[&app.admin_token]);
        assert!(reply.detail().contains("control characters"), "{name:?}");
    }
    assert_eq!(app.table_dump().await, "[]");
}

#[tokio::test]
async fn control_characters_at_the_ends_of_a_name_are_trimmed_away() {
    let app = spawn_app().await;
    let reply = app.try_issue(json!({"name": "\n\t  billing \r\n"})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["name"], "billing");
}

#[tokio::test]
async fn a_name_of_10000_characters_is_400_and_not_echoed() {
    let app = spawn_app().await;
    let name = "n".repeat(10_000);
    let reply = app.try_issue(json!({ "name": name })).await;
    assert_refused(&reply, 400, &[&app.admin_token, &name[..300]]);
    assert!(reply.detail().contains("200"), "{}", reply.detail());
}

#[tokio::test]
async fn a_name_of_200_emoji_is_kept_exactly() {
    let app = spawn_app().await;
    let name = "🔑".repeat(200);
    let reply = app.try_issue(json!({ "name": name })).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["name"], name.as_str());
    let key = reply.key();
    assert_eq!(app.protected(key).await.body["name"], name.as_str());
}

#[tokio::test]
async fn a_name_of_201_emoji_is_400() {
    let app = spawn_app().await;
    let reply = app.try_issue(json!({ "name": "🔑".repeat(201) })).await;
    assert_refused(&reply, 400, &[&app.admin_token]);
}

#[tokio::test]
async fn a_name_of_200_combining_marks_is_kept() {
    let app = spawn_app().await;
    let name = "\u{301}".repeat(200);
    let reply = app.try_issue(json!({ "name": name })).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["name"], name.as_str());
}

#[tokio::test]
async fn a_name_of_201_combining_marks_is_400() {
    let app = spawn_app().await;
    let reply = app
        .try_issue(json!({ "name": "\u{301}".repeat(201) }))
        .await;
    assert_refused(&reply, 400, &[&app.admin_token]);
}

#[tokio::test]
async fn a_lone_surrogate_escape_in_a_name_is_400() {
    let app = spawn_app().await;
    let reply = app
        .issue_raw(JSON, json_body(r#"{"name": "a\ud800b"}"#))
        .await;
    assert_refused(&reply, 400, &[&app.admin_token]);
}

#[tokio::test]
async fn a_1_mb_api_key_header_is_403_invalid_and_not_echoed() {
    let app = spawn_app().await;
    let huge = format!("kg_{}", "a".repeat(1024 * 1024));
    let before = app.dynamodb_requests.get();
    let req = get("/").header("x-api-key", &huge);
    let reply = app.protected_with(req).await;
    assert_refused(&reply, 403, &[&huge[..200]]);
    assert_eq!(reply.detail(), INVALID);
    // Rejected by its length alone: no lookup.
    assert_eq!(app.dynamodb_requests.since(before), 0);
}

#[tokio::test]
async fn a_1_mb_bearer_token_is_401_and_not_echoed() {
    let app = spawn_app().await;
    let huge = "t".repeat(1024 * 1024);
    let req = post("/")
        .header("authorization", format!("Bearer {huge}"))
        .header("content-type", "application/json");
    assert_refused(&issue_x(&app, req).await, 401, &[&huge[..200]]);
}

#[tokio::test]
async fn a_60_kib_key_to_revoke_is_404_and_not_echoed() {
    let app = spawn_app().await;
    let huge = format!("kg_{}", "a".repeat(60 * 1024));
    let reply = app.revoke(&huge).await;
    assert_refused(&reply, 404, &[&huge[..200]]);
    assert_eq!(reply.detail(), NOT_FOUND);
}

#[tokio::test]
async fn a_json_nesting_bomb_is_400_not_a_stack_overflow() {
    let app = spawn_app().await;
    let depth = 10_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    for body in [
        arrays.clone(),
        format!(r#"{{"name": {arrays}}}"#),
        format!(r#"{{"name": "x", "extra": {objects}}}"#),
        // Unclosed, as deep as the body limit allows.
        "[".repeat(BODY_LIMIT),
    ] {
        let reply = app.issue_raw(JSON, json_body(body.clone())).await;
        assert_refused(&reply, 400, &[&app.admin_token]);

        let reply = app.revoke_raw(JSON, json_body(body)).await;

        assert_refused(&reply, 400, &[]);
    }
    assert_eq!(app.table_dump().await, "[]");
}

#[tokio::test]
async fn numbers_bools_null_arrays_and_objects_where_strings_go_are_400() {
    let app = spawn_app().await;
    let key = app.issue("types").await.key;
    for value in [
        json!(0),
        json!(-1.5e300),
        json!(true),
        json!(false),
        json!([]),
        json!(["x"]),
        json!({}),
        json!({"name": "x"}),
    ] {
        let reply = app.try_issue(json!({ "name": value })).await;
        assert_refused(&reply, 400, &[&app.admin_token]);
        assert!(
            reply.detail().contains("`name`"),
            "{value}: {}",
            reply.detail()
        );

        let reply = app
            .try_issue(json!({"name": "x", "expires_at": value}))
            .await;
        assert_refused(&reply, 400, &[&app.admin_token]);
        assert!(reply.detail().contains("`expires_at`"), "{value}");

        let reply = app.revoke_body(json!({ "key": value })).await;
        assert_refused(&reply, 400, &[]);
        assert!(reply.detail().contains("`key`"), "{value}");
    }
    let reply = app.revoke_body(json!({ "key": null })).await;
    assert_refused(&reply, 400, &[]);
    assert_eq!(app.protected(&key).await.status, 200);
}

#[tokio::test]
async fn top_level_values_other_than_an_object_are_400() {
    let app = spawn_app().await;
    for body in ["null", "true", "0", "\"kg_x\"", "[]", "[{\"name\": \"x\"}]"] {
        let reply = app.issue_raw(JSON, json_body(body)).await;
        assert_refused(&reply, 400, &[&app.admin_token]);
        let reply = app.revoke_raw(JSON, json_body(body)).await;
        assert_refused(&reply, 400, &[]);
    }
}

#[tokio::test]
async fn nul_bytes_in_bodies_are_400() {
    let app = spawn_app().await;
    for body in [
        &b"{\"name\": \"a\x00b\"}"[..],
        b"{\"name\": \"a\\u0000b\"}",
        b"{\"name\": \"x\"}\x00",
        b"\x00{\"name\": \"x\"}",
    ] {
        let reply = app.issue_raw(JSON, Body::Binary(body.to_vec())).await;
        assert_refused(&reply, 400, &[&app.admin_token]);
    }
    assert_eq!(app.table_dump().await, "[]");
}

#[tokio::test]
async fn a_nul_byte_inside_a_key_to_revoke_is_404() {
    let app = spawn_app().await;
    let key = app.issue("nul").await.key;
    let mangled = format!("{}\u{0}{}", &key[..20], &key[21..]);
    let reply = app.revoke(&mangled).await;
    assert_refused(&reply, 404, &[&key, &key[21..]]);
    assert_eq!(app.protected(&key).await.status, 200);
}

#[tokio::test]
async fn a_valid_key_wrapped_in_unicode_whitespace_or_a_bom_is_not_that_key() {
    let app = spawn_app().await;
    let key = app.issue("lookalike").await.key;
    for variant in [
        format!("\u{feff}{key}"),
        format!("{key}\u{200b}"),
        key.to_uppercase(),
        format!("{}\u{301}", &key),
    ] {
        let reply = app.revoke(&variant).await;
        assert_refused(&reply, 404, &[&key, &key[3..]]);
    }
    assert_eq!(app.protected(&key).await.status, 200);
}

#[tokio::test]
async fn hostile_admin_list_queries_are_400() {
    let app = spawn_app().await;
    for query in [
        format!("q={}", "q".repeat(10_000)),
        "q=a%00b".to_owned(),
        // As long as a URI can be (64 KiB).
        format!("cursor={}", "ab".repeat(30_000)),
        "cursor=%00".to_owned(),
        "limit=99999999999999999999999999".to_owned(),
        "limit=1e2".to_owned(),
        "status=%FF".to_owned(),
        format!("{}=1", "x".repeat(10_000)),
        "q=a&q=b".to_owned(),
    ] {
        let reply = app.try_list_keys(&query).await;
        assert_refused(&reply, 400, &[&app.admin_token, &"q".repeat(300)]);
    }
}

#[tokio::test]
async fn hostile_admin_key_ids_are_400() {
    let app = spawn_app().await;
    let key = app.issue("admin ids").await.key;
    for id in [
        "i".repeat(10_000),
        "key_%00".to_owned(),
        "key_%FF%FE".to_owned(),
        format!("key_{}", "A".repeat(24)),
        key.clone(),
    ] {
        let reply = app.view_key(&id).await;
        assert_refused(&reply, 400, &[&app.admin_token, &key]);

        assert_refused(&app.revoke_by_id(&id).await, 400, &[&key]);
    }
    assert_eq!(app.protected(&key).await.status, 200);
}

#[tokio::test]
async fn hostile_admin_issue_bodies_are_4xx() {
    let app = spawn_app().await;
    let depth = 10_000;
    for (content_type, body, status) in [
        ("application/json", padded_issue_body(10 * 1024 * 1024), 413),
        ("application/json", padded_issue_body(BODY_LIMIT + 1), 413),
        ("text/plain", r#"{"name": "x"}"#.to_owned(), 415),
        (
            "application/json",
            format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
            400,
        ),
        (
            "application/json",
            json!({"name": "n".repeat(10_000)}).to_string(),
            400,
        ),
        (
            "application/json",
            json!({"name": "a\u{0}b"}).to_string(),
            400,
        ),
        ("application/json", json!({"name": 7}).to_string(), 400),
    ] {
        let req = post("/admin/api/keys")
            .header("authorization", app.bearer())
            .header("content-type", content_type)
            .body(json_body(body))
            .unwrap();
        assert_refused(&app.admin_request(req).await, status, &[&app.admin_token]);
    }
    let req = post("/admin/api/keys")
        .header("authorization", app.bearer())
        .header("content-type", "application/json")
        .body(Body::Binary(b"{\"name\": \"\xff\"}".to_vec()))
        .unwrap();
    assert_refused(&app.admin_request(req).await, 400, &[&app.admin_token]);
    assert_eq!(app.table_dump().await, "[]");
}

#[tokio::test]
async fn a_1_mb_admin_token_is_401_and_not_echoed() {
    let app = spawn_app().await;
    let huge = "t".repeat(1024 * 1024);
    let req = get("/admin/api/keys")
        .header("authorization", format!("Bearer {huge}"))
        .body(Body::Empty)
        .unwrap();
    assert_refused(&app.admin_request(req).await, 401, &[&huge[..200]]);
}
