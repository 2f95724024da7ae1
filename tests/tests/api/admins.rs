//! Admin credentials and roles: each person and automation signs in with its own
//! credential, each route asks for a role, and the audit log says who acted.

use keygate_tests::detail::INVALID;
use keygate_tests::{spawn_app, Endpoints, Issued, TestApp};
use lambda_http::http::Method;
use serde_json::{json, Value};

const ROLES: [&str; 4] = ["verify", "read", "operate", "admin"];

/// One credential of each role, in the order of [`ROLES`].
async fn one_of_each_role(app: &TestApp) -> Vec<Issued> {
    let mut credentials = Vec::new();
    for role in ROLES {
        credentials.push(app.create_admin(&format!("{role} person"), role).await);
    }
    credentials
}

/// An instance of the same deployment without the bootstrap `ADMIN_TOKEN`.
async fn without_bootstrap(app: &TestApp) -> TestApp {
    app.instance_with(Endpoints::default(), &[("ADMIN_TOKEN", "")])
        .await
}

#[tokio::test]
async fn each_role_can_do_exactly_what_its_row_says() {
    let app = spawn_app().await;
    let credentials = one_of_each_role(&app).await;
    let key = app.issue("target").await;
    // (method, path after /admin/api, body, the least role that may call it)
    let routes: Vec<(Method, String, Option<Value>, &str)> = vec![
        (Method::GET, "/me".into(), None, "verify"),
        (Method::GET, "/keys".into(), None, "read"),
        (Method::GET, format!("/keys/{}", key.id), None, "read"),
        (Method::GET, "/audit".into(), None, "read"),
        (
            Method::POST,
            "/keys".into(),
            Some(json!({"name": "n"})),
            "operate",
        ),
        (
            Method::PATCH,
            format!("/keys/{}", key.id),
            Some(json!({"name": "renamed"})),
            "operate",
        ),
        (Method::GET, "/admins".into(), None, "admin"),
        (
            Method::POST,
            "/admins".into(),
            Some(json!({"name": "new", "role": "read"})),
            "admin",
        ),
    ];
    for (role_index, credential) in credentials.iter().enumerate() {
        for (method, path, body, needed) in &routes {
            let needed_index = ROLES.iter().position(|r| r == needed).unwrap();
            let reply = app
                .admin_api_as(&credential.key, method.clone(), path, body.clone())
                .await;
            let who = ROLES[role_index];
            if role_index >= needed_index {
                assert!(
                    reply.status < 400,
                    "{who} on {method} {path}: {} {}",
                    reply.status,
                    reply.body
                );
            } else {
                assert_eq!(reply.status, 403, "{who} on {method} {path}");
                assert_eq!(
                    reply.detail(),
                    format!("This admin credential lacks the role: {needed}.")
                );
            }
        }
    }
    // POST issue needs `operate`.
    for (role_index, credential) in credentials.iter().enumerate() {
        let reply = app.issue_as(&credential.key, json!({"name": "k"})).await;
        let expected = if role_index >= 2 { 201 } else { 403 };
        assert_eq!(
            reply.status, expected,
            "{} on POST issue",
            ROLES[role_index]
        );
    }
}

#[tokio::test]
async fn me_says_who_is_signed_in_and_with_which_role() {
    let app = spawn_app().await;
    let alice = app.create_admin("alice", "operate").await;
    let me = app.admin_api_as(&alice.key, Method::GET, "/me", None).await;
    assert_eq!(
        me.body,
        json!({"actor": {"type": "admin", "id": alice.id, "name": "alice"}, "role": "operate"})
    );
    let me = app.admin_api(Method::GET, "/me", None).await;
    assert_eq!(
        me.body,
        json!({"actor": {"type": "bootstrap"}, "role": "admin"})
    );
}

#[tokio::test]
async fn a_revoked_admin_credential_is_refused_on_its_very_next_request_even_when_cached() {
    let app = spawn_app().await;
    let other = app.same_services().await;
    let bob = app.create_admin("bob", "admin").await;
    for instance in [&app, &other] {
        let reply = instance
            .admin_api_as(&bob.key, Method::GET, "/keys", None)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let revoked = app
        .admin_api(Method::POST, &format!("/admins/{}/revoke", bob.id), None)
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.detail(), "Admin credential revoked.");
    for instance in [&app, &other] {
        let reply = instance
            .admin_api_as(&bob.key, Method::GET, "/keys", None)
            .await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.detail(), "Invalid admin credential.");
    }
    // Idempotent, and an unknown id is 404.
    let again = app
        .admin_api(Method::POST, &format!("/admins/{}/revoke", bob.id), None)
        .await;
    assert_eq!(again.status, 200);
    let unknown = app
        .admin_api(
            Method::POST,
            "/admins/adm_000000000000000000000000/revoke",
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn unknown_malformed_and_expired_credentials_are_401_alike() {
    let app = spawn_app().await;
    let bob = app.create_admin("bob", "admin").await;
    let mut forged = bob.key.clone().into_bytes();
    forged[10] = if forged[10] == b'a' { b'b' } else { b'a' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [forged.as_str(), "kga_123", "not a credential"] {
        let reply = app.admin_api_as(bad, Method::GET, "/keys", None).await;
        assert_eq!(reply.status, 401, "{bad}");
        assert_eq!(reply.detail(), "Invalid admin credential.");
    }
    let reply = app
        .admin_api(
            Method::POST,
            "/admins",
            Some(json!({"name": "soon", "role": "admin", "expires_at": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(reply.status, 400, "an expiry in the past: {}", reply.body);
}

#[tokio::test]
async fn rotating_an_admin_credential_stops_the_old_secret_at_once() {
    let app = spawn_app().await;
    let carol = app.create_admin("carol", "read").await;
    app.admin_api_as(&carol.key, Method::GET, "/keys", None)
        .await;
    let rotated = app
        .admin_api(Method::POST, &format!("/admins/{}/rotate", carol.id), None)
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    assert_eq!(rotated.body["role"], "read");
    assert_eq!(rotated.body["name"], "carol");
    assert_eq!(rotated.body["rotated_from"], carol.id.as_str());
    let new_key = rotated.body["key"].as_str().unwrap();
    assert!(new_key.starts_with("kga_"));
    let old = app
        .admin_api_as(&carol.key, Method::GET, "/keys", None)
        .await;
    assert_eq!(old.status, 401);
    let new = app.admin_api_as(new_key, Method::GET, "/keys", None).await;
    assert_eq!(new.status, 200);
}

#[tokio::test]
async fn an_admin_credential_is_not_a_client_key_and_a_client_key_is_not_an_admin_credential() {
    let app = spawn_app().await;
    let admin = app.create_admin("dave", "admin").await;
    let before = app.dynamodb_requests.get();
    let reply = app.protected(&admin.key).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.detail(), INVALID);
    assert_eq!(
        app.dynamodb_requests.since(before),
        0,
        "no I/O for a kga_ key"
    );
    let client = app.issue("client").await;
    let reply = app
        .admin_api_as(&client.key, Method::GET, "/keys", None)
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        app.issue_as(&client.key, json!({"name": "x"})).await.status,
        401
    );
    // Neither id reaches the other's routes.
    let reply = app
        .admin_api(Method::GET, &format!("/keys/{}", admin.id), None)
        .await;
    assert_eq!(reply.status, 400);
    let reply = app
        .admin_api(Method::POST, &format!("/admins/{}/revoke", client.id), None)
        .await;
    assert_eq!(reply.status, 400);
    // Admin credentials are not listed as keys.
    let keys = app.admin_api(Method::GET, "/keys", None).await;
    let listed = keys.body.to_string();
    assert!(!listed.contains(&admin.id));
}

#[tokio::test]
async fn the_admin_list_shows_no_secret_and_no_hash() {
    let app = spawn_app().await;
    let erin = app.create_admin("erin", "operate").await;
    let list = app.admin_api(Method::GET, "/admins", None).await;
    assert_eq!(list.status, 200);
    let admins = list.body["admins"].as_array().unwrap();
    assert_eq!(admins.len(), 1);
    let erin_view = &admins[0];
    assert_eq!(erin_view["id"], erin.id.as_str());
    assert_eq!(erin_view["role"], "operate");
    assert_eq!(erin_view["status"], "active");
    assert_eq!(erin_view["created_by"], json!({"type": "bootstrap"}));
    assert_eq!(erin_view["prefix"], &erin.key[..12]);
    let text = list.body.to_string();
    assert!(!text.contains(&erin.key[4..]), "a secret is listed");
    let hash = keygate_tests::key_hash(&erin.key).to_hex();
    assert!(!text.contains(&hash), "a hash is listed");
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_revoked_without_a_bootstrap_token() {
    let app = spawn_app().await;
    let alone = without_bootstrap(&app).await;
    let alice = app.create_admin("alice", "admin").await;
    let reply = alone
        .admin_api_as(
            &alice.key,
            Method::POST,
            &format!("/admins/{}/revoke", alice.id),
            None,
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert!(
        reply.detail().contains("lock everyone out"),
        "{}",
        reply.body
    );
    // A second admin-role credential makes it possible; an operate one does not.
    let operator = app.create_admin("op", "operate").await;
    let reply = alone
        .admin_api_as(
            &alice.key,
            Method::POST,
            &format!("/admins/{}/revoke", alice.id),
            None,
        )
        .await;
    assert_eq!(
        reply.status, 409,
        "an operate credential cannot manage admins"
    );
    let bob = app.create_admin("bob", "admin").await;
    let reply = alone
        .admin_api_as(
            &bob.key,
            Method::POST,
            &format!("/admins/{}/revoke", alice.id),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = alone
        .admin_api_as(
            &bob.key,
            Method::POST,
            &format!("/admins/{}/revoke", bob.id),
            None,
        )
        .await;
    assert_eq!(reply.status, 409);
    // Non-admin roles are never the last way in.
    let reply = alone
        .admin_api_as(
            &bob.key,
            Method::POST,
            &format!("/admins/{}/revoke", operator.id),
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn two_admins_revoking_each_other_at_once_never_both_succeed() {
    let app = spawn_app().await;
    let alone = without_bootstrap(&app).await;
    let other = without_bootstrap(&app).await;
    let mut both_ran = 0;
    for round in 0..5 {
        let a = app.create_admin(&format!("a{round}"), "admin").await;
        let b = app.create_admin(&format!("b{round}"), "admin").await;
        // Every earlier pair left one admin standing: revoke it, so these two are the last.
        for previous in app.admin_api(Method::GET, "/admins", None).await.body["admins"]
            .as_array()
            .unwrap()
        {
            let id = previous["id"].as_str().unwrap();
            if id != a.id && id != b.id && previous["status"] == "active" {
                app.admin_api(Method::POST, &format!("/admins/{id}/revoke"), None)
                    .await;
            }
        }
        let path_a = format!("/admins/{}/revoke", a.id);
        let path_b = format!("/admins/{}/revoke", b.id);
        let (by_a, by_b) = tokio::join!(
            alone.admin_api_as(&a.key, Method::POST, &path_b, None),
            other.admin_api_as(&b.key, Method::POST, &path_a, None),
        );
        let statuses = [by_a.status, by_b.status];
        assert!(
            statuses.contains(&409) || statuses.contains(&401),
            "both revokes succeeded: {statuses:?}"
        );
        if !statuses.contains(&401) {
            both_ran += 1;
        }
        let active = app.admin_api(Method::GET, "/admins", None).await.body["admins"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["status"] == "active" && v["role"] == "admin")
            .count();
        assert_eq!(active, 1, "round {round}: exactly one admin stands");
    }
    // The race must really have happened: both requests got past authentication at least
    // once, so the condition in the transaction is what decided.
    assert!(both_ran > 0, "no round had both revokes running");
}

#[tokio::test]
async fn every_action_records_the_credential_that_made_it() {
    let app = spawn_app().await;
    let alice = app.create_admin("alice", "operate").await;
    let issued = app.issue_as(&alice.key, json!({"name": "by alice"})).await;
    assert_eq!(issued.status, 201);
    let key_id = issued.body["id"].as_str().unwrap().to_owned();
    let key = issued.body["key"].as_str().unwrap().to_owned();
    let admin_actor = json!({"type": "admin", "id": alice.id, "name": "alice"});
    let patched = app
        .admin_api_as(
            &alice.key,
            Method::PATCH,
            &format!("/keys/{key_id}"),
            Some(json!({"name": "renamed", "self_rotation": true})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    // The key holder rotates, then the key is revoked: its self-made successor goes with it.
    let rotated = app.rotate(&key, None).await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let revoked = app
        .admin_api_as(
            &alice.key,
            Method::POST,
            &format!("/keys/{key_id}/revoke"),
            None,
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let new_id = rotated.id().to_owned();

    let by_key = app.audit(&format!("?key_id={key_id}")).await;
    let actors: Vec<(String, Value)> = by_key
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["actor"].clone()))
        .collect();
    assert_eq!(
        actors,
        [
            ("revoke".to_owned(), admin_actor.clone()),
            ("rotate".to_owned(), json!({"type": "key", "id": key_id})),
            ("update".to_owned(), admin_actor.clone()),
            ("issue".to_owned(), admin_actor.clone()),
        ]
    );
    let successor = app.audit(&format!("?key_id={new_id}&action=revoke")).await;
    assert_eq!(
        successor[0]["actor"],
        json!({"type": "system", "reason": format!("revoked with {key_id}")})
    );
    // The credential's own creation, by the bootstrap token.
    let created = app.audit(&format!("?key_id={}", alice.id)).await;
    assert_eq!(created[0]["action"], "admin_create");
    assert_eq!(created[0]["actor"], json!({"type": "bootstrap"}));
    // And the filter by actor finds exactly alice's three.
    let by_alice = app.audit(&format!("?actor_id={}", alice.id)).await;
    assert_eq!(by_alice.len(), 3, "{by_alice:?}");
    assert!(by_alice.iter().all(|e| e["actor"] == admin_actor));
}

#[tokio::test]
async fn changes_to_admin_credentials_are_audited_with_their_own_actions() {
    let app = spawn_app().await;
    let frank = app.create_admin("frank", "read").await;
    let rotated = app
        .admin_api(Method::POST, &format!("/admins/{}/rotate", frank.id), None)
        .await;
    let new_id = rotated.body["id"].as_str().unwrap().to_owned();
    app.admin_api(Method::POST, &format!("/admins/{new_id}/revoke"), None)
        .await;
    let events = app.audit(&format!("?key_id={new_id}")).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["admin_revoke", "admin_rotate"]);
    assert_eq!(events[1]["key_id"], frank.id.as_str());
    assert_eq!(events[1]["new_key_id"], new_id.as_str());
}

#[tokio::test]
async fn bad_admin_bodies_are_400_naming_the_field() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"role": "read"}), "name"),
        (json!({"name": "x"}), "role"),
        (json!({"name": "x", "role": "root"}), "role"),
        (json!({"name": "x", "role": 3}), "role"),
        (json!({"name": "x", "role": "read", "scope": "y"}), "scope"),
        (
            json!({"name": "x", "role": "read", "expires_at": "soon"}),
            "expires_at",
        ),
    ] {
        let reply = app
            .admin_api(Method::POST, "/admins", Some(body.clone()))
            .await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(reply.detail().contains(field), "{body}: {}", reply.detail());
    }
    let reply = app
        .admin_api(Method::POST, "/admins/adm_x/revoke", None)
        .await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn the_first_admin_made_with_keygate_local_signs_in_without_a_bootstrap_token() {
    use keygate_local::create_admin::{arguments, create_admin, REASON};
    let app = spawn_app().await;
    let alone = without_bootstrap(&app).await;
    let args: Vec<String> = ["--name", "first", "--role", "admin"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let created = create_admin(&alone.app, arguments(&args).unwrap())
        .await
        .unwrap();
    let secret = created.key.expose();
    let me = alone.admin_api_as(secret, Method::GET, "/me", None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["role"], "admin");
    let listed = alone
        .admin_api_as(secret, Method::GET, "/admins", None)
        .await;
    assert_eq!(
        listed.body["admins"][0]["created_by"],
        json!({"type": "system", "reason": REASON})
    );
    // Without a bootstrap token the bootstrap token's value is no credential at all.
    let reply = alone
        .admin_api_as(&app.admin_token, Method::GET, "/me", None)
        .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn a_rotation_whose_cache_write_fails_still_shows_the_new_secret_with_a_warning() {
    let app = spawn_app().await;
    let carol = app.create_admin("carol", "read").await;
    let no_cache = app
        .instance(Endpoints::with_redis(keygate_tests::DEAD_REDIS.to_owned()))
        .await;
    let rotated = no_cache
        .admin_api(Method::POST, &format!("/admins/{}/rotate", carol.id), None)
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    assert!(
        rotated.body["warning"]
            .as_str()
            .is_some_and(|w| w.contains("Revoke it")),
        "{}",
        rotated.body
    );
    let new_key = rotated.body["key"].as_str().unwrap();
    let me = app.admin_api_as(new_key, Method::GET, "/me", None).await;
    assert_eq!(me.status, 200, "the new secret works: {}", me.body);
}
