//! The trust holes found in review, closed: a key rotates itself only when allowed, never in
//! a chain, and dies with the key it came from; a time or a field that would break or
//! weaken a key is refused; a dropped Redis connection is not an outage; changes racing on
//! one key end in one consistent record, cache entry and audit trail.

use std::time::Instant;

use keygate::domain::outcome::Source;
use keygate::domain::record::State;
use keygate_tests::detail::REVOKED;
use keygate_tests::services::RedisServer;
use keygate_tests::{
    actions, alone, key_hash, redis_connection, spawn_app, Endpoints, Issued, TestApp,
    DEAD_ENDPOINT,
};
use lambda_http::http::Method;
use serde_json::{json, Value};

const NOT_ALLOWED: &str = "This key may not rotate itself; ask an administrator.";

async fn rotatable(app: &TestApp, name: &str) -> Issued {
    app.issue_with(json!({"name": name, "self_rotation": true}))
        .await
}

async fn admin_rotate(app: &TestApp, id: &str, grace: u64) -> keygate_tests::Reply {
    app.admin_api(
        Method::POST,
        &format!("/keys/{id}/rotate"),
        Some(json!({ "grace_seconds": grace })),
    )
    .await
}

// ------------------------------------------------------------- self-service rotation

#[tokio::test]
async fn a_key_may_not_rotate_itself_unless_an_administrator_allowed_it() {
    let app = spawn_app().await;
    let key = app.issue("plain").await.key;
    let reply = app.rotate(&key, Some(json!({"grace_seconds": 0}))).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.detail(), NOT_ALLOWED);
    assert_eq!(app.protected(&key).await.status, 200, "nothing happened");
}

#[tokio::test]
async fn self_rotation_is_set_by_patch_and_inherited_by_the_successor() {
    let app = spawn_app().await;
    let Issued { id, key } = app.issue("k").await;
    assert_eq!(app.view_key(&id).await.body["self_rotation"], false);
    let patched = app.update_key(&id, json!({"self_rotation": true})).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["self_rotation"], true);
    let rotated = app.rotate(&key, Some(json!({"grace_seconds": 0}))).await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    assert_eq!(rotated.body["self_rotation"], true);
}

#[tokio::test]
async fn self_rotation_passes_the_guard_and_is_refused_over_the_rate_limit() {
    let app = spawn_app().await;
    let key = app
        .issue_with(json!({"name": "r", "self_rotation": true,
            "rate_limit": {"limit": 1, "window_seconds": 3600}}))
        .await
        .key;
    assert_eq!(app.protected(&key).await.status, 200);
    let reply = app.rotate(&key, None).await;
    assert_eq!(reply.status, 429, "{}", reply.body);
}

#[tokio::test]
async fn revoking_a_leaked_key_revokes_the_successor_it_made_itself() {
    let app = spawn_app().await;
    let leaked = rotatable(&app, "leaked").await;
    // The thief rotates at once: the leaked key is revoked, the thief holds its successor.
    let thief = app
        .rotate(&leaked.key, Some(json!({"grace_seconds": 0})))
        .await;
    assert_eq!(thief.status, 201, "{}", thief.body);
    let stolen = thief.key().to_owned();
    assert_eq!(app.protected(&stolen).await.status, 200, "cached now");
    assert_eq!(app.revoke(&leaked.key).await.status, 200);
    assert_eq!(app.protected(&stolen).await.detail(), REVOKED);
    let events = app.audit(&format!("?key_id={}", thief.id())).await;
    assert_eq!(
        actions(&events).iter().filter(|a| **a == "revoke").count(),
        1
    );
}

#[tokio::test]
async fn a_chain_of_self_rotations_is_revoked_with_its_first_key() {
    let app = spawn_app().await;
    let first = rotatable(&app, "chain").await;
    let second = app
        .rotate(&first.key, Some(json!({"grace_seconds": 0})))
        .await;
    let second_key = second.key().to_owned();
    let third = app
        .rotate(&second_key, Some(json!({"grace_seconds": 0})))
        .await;
    assert_eq!(third.status, 201, "{}", third.body);
    let third_key = third.key().to_owned();
    assert_eq!(app.protected(&third_key).await.status, 200);
    assert_eq!(app.revoke(&first.key).await.status, 200);
    for key in [&second_key, &third_key] {
        assert_eq!(app.protected(key).await.detail(), REVOKED);
        assert_eq!(app.stored(&key_hash(key)).await.state, State::Revoked);
    }
}

#[tokio::test]
async fn a_successor_made_by_an_administrator_survives_its_predecessors_revoke() {
    let app = spawn_app().await;
    let old = rotatable(&app, "old").await;
    let rotated = admin_rotate(&app, &old.id, 60).await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let new_key = rotated.key().to_owned();
    assert_eq!(app.revoke(&old.key).await.status, 200);
    assert_eq!(app.protected(&old.key).await.detail(), REVOKED);
    assert_eq!(app.protected(&new_key).await.status, 200);
}

#[tokio::test]
async fn a_key_cannot_rotate_itself_while_its_predecessor_is_in_its_grace_period() {
    let app = spawn_app().await;
    let first = rotatable(&app, "first").await;
    let second = app
        .rotate(&first.key, Some(json!({"grace_seconds": 3600})))
        .await;
    assert_eq!(second.status, 201, "{}", second.body);
    let second_id = second.id().to_owned();
    let chained = app.rotate(second.key(), None).await;
    assert_eq!(chained.status, 409, "{}", chained.body);
    assert!(
        chained.detail().contains("grace period"),
        "{}",
        chained.detail()
    );
    assert!(
        chained.detail().contains("administrator"),
        "{}",
        chained.detail()
    );
    assert_eq!(admin_rotate(&app, &second_id, 60).await.status, 201);
}

// ------------------------------------------------------------------- bounded input

#[tokio::test]
async fn a_time_past_the_year_9999_in_utc_is_400_naming_the_field() {
    let app = spawn_app().await;
    let reply = app
        .try_issue(json!({"name": "far", "expires_at": "9999-12-31T23:00:00-05:00"}))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.detail().contains("`expires_at`"),
        "{}",
        reply.detail()
    );
    let Issued { id, key } = app.issue("near").await;
    let update = app
        .update_key(&id, json!({"expires_at": "0001-01-01T00:00:00+01:00"}))
        .await;
    assert_eq!(update.status, 400, "{}", update.body);
    assert_eq!(app.protected(&key).await.status, 200, "the key still reads");
}

#[tokio::test]
async fn a_member_a_body_does_not_have_is_400_on_every_route_naming_it() {
    let app = spawn_app().await;
    let Issued { id, key } = rotatable(&app, "typo").await;
    let detail = |reply: keygate_tests::Reply| {
        assert_eq!(reply.status, 400, "{}", reply.body);
        reply.detail().to_owned()
    };
    let issue = detail(app.try_issue(json!({"name": "x", "scope": ["a"]})).await);
    assert_eq!(
        issue,
        "`scope` is not a field of this request; did you mean `scopes`?"
    );
    let admin_issue = app
        .admin_api(
            Method::POST,
            "/keys",
            Some(json!({"name": "x", "expires": "2030-01-01T00:00:00Z"})),
        )
        .await;
    assert!(detail(admin_issue).contains("did you mean `expires_at`?"));
    let update = app.update_key(&id, json!({"nmae": "y"})).await;
    assert!(detail(update).contains("did you mean `name`?"));
    let rotate = app.rotate(&key, Some(json!({"grace": 5}))).await;
    assert!(detail(rotate).contains("`grace_seconds`"));
    let admin_rotate = app
        .admin_api(
            Method::POST,
            &format!("/keys/{id}/rotate"),
            Some(json!({"grace": 5})),
        )
        .await;
    assert!(detail(admin_rotate).contains("`grace_seconds`"));
    let revoke = app.revoke_body(json!({"key": key, "reason": "x"})).await;
    assert!(detail(revoke).contains("`reason`"));
    assert_eq!(app.protected(&key).await.status, 200, "nothing changed");
}

// ------------------------------------------------------------- Redis connections

#[tokio::test]
async fn after_redis_drops_every_connection_the_next_request_of_every_instance_is_a_hit() {
    let alone = alone().await;
    let redis = RedisServer::start();
    let app = alone.spawn_app_on(Endpoints::with_redis(redis.url())).await;
    let key = app.issue("k").await.key;
    assert_eq!(app.protected(&key).await.status, 200, "cached now");
    // Instances that only the cache can answer: their DynamoDB is unreachable.
    let cache_only = Endpoints {
        dynamodb: DEAD_ENDPOINT.to_owned(),
        redis: redis.url(),
    };
    let mut instances = Vec::new();
    for _ in 0..4 {
        let instance = app.instance(cache_only.clone()).await;
        assert_eq!(instance.verify(&key).await.source, Source::Cache);
        instances.push(instance);
    }
    // What a failover does to every instance's connection, the data kept.
    let mut admin = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(killed >= 4, "{killed} connections dropped");
    for instance in &instances {
        let v = instance.verify(&key).await;
        assert_eq!(v.source, Source::Cache, "{:?}", v.outcome);
        assert!(v.outcome.is_valid(), "{:?}", v.outcome);
    }
}

#[tokio::test]
async fn after_redis_restarts_the_next_request_of_every_instance_goes_through_the_cache() {
    let alone = alone().await;
    let mut redis = RedisServer::start();
    let app = alone.spawn_app_on(Endpoints::with_redis(redis.url())).await;
    let key = app.issue("k").await.key;
    let mut instances = Vec::new();
    for _ in 0..4 {
        let instance = app.same_services().await;
        assert_eq!(instance.protected(&key).await.status, 200);
        instances.push(instance);
    }
    redis.stop();
    redis.restart();
    for instance in &instances {
        // Redis came back empty: the first is a miss, read from DynamoDB and filled, the
        // rest hits; none skips the cache as if it were down.
        let v = instance.verify(&key).await;
        assert!(
            [Source::Cache, Source::Database].contains(&v.source),
            "{:?} {:?}",
            v.source,
            v.outcome
        );
    }
}

// ----------------------------------------------------------------- racing changes

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_update_and_rotate_racing_on_one_key_end_consistent() {
    let app = spawn_app().await;
    let mut overlapped = 0;
    for round in 0..15 {
        let Issued { id, key } = rotatable(&app, &format!("race {round}")).await;
        let name = json!({"name": format!("renamed {round}")});
        let ((revoked, a), (updated, b), (rotated, c)) = tokio::join!(
            timed(app.revoke(&key)),
            timed(app.update_key(&id, name)),
            timed(admin_rotate(&app, &id, 60)),
        );
        // The race really happened: all three were in flight at one moment.
        if [a.0, b.0, c.0].iter().max() < [a.1, b.1, c.1].iter().min() {
            overlapped += 1;
        }
        assert_eq!(revoked.status, 200, "{}", revoked.body);
        assert!([200, 409].contains(&updated.status), "{}", updated.body);
        assert!(
            [201, 403, 409].contains(&rotated.status),
            "{}",
            rotated.body
        );
        let hash = key_hash(&key);
        let stored = app.stored(&hash).await;
        assert_eq!(stored.state, State::Revoked, "round {round}");
        // The cache holds exactly the stored version.
        let mut conn = redis_connection().await;
        let entry: Vec<u8> = redis::cmd("GET")
            .arg(app.app.cache.entry_key(&hash))
            .query_async(&mut conn)
            .await
            .unwrap();
        let entry: Value = serde_json::from_slice(&entry).unwrap();
        assert_eq!(entry["v"], stored.version, "round {round}");
        assert_eq!(entry["st"], "r", "round {round}");
        // One event per change that answered it was made, and one version each.
        let events = app.audit(&format!("?key_id={id}")).await;
        let made = |action: &str| actions(&events).iter().filter(|a| **a == action).count();
        assert_eq!(made("revoke"), 1, "round {round}");
        assert_eq!(
            made("update"),
            usize::from(updated.status == 200),
            "round {round}"
        );
        assert_eq!(
            made("rotate"),
            usize::from(rotated.status == 201),
            "round {round}"
        );
        assert_eq!(
            stored.version as usize,
            made("revoke") + made("update") + made("rotate"),
            "round {round}"
        );
        assert_eq!(app.protected(&key).await.detail(), REVOKED);
    }
    assert!(
        overlapped > 0,
        "no round had the three changes in flight at once"
    );
}

/// The answer, and when the request started and ended.
async fn timed<T>(request: impl std::future::Future<Output = T>) -> (T, (Instant, Instant)) {
    let started = Instant::now();
    let answer = request.await;
    (answer, (started, Instant::now()))
}
