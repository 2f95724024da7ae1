//! Identities: the customer behind keys. Created, changed, suspended, resumed and deleted
//! through the admin API, each audited; their limits and quota are shared by all their keys
//! (exactly, across instances), a key's own limits apply as well, a refusal takes from
//! neither, and suspending one refuses every key from the very next request, cached or not.

use std::sync::Arc;

use keygate_tests::{alone, redis_connection, spawn_app, Endpoints, Issued, Reply, TestApp};
use lambda_http::http::Method;
use serde_json::{json, Value};
use tokio::task::JoinSet;

const NOT_ACTIVE: &str = "API Key is not active or has been revoked.";

async fn create(app: &TestApp, body: Value) -> Reply {
    app.admin_api(Method::POST, "/identities", Some(body)).await
}

/// A new identity with these fields besides a unique external id; its id.
async fn identity(app: &TestApp, fields: Value) -> String {
    let mut body = json!({ "external_id": format!("customer-{}", rand_suffix()) });
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    let reply = create(app, body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn rand_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

async fn key_of(app: &TestApp, identity: &str, fields: Value) -> Issued {
    let mut body = json!({ "name": "of an identity", "identity_id": identity });
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    app.issue_with(body).await
}

async fn action(app: &TestApp, id: &str, what: &str) -> Reply {
    app.admin_api(Method::POST, &format!("/identities/{id}/{what}"), None)
        .await
}

/// An instance of the same deployment with a generous Redis timeout, so a busy test machine
/// cannot turn a slow reply into an uncounted request (that path has its own tests).
async fn patient(app: &TestApp) -> TestApp {
    app.instance_with(app.endpoints(), &[("REDIS_TIMEOUT_MS", "5000")])
        .await
}

/// `n` such instances, each with its own connections.
async fn instances(app: &TestApp, n: usize) -> Vec<Arc<TestApp>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(Arc::new(patient(app).await));
    }
    out
}

/// Sends `per_key` requests with each key at once, spread over `instances`; the answers'
/// statuses.
async fn burst(instances: &[Arc<TestApp>], keys: &[String], per_key: usize) -> Vec<u16> {
    let mut set = JoinSet::new();
    for (i, key) in keys.iter().cycle().take(keys.len() * per_key).enumerate() {
        let app = instances[i % instances.len()].clone();
        let key = key.clone();
        set.spawn(async move { app.protected(&key).await.status });
    }
    set.join_all().await
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test]
async fn an_identity_is_created_with_an_id_and_shown_as_created() {
    let app = spawn_app().await;
    let reply = create(
        &app,
        json!({
            "external_id": "acme",
            "meta": {"plan": "pro"},
            "limits": [{"name": "per_second", "limit": 10, "window_seconds": 1}],
            "quota": {"remaining": 1000, "refill": {"every": "month", "amount": 1000}}
        }),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let id = reply.body["id"].as_str().unwrap();
    assert!(id.starts_with("idt_"), "{id}");
    assert_eq!(reply.body["status"], "active");
    let shown = app
        .admin_api(Method::GET, &format!("/identities/{id}"), None)
        .await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body["external_id"], "acme");
    assert_eq!(shown.body["meta"], json!({"plan": "pro"}));
    assert_eq!(shown.body["limits"][0]["name"], "per_second");
    assert_eq!(shown.body["quota"]["remaining"], 1000);
    assert_eq!(shown.body["keys"], json!([]));
    let events = app.audit(&format!("?key_id={id}")).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["action"], "identity_create");
}

#[tokio::test]
async fn an_external_id_belongs_to_one_identity_and_finds_it() {
    let app = spawn_app().await;
    let first = identity(&app, json!({"external_id": "acme"})).await;
    let again = create(&app, json!({"external_id": "acme"})).await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert!(again.detail().contains("external_id"), "{}", again.detail());
    let other = identity(&app, json!({"external_id": "globex"})).await;
    let taken = app
        .admin_api(
            Method::PATCH,
            &format!("/identities/{other}"),
            Some(json!({"external_id": "acme"})),
        )
        .await;
    assert_eq!(taken.status, 409, "{}", taken.text);
    let found = app
        .admin_api(Method::GET, "/identities?external_id=acme", None)
        .await;
    assert_eq!(found.body["identities"][0]["id"], first.as_str());
    // Renamed, the old external id is free again.
    let renamed = app
        .admin_api(
            Method::PATCH,
            &format!("/identities/{first}"),
            Some(json!({"external_id": "acme-corp"})),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(
        create(&app, json!({"external_id": "acme"})).await.status,
        201
    );
}

#[tokio::test]
async fn identities_are_listed_newest_first_and_searched_by_external_id() {
    let app = spawn_app().await;
    for name in ["alpha-one", "beta", "Alpha-two"] {
        identity(&app, json!({ "external_id": name })).await;
    }
    let all = app.admin_api(Method::GET, "/identities", None).await;
    let names: Vec<_> = all.body["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["external_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Alpha-two", "beta", "alpha-one"]);
    let page = app
        .admin_api(Method::GET, "/identities?q=ALPHA&limit=1", None)
        .await;
    assert_eq!(page.body["identities"][0]["external_id"], "Alpha-two");
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let next = app
        .admin_api(
            Method::GET,
            &format!("/identities?q=alpha&limit=1&cursor={}", urlencode(cursor)),
            None,
        )
        .await;
    assert_eq!(next.body["identities"][0]["external_id"], "alpha-one");
}

fn urlencode(text: &str) -> String {
    text.replace(':', "%3A").replace('+', "%2B")
}

#[tokio::test]
async fn bad_identity_requests_are_refused_with_a_detail() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({}), "external_id"),
        (json!({"external_id": " "}), "external_id"),
        (
            json!({"external_id": "a", "limits": [{"name": "Bad"}]}),
            "limits[0]",
        ),
        (
            json!({"external_id": "a", "quota": {"remaining": -1}}),
            "quota",
        ),
        (
            json!({"external_id": "a", "rate_limit": null}),
            "rate_limit",
        ),
    ] {
        let reply = create(&app, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(reply.detail().contains(field), "{body}: {}", reply.detail());
    }
    let bad_id = app
        .admin_api(Method::GET, "/identities/idt_nothex", None)
        .await;
    assert_eq!(bad_id.status, 400);
    let unknown = "idt_000000000000000000000000";
    for method in [Method::GET, Method::DELETE] {
        let reply = app
            .admin_api(method.clone(), &format!("/identities/{unknown}"), None)
            .await;
        assert_eq!(reply.status, 404, "{method}");
        assert_eq!(reply.detail(), "Identity not found.");
    }
    assert_eq!(action(&app, unknown, "suspend").await.status, 404);
    let key = app
        .try_issue(json!({"name": "k", "identity_id": unknown}))
        .await;
    assert_eq!(key.status, 400, "{}", key.text);
    assert!(key.detail().contains("identity_id"), "{}", key.detail());
}

#[tokio::test]
async fn the_keys_of_an_identity_share_its_quota_exactly_across_instances() {
    let alone = alone().await;
    let app = alone.spawn_app().await;
    let id = identity(&app, json!({"quota": {"remaining": 20}})).await;
    let mut keys = Vec::new();
    for _ in 0..4 {
        keys.push(key_of(&app, &id, json!({})).await.key);
    }
    let instances = instances(&app, 2).await;
    let statuses = burst(&instances, &keys, 10).await;
    assert_eq!(count(&statuses, 200), 20, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 20, "{statuses:?}");
    let refused = app.protected(&keys[0]).await;
    assert_eq!(refused.detail(), "Usage quota exhausted.");
    let shown = app
        .admin_api(Method::GET, &format!("/identities/{id}"), None)
        .await;
    assert_eq!(shown.body["quota"]["remaining"], 0);
    assert_eq!(shown.body["keys"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn the_keys_of_an_identity_share_its_named_limits_and_a_refusal_names_the_limit() {
    let alone = alone().await;
    let app = alone.spawn_app().await;
    let id = identity(
        &app,
        json!({"limits": [{"name": "per_minute", "limit": 10, "window_seconds": 60}]}),
    )
    .await;
    let keys = vec![
        key_of(&app, &id, json!({})).await.key,
        key_of(&app, &id, json!({})).await.key,
        key_of(&app, &id, json!({})).await.key,
    ];
    let instances = instances(&app, 2).await;
    let statuses = burst(&instances, &keys, 10).await;
    assert_eq!(count(&statuses, 200), 10, "{statuses:?}");
    let refused = app.protected(&keys[2]).await;
    assert_eq!(refused.status, 429);
    let retry = refused.number_header("retry-after").unwrap();
    assert_eq!(
        refused.detail(),
        format!("Rate limit exceeded (per_minute). Retry after {retry} seconds.")
    );
    assert_eq!(refused.number_header("ratelimit-limit"), Some(10));
}

#[tokio::test]
async fn a_keys_own_limit_applies_too_and_its_refusals_take_nothing_from_the_identity() {
    // Kept: it holds the test's table and its place among the running tests.
    let spawned = spawn_app().await;
    let app = patient(&spawned).await;
    let id = identity(
        &app,
        json!({"limits": [{"name": "shared", "limit": 5, "window_seconds": 60}]}),
    )
    .await;
    let tight = key_of(
        &app,
        &id,
        json!({"rate_limit": {"limit": 2, "window_seconds": 60}}),
    )
    .await
    .key;
    let other = key_of(&app, &id, json!({})).await.key;
    let mut tight_passed = 0;
    for _ in 0..5 {
        let reply = app.protected(&tight).await;
        if reply.status == 200 {
            tight_passed += 1;
        } else {
            assert!(
                reply.detail().starts_with("Rate limit exceeded. Retry"),
                "{}",
                reply.detail()
            );
        }
    }
    assert_eq!(tight_passed, 2);
    // The three refused requests took nothing from the shared limit: 5 − 2 are left.
    let mut other_passed = 0;
    for _ in 0..5 {
        other_passed += usize::from(app.protected(&other).await.status == 200);
    }
    assert_eq!(other_passed, 3);
}

#[tokio::test]
async fn a_cost_counts_against_the_identity_and_a_refused_cost_takes_nothing() {
    // Kept: it holds the test's table and its place among the running tests.
    let spawned = spawn_app().await;
    let app = patient(&spawned).await;
    let id = identity(&app, json!({"quota": {"remaining": 12}})).await;
    let key = key_of(&app, &id, json!({})).await.key;
    assert_eq!(app.protected_with_cost(&key, "5").await.status, 200);
    assert_eq!(app.protected_with_cost(&key, "5").await.status, 200);
    let refused = app.protected_with_cost(&key, "5").await;
    assert_eq!(refused.status, 429);
    assert_eq!(app.protected_with_cost(&key, "0").await.status, 200);
    assert_eq!(app.protected_with_cost(&key, "2").await.status, 200);
    assert_eq!(app.protected(&key).await.status, 429);
}

#[tokio::test]
async fn suspending_refuses_every_key_from_the_next_request_and_resuming_restores_them() {
    let app = spawn_app().await;
    let id = identity(&app, json!({})).await;
    let a = key_of(&app, &id, json!({})).await.key;
    let b = key_of(
        &app,
        &id,
        json!({"rate_limit": {"limit": 100, "window_seconds": 60}}),
    )
    .await
    .key;
    // Cached, identity included.
    assert_eq!(app.protected(&a).await.status, 200);
    assert_eq!(app.protected(&b).await.status, 200);
    let suspended = action(&app, &id, "suspend").await;
    assert_eq!(suspended.status, 200, "{}", suspended.text);
    assert_eq!(suspended.body["status"], "suspended");
    let other_instance = app.same_services().await;
    for key in [&a, &b] {
        let reply = other_instance.protected(key).await;
        assert_eq!(reply.status, 403);
        assert_eq!(reply.detail(), NOT_ACTIVE);
    }
    let resumed = action(&app, &id, "resume").await;
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    assert_eq!(resumed.body["status"], "active");
    assert_eq!(other_instance.protected(&a).await.status, 200);
    assert_eq!(other_instance.protected(&b).await.status, 200);
    let actions: Vec<_> = app
        .audit(&format!("?key_id={id}"))
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        ["identity_resume", "identity_suspend", "identity_create"]
    );
}

#[tokio::test]
async fn a_suspended_identity_is_seen_without_its_cache_entry_and_without_redis() {
    let app = spawn_app().await;
    let id = identity(&app, json!({})).await;
    let key = key_of(&app, &id, json!({})).await.key;
    assert_eq!(action(&app, &id, "suspend").await.status, 200);
    // The identity's entry gone: read again from DynamoDB.
    let mut conn = redis_connection().await;
    let entry = format!("{}:identity:{{{id}}}", app.namespace);
    let _: () = redis::cmd("DEL")
        .arg(&entry)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(app.protected(&key).await.status, 403);
    let exists: bool = redis::cmd("EXISTS")
        .arg(&entry)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(exists, "the read filled the identity's entry");
    // No Redis at all: DynamoDB alone says so.
    let without_redis = app.instance(Endpoints::without_redis()).await;
    let reply = without_redis.protected(&key).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.detail(), NOT_ACTIVE);
}

#[tokio::test]
async fn an_identity_with_active_keys_cannot_be_deleted() {
    let app = spawn_app().await;
    let id = identity(&app, json!({})).await;
    let issued = key_of(&app, &id, json!({})).await;
    let path = format!("/identities/{id}");
    let refused = app.admin_api(Method::DELETE, &path, None).await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(
        refused.detail().contains("active keys"),
        "{}",
        refused.detail()
    );
    assert_eq!(app.revoke(&issued.key).await.status, 200);
    let deleted = app.admin_api(Method::DELETE, &path, None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(app.admin_api(Method::GET, &path, None).await.status, 404);
    let events = app.audit(&format!("?key_id={id}")).await;
    assert_eq!(events[0]["action"], "identity_delete");
    // Its revoked key stays revoked.
    assert_eq!(app.protected(&issued.key).await.detail(), NOT_ACTIVE);
}

#[tokio::test]
async fn the_verify_api_and_the_authorizer_carry_the_identity() {
    let app = spawn_app().await;
    let id = identity(
        &app,
        json!({
            "external_id": "acme-verify",
            "meta": {"plan": "pro"},
            "quota": {"remaining": 100}
        }),
    )
    .await;
    let key = key_of(&app, &id, json!({})).await.key;
    let answer = app.verify_api(json!({ "key": key })).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let identity = &answer.body["identity"];
    assert_eq!(identity["id"], id.as_str());
    assert_eq!(identity["external_id"], "acme-verify");
    assert_eq!(identity["meta"], json!({"plan": "pro"}));
    assert_eq!(identity["quota"]["remaining"], 99);
    let verification = app.verify(&key).await;
    let keygate::domain::outcome::Outcome::Valid(info) = verification.outcome else {
        panic!("{:?}", verification.outcome);
    };
    let info = info.identity.unwrap();
    assert_eq!(info.id.as_str(), id);
    assert_eq!(info.external_id, "acme-verify");
}

#[tokio::test]
async fn a_key_moves_into_and_out_of_an_identity_by_update() {
    // Kept: it holds the test's table and its place among the running tests.
    let spawned = spawn_app().await;
    let app = patient(&spawned).await;
    let id = identity(&app, json!({"quota": {"remaining": 1}})).await;
    let issued = app.issue("alone").await;
    assert_eq!(app.protected(&issued.key).await.status, 200);
    let moved = app
        .update_key(&issued.id, json!({ "identity_id": id }))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["identity_id"], id.as_str());
    assert_eq!(app.protected(&issued.key).await.status, 200);
    assert_eq!(app.protected(&issued.key).await.status, 429);
    let out = app
        .update_key(&issued.id, json!({ "identity_id": null }))
        .await;
    assert_eq!(out.status, 200, "{}", out.text);
    assert!(out.body["identity_id"].is_null());
    assert_eq!(app.protected(&issued.key).await.status, 200);
}

#[tokio::test]
async fn a_rotated_key_and_its_replacement_share_the_identity_and_one_own_limit() {
    let alone = alone().await;
    let app = alone.spawn_app().await;
    let id = identity(&app, json!({"quota": {"remaining": 100}})).await;
    let old = key_of(
        &app,
        &id,
        json!({"rate_limit": {"limit": 4, "window_seconds": 60}}),
    )
    .await;
    let rotated = app
        .admin_api(
            Method::POST,
            &format!("/keys/{}/rotate", old.id),
            Some(json!({"grace_seconds": 600})),
        )
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.text);
    assert_eq!(rotated.body["identity_id"], id.as_str());
    let new = rotated.body["key"].as_str().unwrap().to_owned();
    let instances = instances(&app, 1).await;
    let statuses = burst(&instances, &[old.key.clone(), new], 5).await;
    assert_eq!(count(&statuses, 200), 4, "{statuses:?}");
}

#[tokio::test]
async fn an_identitys_quota_count_reaches_dynamodb_so_losing_redis_loses_at_most_a_minute() {
    let spawned = spawn_app().await;
    let app = patient(&spawned).await;
    let id = identity(&app, json!({"quota": {"remaining": 10}})).await;
    let key = key_of(&app, &id, json!({})).await.key;
    for _ in 0..3 {
        assert_eq!(app.protected(&key).await.status, 200);
    }
    // The key's first use in its minute wrote the count it left: 9. Later uses in the
    // same minute stay in Redis.
    let stored = app
        .app
        .store
        .get_identity(&keygate::domain::identity::IdentityId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.quota.unwrap().remaining, 9);
    let shown = app
        .admin_api(Method::GET, &format!("/identities/{id}"), None)
        .await;
    assert_eq!(
        shown.body["quota"]["remaining"], 7,
        "the view reads the live count"
    );
}

/// The hash an instance remembers a key by.
fn hash_of(key: &str) -> keygate::domain::key::KeyHash {
    keygate::domain::key::ApiKey::parse(key).unwrap().hash()
}

/// The identity's live quota, as its view shows it.
async fn quota_left(app: &TestApp, id: &str) -> Value {
    let shown = app
        .admin_api(Method::GET, &format!("/identities/{id}"), None)
        .await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    shown.body["quota"]["remaining"].clone()
}

#[tokio::test]
async fn an_instance_counts_a_key_it_knows_with_its_read_and_exactly() {
    let spawned = spawn_app().await;
    let app = Arc::new(patient(&spawned).await);
    let id = identity(&app, json!({"quota": {"remaining": 5}})).await;
    let key = key_of(&app, &id, json!({})).await.key;
    assert!(!app.app.cache.counts_ahead(&hash_of(&key)));
    assert_eq!(app.protected(&key).await.status, 200);
    // Counted once the slow way; from now on with the read.
    assert!(app.app.cache.counts_ahead(&hash_of(&key)));
    let statuses = burst(std::slice::from_ref(&app), std::slice::from_ref(&key), 8).await;
    assert_eq!(count(&statuses, 200), 4, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 4, "{statuses:?}");
    assert_eq!(quota_left(&app, &id).await, 0);
    assert!(app.app.cache.counts_ahead(&hash_of(&key)));
}

#[tokio::test]
async fn a_count_made_ahead_for_a_key_revoked_since_is_given_back() {
    let spawned = spawn_app().await;
    let app = patient(&spawned).await;
    let id = identity(
        &app,
        json!({
            "limits": [{"name": "per_hour", "limit": 3, "window_seconds": 3600}],
            "quota": {"remaining": 10}
        }),
    )
    .await;
    let revoked = key_of(&app, &id, json!({})).await;
    let other = key_of(&app, &id, json!({})).await.key;
    for _ in 0..2 {
        assert_eq!(app.protected(&revoked.key).await.status, 200);
    }
    assert!(app.app.cache.counts_ahead(&hash_of(&revoked.key)));
    // Revoked through another instance: this one still remembers the key as active, and
    // counts its next request before its read says otherwise.
    let elsewhere = patient(&spawned).await;
    assert_eq!(elsewhere.revoke(&revoked.key).await.status, 200);
    let refused = app.protected(&revoked.key).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.detail(), NOT_ACTIVE);
    assert!(!app.app.cache.counts_ahead(&hash_of(&revoked.key)));
    // What it counted was given back: the quota is as two requests left it, and the
    // shared limit has its third request for the other key.
    assert_eq!(quota_left(&app, &id).await, 8);
    assert_eq!(app.protected(&other).await.status, 200);
    let limited = app.protected(&other).await;
    assert_eq!(limited.status, 429, "{}", limited.text);
    assert!(
        limited
            .detail()
            .starts_with("Rate limit exceeded (per_hour)."),
        "{}",
        limited.detail()
    );
}

#[tokio::test]
async fn a_revoke_during_a_burst_counted_ahead_stops_the_key_and_leaves_the_quota_exact() {
    let spawned = spawn_app().await;
    let instances = instances(&spawned, 4).await;
    let quota: usize = 10_000;
    let id = identity(&instances[0], json!({"quota": {"remaining": quota}})).await;
    let (mut answered_200, mut began_after) = (0, 0);
    for round in 0..10 {
        let key = Arc::new(key_of(&instances[0], &id, json!({})).await.key);
        // Each instance counts the key once the slow way; from then on with its read, so
        // every request below is counted before its read says whether the key is active.
        for app in &instances {
            assert_eq!(app.protected(&key).await.status, 200);
            assert!(app.app.cache.counts_ahead(&hash_of(&key)));
            answered_200 += 1;
        }
        let revoked = Arc::new(tokio::sync::RwLock::new(false));
        let mut set = JoinSet::new();
        for app in &instances {
            let (app, key, revoked) = (app.clone(), key.clone(), revoked.clone());
            set.spawn(async move {
                let (mut ok, mut after, mut late) = (0, 0, 0);
                for _ in 0..15 {
                    // Whether the revoke had answered before this request began.
                    let after_revoke = *revoked.read().await;
                    let status = app.protected(&key).await.status;
                    assert!(status == 200 || status == 403, "round {round}: {status}");
                    ok += usize::from(status == 200);
                    after += usize::from(after_revoke);
                    late += usize::from(after_revoke && status == 200);
                }
                (ok, after, late)
            });
        }
        tokio::task::yield_now().await;
        assert_eq!(spawned.revoke(&key).await.status, 200);
        *revoked.write().await = true;
        for (ok, after, late) in set.join_all().await {
            assert_eq!(
                late, 0,
                "round {round}: a request began after the revoke and passed"
            );
            answered_200 += ok;
            began_after += after;
        }
    }
    // The race really happened, and every count made ahead for a refused request was
    // given back: the quota holds exactly one count per 200.
    assert!(began_after > 0, "no request began after a revoke answered");
    assert_eq!(
        quota_left(&instances[0], &id).await,
        json!(quota - answered_200)
    );
}

#[tokio::test]
async fn a_key_whose_own_limit_changed_is_counted_once_against_the_new_one() {
    let spawned = spawn_app().await;
    let app = patient(&spawned).await;
    let id = identity(&app, json!({"quota": {"remaining": 10}})).await;
    let issued = key_of(
        &app,
        &id,
        json!({"rate_limit": {"limit": 5, "window_seconds": 3600}}),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(app.protected(&issued.key).await.status, 200);
    }
    let changed = app
        .update_key(
            &issued.id,
            json!({"rate_limit": {"limit": 2, "window_seconds": 3600}}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    // Counted ahead against the old limit of 5 (which passes), given back, then refused
    // by the new limit of 2: the identity's quota is as two requests left it.
    let refused = app.protected(&issued.key).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(
        refused.detail().starts_with("Rate limit exceeded. Retry"),
        "{}",
        refused.detail()
    );
    assert_eq!(quota_left(&app, &id).await, 8);
}

#[tokio::test]
async fn a_key_moved_out_of_its_identity_stops_counting_against_it_at_once() {
    let spawned = spawn_app().await;
    let app = patient(&spawned).await;
    let id = identity(&app, json!({"quota": {"remaining": 10}})).await;
    let issued = key_of(&app, &id, json!({})).await;
    for _ in 0..2 {
        assert_eq!(app.protected(&issued.key).await.status, 200);
    }
    let elsewhere = patient(&spawned).await;
    let out = elsewhere
        .update_key(&issued.id, json!({ "identity_id": null }))
        .await;
    assert_eq!(out.status, 200, "{}", out.text);
    for _ in 0..3 {
        assert_eq!(app.protected(&issued.key).await.status, 200);
    }
    assert!(!app.app.cache.counts_ahead(&hash_of(&issued.key)));
    assert_eq!(quota_left(&app, &id).await, 8);
}
