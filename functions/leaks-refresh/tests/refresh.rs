//! leaks-refresh against real DynamoDB Local, with the public keys served from 127.0.0.1;
//! and the leaks function reading the copy it keeps (`LEAK_PUBLIC_KEYS_SOURCE=table`), as
//! it does in AWS.

#[path = "../../leaks/tests/support/mod.rs"]
mod support;

use chrono::{TimeDelta, Utc};
use keygate::ops::leak::LeakAction;
use keygate::store::Store;
use keygate_tests::{post, spawn_app, TestApp};
use lambda_http::{Body, Response};
use leaks::config::{KeysSource, LeakConfig};
use leaks::public_keys::{Fetcher, DOCUMENT};
use leaks::Leaks;
use leaks_refresh::{refresh, RefreshError, Refreshed};
use serde_json::{json, Value};
use support::{document, Answer, KeysServer, Signer};

fn store(app: &TestApp) -> &Store {
    &app.app.store
}

fn table_mode(url: &str) -> LeakConfig {
    LeakConfig {
        public_keys_url: url.parse().unwrap(),
        source: KeysSource::Table,
        action: LeakAction::Revoke,
    }
}

/// A signed report of `token` through the leaks function: (status, body).
async fn report(app: &TestApp, leaks: &Leaks, signer: &Signer, token: &str) -> (u16, Value) {
    let body = json!([{"token": token, "type": "keygate_api_key", "url": "", "source": "npm"}])
        .to_string();
    let req = post("/api/v1/keys/leaks/")
        .header("content-type", "application/json")
        .header("github-public-key-identifier", &signer.id)
        .header("github-public-key-signature", signer.sign(body.as_bytes()))
        .body(Body::Text(body))
        .unwrap();
    let response: Response<Body> =
        keygate::edge::telemetry::serve("leaks", req, |req| leaks::handle(&app.app, leaks, req))
            .await
            .unwrap();
    let status = response.status().as_u16();
    let Body::Text(text) = response.body() else {
        panic!("not JSON")
    };
    (status, serde_json::from_str(text).unwrap())
}

#[tokio::test]
async fn the_keys_are_stored_checked_again_by_etag_and_kept_when_a_fetch_goes_wrong() {
    let app = spawn_app().await;
    let signer = Signer::new("k1");
    let server = KeysServer::start(String::new()).await;
    let doc = document(&[&signer]);
    server.answer(Answer {
        status: 200,
        body: doc.clone(),
        etag: Some("\"v1\"".into()),
    });
    let fetcher = Fetcher::new(server.url.parse().unwrap()).unwrap();

    let first = Utc::now();
    let refreshed = refresh(store(&app), &fetcher, first).await.unwrap();
    assert_eq!(refreshed, Refreshed::Stored { keys: 1 });
    let stored = store(&app).document(DOCUMENT).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.url.as_str(),
            stored.body.as_str(),
            stored.etag.as_deref()
        ),
        (server.url.as_str(), doc.as_str(), Some("\"v1\""))
    );

    // Unchanged: a conditional request, answered 304, and only the check time moves.
    let later = first + TimeDelta::minutes(15);
    assert_eq!(
        refresh(store(&app), &fetcher, later).await.unwrap(),
        Refreshed::Unchanged
    );
    let checked = store(&app).document(DOCUMENT).await.unwrap().unwrap();
    assert_eq!(checked.body, doc);
    assert_eq!(checked.checked_at, keygate::domain::time::to_millis(later));
    assert_eq!(server.hits(), 2);

    // A failed fetch or a bad document leaves the last good copy.
    for (answer, fetch_error) in [
        (
            Answer {
                status: 500,
                body: "{}".into(),
                etag: None,
            },
            true,
        ),
        (
            Answer {
                status: 200,
                body: "<html>".into(),
                etag: None,
            },
            false,
        ),
        (
            Answer {
                status: 200,
                body: r#"{"public_keys": []}"#.into(),
                etag: None,
            },
            false,
        ),
    ] {
        server.answer(answer);
        let err = refresh(store(&app), &fetcher, Utc::now())
            .await
            .unwrap_err();
        assert_eq!(matches!(err, RefreshError::Fetch(_)), fetch_error, "{err}");
        assert_eq!(
            store(&app).document(DOCUMENT).await.unwrap().unwrap(),
            checked
        );
    }
}

#[tokio::test]
async fn the_leaks_function_verifies_reports_with_the_copy_in_the_table() {
    let app = spawn_app().await;
    let signer = Signer::new("k1");
    let server = KeysServer::start(document(&[&signer])).await;
    let key = app.issue("in the table").await.key;

    // Before the first refresh there is nothing to verify with: 503, nothing done.
    let leaks = Leaks::new(table_mode(&server.url), store(&app)).unwrap();
    let (status, body) = report(&app, &leaks, &signer, &key).await;
    assert_eq!(status, 503, "{body}");

    let fetcher = Fetcher::new(server.url.parse().unwrap()).unwrap();
    refresh(store(&app), &fetcher, Utc::now()).await.unwrap();
    let hits = server.hits();
    let leaks = Leaks::new(table_mode(&server.url), store(&app)).unwrap();
    let (status, body) = report(&app, &leaks, &signer, &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["label"], "true_positive");
    assert_eq!(
        server.hits(),
        hits,
        "the function read the table, not the URL"
    );
    assert_eq!(app.protected(&key).await.status, 403);

    // A copy of another URL's keys is not used.
    let elsewhere = Leaks::new(table_mode("https://keys.example.com/x"), store(&app)).unwrap();
    let (status, body) = report(&app, &elsewhere, &signer, "kg_nope").await;
    assert_eq!(status, 503, "{body}");
}
