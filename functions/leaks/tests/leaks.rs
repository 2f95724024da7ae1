//! The leaks function against real DynamoDB Local and Redis (a fresh table and Redis
//! namespace per test, through `keygate-tests`), with reports signed by key pairs made
//! here and their public keys served from 127.0.0.1.

mod support;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use keygate::domain::key::{ApiKey, KeyId, KeyPrefix};
use keygate::domain::record::KeyRecord;
use keygate::ops::leak::LeakAction;
use keygate_tests::{captured_logs, post, spawn_app, Issued, TestApp};
use lambda_http::http::Method;
use lambda_http::{Body, Request};
use leaks::public_keys::{Fetcher, PublicKeys, Source};
use leaks::Leaks;
use serde_json::{json, Value};
use support::{document, Answer, KeysServer, Signer};

const REVOKED: &str = "API Key is not active or has been revoked.";

struct Reply {
    status: u16,
    body: Value,
}

impl Reply {
    fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }
}

/// A test app, a signer, its keys served locally, and the function's state reading them.
struct Setup {
    app: TestApp,
    signer: Signer,
    server: KeysServer,
    leaks: Leaks,
}

async fn setup(action: LeakAction) -> Setup {
    let app = spawn_app().await;
    let signer = Signer::new("github-key-1");
    let server = KeysServer::start(document(&[&signer])).await;
    let leaks = leaks_for(&server, action, Duration::from_secs(10));
    Setup {
        app,
        signer,
        server,
        leaks,
    }
}

fn leaks_for(server: &KeysServer, action: LeakAction, min_refresh: Duration) -> Leaks {
    let fetcher = Fetcher::new(server.url.parse().unwrap()).unwrap();
    let keys = PublicKeys::new(Source::Url(fetcher)).with_min_refresh_interval(min_refresh);
    Leaks::with_keys(action, keys)
}

fn report(tokens: &[&str]) -> String {
    let matches: Vec<_> = tokens
        .iter()
        .map(|t| {
            json!({
                "token": t,
                "type": "keygate_api_key",
                "url": "https://github.com/octo/app/blob/5f2c0e1/.env",
                "source": "content",
            })
        })
        .collect();
    serde_json::to_string(&matches).unwrap()
}

fn request(body: &str, headers: &[(&str, &str)]) -> Request {
    let mut req = post("/api/v1/keys/leaks/").header("content-type", "application/json");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(Body::Text(body.to_owned())).unwrap()
}

impl Setup {
    async fn send(&self, req: Request) -> Reply {
        let app = &self.app.app;
        let leaks = &self.leaks;
        let response =
            keygate::edge::telemetry::serve("leaks", req, |req| leaks::handle(app, leaks, req))
                .await
                .unwrap();
        let status = response.status().as_u16();
        let body = match response.body() {
            Body::Text(t) => serde_json::from_str(t).expect("every answer is JSON"),
            other => panic!("unexpected body {other:?}"),
        };
        Reply { status, body }
    }

    /// `body`, signed by `signer` under its identifier.
    async fn signed_by(&self, signer: &Signer, body: &str) -> Reply {
        let signature = signer.sign(body.as_bytes());
        self.send(request(
            body,
            &[
                ("Github-Public-Key-Identifier", &signer.id),
                ("Github-Public-Key-Signature", &signature),
            ],
        ))
        .await
    }

    async fn signed(&self, body: &str) -> Reply {
        self.signed_by(&self.signer, body).await
    }

    /// Issues a key: (raw key, id).
    async fn issue(&self, name: &str) -> (String, String) {
        let Issued { id, key } = self.app.issue(name).await;
        (key, id)
    }

    async fn events(&self, key_id: &str) -> Vec<Value> {
        let reply = self
            .app
            .admin_api(Method::GET, &format!("/audit?key_id={key_id}"), None)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["events"].as_array().unwrap().clone()
    }

    async fn actions(&self, key_id: &str) -> Vec<String> {
        let mut actions: Vec<String> = self
            .events(key_id)
            .await
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect();
        actions.sort();
        actions
    }

    async fn leak_events(&self) -> Vec<Value> {
        let reply = self
            .app
            .admin_api(Method::GET, "/audit?action=leak_reported", None)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["events"].as_array().unwrap().clone()
    }

    /// Drops every cache entry of this test's namespace (only its own), so the next
    /// verification reads DynamoDB.
    async fn forget_cache(&self) {
        let mut conn = keygate_tests::redis_connection().await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.app.namespace))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }

    async fn verifies(&self, key: &str) -> bool {
        let reply = self.app.protected(key).await;
        match reply.status {
            200 => true,
            403 => false,
            other => panic!("verification answered {other}: {}", reply.body),
        }
    }
}

fn labels(reply: &Reply) -> Vec<&str> {
    reply
        .body
        .as_array()
        .unwrap_or_else(|| panic!("{}", reply.body))
        .iter()
        .map(|l| l["label"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_live_key_is_revoked_at_once_cached_or_not_and_audited_without_the_token() {
    let s = setup(LeakAction::Revoke).await;
    let (key, id) = s.issue("leaky").await;
    assert!(s.verifies(&key).await, "verified once, so now cached");

    let reply = s.signed(&report(&[&key])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!([{"token_raw": key, "token_type": "keygate_api_key", "label": "true_positive"}])
    );

    // The cached entry was replaced: the very next verification refuses the key...
    let refused = s.app.protected(&key).await;
    assert_eq!((refused.status, refused.detail()), (403, REVOKED));
    // ...and so does one from DynamoDB, and another instance.
    s.forget_cache().await;
    assert!(!s.verifies(&key).await);
    let other = s.app.same_services().await;
    assert_eq!(other.protected(&key).await.status, 403);

    // One transaction: the revoke and where the key was found, both by secret scanning.
    let events = s.events(&id).await;
    let find = |action: &str| {
        events
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} event in {events:?}"))
    };
    let (revoke, leak) = (find("revoke"), find("leak_reported"));
    assert_eq!(
        leak["leak_url"],
        "https://github.com/octo/app/blob/5f2c0e1/.env"
    );
    assert_eq!(leak["leak_source"], "content");
    let scanner = serde_json::json!({"type": "system", "reason": "secret_scanning"});
    assert_eq!(leak["actor"], scanner);
    assert_eq!(revoke["actor"], scanner);
    assert_eq!(revoke["time"], leak["time"]);
    assert!(revoke.get("leak_url").is_none(), "{revoke}");
    assert_eq!(s.actions(&id).await, ["issue", "leak_reported", "revoke"]);

    // The token is echoed to the scanner and nowhere else.
    let secret = &key[3..];
    assert!(!s.app.table_dump().await.contains(secret));
    for entry in s.app.redis_dump().await {
        assert!(
            !entry.key.contains(secret) && !String::from_utf8_lossy(&entry.value).contains(secret)
        );
    }
    assert!(!captured_logs().contains(secret));

    // Reported again (the scanner found it elsewhere): revoked now, so nothing more.
    let again = s.signed(&report(&[&key])).await;
    assert_eq!(labels(&again), ["false_positive"]);
    assert_eq!(s.actions(&id).await, ["issue", "leak_reported", "revoke"]);
}

#[tokio::test]
async fn in_report_mode_a_live_key_is_audited_and_keeps_working() {
    let s = setup(LeakAction::Report).await;
    let (key, id) = s.issue("reported").await;
    assert!(s.verifies(&key).await);

    let reply = s.signed(&report(&[&key])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(labels(&reply), ["true_positive"]);
    assert!(s.verifies(&key).await);
    s.forget_cache().await;
    assert!(s.verifies(&key).await);
    assert_eq!(s.actions(&id).await, ["issue", "leak_reported"]);
    let leak = &s.leak_events().await[0];
    assert_eq!(leak["key_id"], id.as_str());
    assert_eq!(leak["leak_source"], "content");
    assert!(!s.app.table_dump().await.contains(&key[3..]));
}

#[tokio::test]
async fn anything_but_a_live_key_is_a_false_positive_and_changes_nothing() {
    let s = setup(LeakAction::Revoke).await;
    let (live, live_id) = s.issue("live").await;
    let (revoked, revoked_id) = s.issue("revoked").await;
    assert_eq!(s.app.revoke(&revoked).await.status, 200);
    // An expired key, stored as the API cannot make one.
    let expired = ApiKey::generate(&KeyPrefix::default()).unwrap();
    let now = Utc::now();
    let record = KeyRecord {
        expires_at: Some(now - TimeDelta::hours(1)),
        ..KeyRecord::new(
            KeyId::generate().unwrap(),
            "expired".into(),
            expired.display_prefix(),
            now - TimeDelta::days(2),
        )
    };
    s.app
        .app
        .store
        .insert(&expired.hash(), &record)
        .await
        .unwrap();
    let unknown = ApiKey::generate(&KeyPrefix::default()).unwrap();
    let last = live.chars().last().unwrap();
    let typo = format!(
        "{}{}",
        &live[..live.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let admin_looking = format!("kga_{}", "0".repeat(72));

    let tokens = [
        unknown.expose(),
        "kg_nope",
        typo.as_str(),
        revoked.as_str(),
        expired.expose(),
        admin_looking.as_str(),
        "",
        "kg_nope",
    ];
    let reply = s.signed(&report(&tokens)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(labels(&reply), ["false_positive"; 8]);
    // Each answer echoes its own token and type, in order.
    for (label, token) in reply.body.as_array().unwrap().iter().zip(tokens) {
        assert_eq!(label["token_raw"], token);
        assert_eq!(label["token_type"], "keygate_api_key");
    }

    assert!(s.verifies(&live).await);
    assert!(s.leak_events().await.is_empty());
    assert_eq!(s.actions(&live_id).await, ["issue"]);
    assert_eq!(s.actions(&revoked_id).await, ["issue", "revoke"]);
}

#[tokio::test]
async fn a_token_reported_twice_is_judged_once_and_labelled_alike() {
    let s = setup(LeakAction::Revoke).await;
    let (key, id) = s.issue("twice").await;
    let reply = s.signed(&report(&[&key, "kg_nope", &key])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        labels(&reply),
        ["true_positive", "false_positive", "true_positive"]
    );
    assert_eq!(s.actions(&id).await, ["issue", "leak_reported", "revoke"]);
}

#[tokio::test]
async fn unsigned_or_badly_signed_reports_are_401_and_change_nothing() {
    let s = setup(LeakAction::Revoke).await;
    let (key, id) = s.issue("safe").await;
    let body = report(&[&key]);
    let good = s.signer.sign(body.as_bytes());
    let impostor = Signer::new(&s.signer.id);
    let forged = impostor.sign(body.as_bytes());
    let other_body = s.signer.sign(report(&["kg_nope"]).as_bytes());
    let not_der = base64_of(b"not a DER signature");
    let id_header = "Github-Public-Key-Identifier";
    let sig_header = "Github-Public-Key-Signature";
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no headers", vec![]),
        ("identifier only", vec![(id_header, &s.signer.id)]),
        ("signature only", vec![(sig_header, &good)]),
        (
            "empty identifier",
            vec![(id_header, ""), (sig_header, &good)],
        ),
        (
            "another key pair's signature",
            vec![(id_header, &s.signer.id), (sig_header, &forged)],
        ),
        (
            "a signature of another body",
            vec![(id_header, &s.signer.id), (sig_header, &other_body)],
        ),
        (
            "not base64",
            vec![(id_header, &s.signer.id), (sig_header, "!!not base64!!")],
        ),
        (
            "base64, not DER",
            vec![(id_header, &s.signer.id), (sig_header, &not_der)],
        ),
        (
            "an unknown identifier",
            vec![(id_header, "no-such-key"), (sig_header, &good)],
        ),
        (
            "the signature twice",
            vec![
                (id_header, &s.signer.id),
                (sig_header, &good),
                (sig_header, &good),
            ],
        ),
    ];
    for (case, headers) in cases {
        let reply = s.send(request(&body, &headers)).await;
        assert_eq!(reply.status, 401, "{case}: {}", reply.body);
        assert!(!reply.detail().is_empty(), "{case}");
        assert!(!reply.detail().contains(&key[3..]), "{case}");
    }
    assert!(s.verifies(&key).await);
    assert_eq!(s.actions(&id).await, ["issue"]);
    assert!(s.leak_events().await.is_empty());

    // The same report, signed, does act: the refusals above were the signature's.
    assert_eq!(labels(&s.signed(&body).await), ["true_positive"]);
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn an_unknown_key_identifier_loads_the_keys_once_more_and_no_more_often() {
    let s = setup(LeakAction::Revoke).await;
    let body = report(&["kg_nope"]);
    assert_eq!(s.signed(&body).await.status, 200);
    assert_eq!(s.server.hits(), 1, "loaded on the first report, then kept");
    assert_eq!(s.signed(&body).await.status, 200);
    assert_eq!(s.server.hits(), 1);

    let stranger = Signer::new("github-key-unknown");
    let reply = s.signed_by(&stranger, &body).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(s.server.hits(), 2, "one refresh for the unknown identifier");
    // Made-up identifiers cannot make every request a fetch.
    for _ in 0..3 {
        assert_eq!(s.signed_by(&stranger, &body).await.status, 401);
    }
    assert_eq!(s.server.hits(), 2);
    // Known keys go on working meanwhile.
    assert_eq!(s.signed(&body).await.status, 200);
    assert_eq!(s.server.hits(), 2);
}

#[tokio::test]
async fn a_key_published_after_the_first_load_is_found_by_the_refresh() {
    let s = setup(LeakAction::Revoke).await;
    let (key, _) = s.issue("rotated signer").await;
    assert_eq!(s.signed(&report(&["kg_nope"])).await.status, 200);
    // GitHub publishes a new key, then signs with it.
    let next = Signer::new("github-key-2");
    s.server.serve(document(&[&s.signer, &next]));
    let reply = s.signed_by(&next, &report(&[&key])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(labels(&reply), ["true_positive"]);
    assert_eq!(s.server.hits(), 2);
    assert!(!s.verifies(&key).await);
}

#[tokio::test]
async fn without_the_public_keys_the_answer_is_503_and_nothing_changes() {
    let s = setup(LeakAction::Revoke).await;
    let (key, id) = s.issue("kept").await;
    for answer in [
        Answer {
            status: 500,
            body: "{}".into(),
            etag: None,
        },
        Answer {
            status: 200,
            body: "<html>rate limited</html>".into(),
            etag: None,
        },
        Answer {
            status: 200,
            body: r#"{"public_keys": []}"#.into(),
            etag: None,
        },
    ] {
        s.server.answer(answer);
        let reply = s.signed(&report(&[&key])).await;
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert!(reply.detail().contains("retry"), "{}", reply.detail());
    }
    // Nothing listens on port 9.
    let fetcher = Fetcher::new("http://127.0.0.1:9/keys".parse().unwrap()).unwrap();
    let s_dead = Setup {
        leaks: Leaks::with_keys(LeakAction::Revoke, PublicKeys::new(Source::Url(fetcher))),
        ..s
    };
    let reply = s_dead.signed(&report(&[&key])).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(s_dead.verifies(&key).await);
    assert_eq!(s_dead.actions(&id).await, ["issue"]);
}

#[tokio::test]
async fn bad_reports_are_4xx_with_a_detail_even_when_signed() {
    let s = setup(LeakAction::Revoke).await;
    let (key, id) = s.issue("bystander").await;
    let many = format!(
        "[{}]",
        vec![r#"{"token":"kg_nope","type":"t"}"#; leaks::partner::MAX_MATCHES + 1].join(",")
    );
    for (body, status) in [
        ("", 400),
        ("[{\"token\":", 400),
        ("{\"token\": \"kg_nope\", \"type\": \"t\"}", 400),
        ("[\"kg_nope\"]", 400),
        ("[{\"type\": \"t\"}]", 400),
        ("[{\"token\": \"kg_nope\"}]", 400),
        (many.as_str(), 413),
    ] {
        let reply = s.signed(body).await;
        assert_eq!(reply.status, status, "{body:.60}: {}", reply.body);
        assert!(!reply.detail().is_empty(), "{body:.60}");
    }

    // A form, even signed, is not a report.
    let body = report(&[&key]);
    let signature = s.signer.sign(body.as_bytes());
    let mut req = request(
        &body,
        &[
            ("Github-Public-Key-Identifier", &s.signer.id),
            ("Github-Public-Key-Signature", &signature),
        ],
    );
    req.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    assert_eq!(s.send(req).await.status, 415);

    // Too large is refused before the signature is checked.
    let huge = " ".repeat(leaks::partner::MAX_BODY_BYTES + 1);
    let reply = s.send(request(&huge, &[])).await;
    assert_eq!(reply.status, 413, "{}", reply.body);

    let get = keygate_tests::get("/api/v1/keys/leaks/")
        .body(Body::Empty)
        .unwrap();
    let reply = s.send(get).await;
    assert_eq!(reply.status, 405, "{}", reply.body);

    assert!(s.verifies(&key).await);
    assert_eq!(s.actions(&id).await, ["issue"]);
}
