//! Across regions: the `cache-sync` function applies the table's stream to a second
//! region's cache (a Redis of its own), and every write goes to the home region.
//!
//! The stream records are built from the table's real items, before and after each change,
//! exactly as DynamoDB's stream carries them (NEW_AND_OLD_IMAGES). `make regions` runs the
//! same function against DynamoDB Local's real stream and measures the delay.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodb::types::AttributeValue;
use keygate_tests::detail::{EXPIRED, INVALID, REVOKED};
use keygate_tests::services::{DynamoDbLocal, RedisServer};
use keygate_tests::{alone, key_hash, Endpoints, Issued, TestApp};
use lambda_http::http::Method;
use serde_json::json;

type Image = HashMap<String, AttributeValue>;

/// A stream record of a key item: `new` is `None` for a REMOVE, `old` for an INSERT.
fn record(sequence: u64, key: &str, old: Option<Image>, new: Option<Image>) -> EventRecord {
    let pk = format!("KEY#{}", key_hash(key).to_hex());
    item_record(sequence, pk, old, new)
}

/// A stream record of an identity's item.
fn identity_record(sequence: u64, id: &str, old: Option<Image>, new: Option<Image>) -> EventRecord {
    item_record(sequence, format!("IDT#{id}"), old, new)
}

/// A stream record of the item `pk`.
fn item_record(sequence: u64, pk: String, old: Option<Image>, new: Option<Image>) -> EventRecord {
    let name = match (&old, &new) {
        (None, Some(_)) => "INSERT",
        (Some(_), Some(_)) => "MODIFY",
        _ => "REMOVE",
    };
    let mut record: EventRecord = serde_json::from_value(json!({
        "awsRegion": "eu-west-1",
        "eventID": format!("event-{sequence}"),
        "eventName": name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_700_000_000.0,
            "SequenceNumber": sequence.to_string(),
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    }))
    .expect("a stream record");
    let keys = HashMap::from([("pk".to_owned(), AttributeValue::S(pk))]);
    record.change.keys = keys.into();
    record.change.old_image = old.unwrap_or_default().into();
    record.change.new_image = new.unwrap_or_default().into();
    record
}

fn batch(records: Vec<EventRecord>) -> Event {
    let mut event: Event = serde_json::from_value(json!({ "Records": [] })).unwrap();
    event.records = records;
    event
}

/// Region A (the shared Redis) and region B (a Redis of its own), on one table.
struct Regions {
    a: TestApp,
    b: TestApp,
    _redis: RedisServer,
}

async fn two_regions(alone: &keygate_tests::Alone) -> Regions {
    let redis = RedisServer::start();
    let a = alone.spawn_app().await;
    let b = a.instance(Endpoints::with_redis(redis.url())).await;
    Regions {
        a,
        b,
        _redis: redis,
    }
}

impl Regions {
    async fn item(&self, key: &str) -> Image {
        self.a.raw_item(&key_hash(key)).await
    }

    async fn identity_item(&self, id: &str) -> Image {
        self.a
            .app
            .store
            .client()
            .get_item()
            .table_name(&self.a.table)
            .key("pk", AttributeValue::S(format!("IDT#{id}")))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .expect("the identity's item")
    }

    /// An identity created at home, and the id and key of one key of it.
    async fn identity_with_key(&self, external_id: &str) -> (String, String) {
        let body = json!({"external_id": external_id});
        let created = self
            .a
            .admin_api(Method::POST, "/identities", Some(body))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.body["id"].as_str().unwrap().to_owned();
        let body = json!({"name": format!("of {external_id}"), "identity_id": id});
        (id, self.a.issue_with(body).await.key)
    }

    /// Region B's cache-sync, called with these records.
    async fn sync(&self, records: Vec<EventRecord>) -> Vec<String> {
        cache_sync::handle(&self.b.app, batch(records))
            .await
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier.unwrap_or_default())
            .collect()
    }

    /// A key that both regions have cached as valid.
    async fn cached_in_both(&self, name: &str) -> Issued {
        let issued = self.a.issue(name).await;
        assert_eq!(self.a.protected(&issued.key).await.status, 200);
        assert_eq!(self.b.protected(&issued.key).await.status, 200);
        issued
    }
}

#[tokio::test]
async fn a_revoke_in_one_region_reaches_the_other_regions_cache_through_the_stream() {
    let alone = alone().await;
    let regions = two_regions(&alone).await;
    let Issued { key, .. } = regions.cached_in_both("replicated").await;
    let before = regions.item(&key).await;
    regions.a.revoke(&key).await;
    assert_eq!(regions.a.protected(&key).await.detail(), REVOKED);
    // Without the stream, region B's cache would answer from its entry until its TTL.
    assert_eq!(regions.b.protected(&key).await.status, 200);
    let after = regions.item(&key).await;
    let failures = regions
        .sync(vec![record(1, &key, Some(before), Some(after))])
        .await;
    assert!(failures.is_empty(), "{failures:?}");
    let reply = regions.b.protected(&key).await;
    assert_eq!((reply.status, reply.detail()), (403, REVOKED));
}

#[tokio::test]
async fn updates_rotations_and_expiries_reach_the_other_region() {
    let alone = alone().await;
    let regions = two_regions(&alone).await;
    // Scopes: region B enforces the new ones.
    let Issued { id, key } = regions.cached_in_both("scoped").await;
    let before = regions.item(&key).await;
    regions
        .a
        .update_key(&id, json!({"scopes": ["orders:read"]}))
        .await;
    let after = regions.item(&key).await;
    assert!(regions
        .sync(vec![record(1, &key, Some(before), Some(after))])
        .await
        .is_empty());
    let hit = regions.b.protected(&key).await;
    assert_eq!(hit.body["scopes"], json!(["orders:read"]), "{}", hit.body);
    // An expiry moved into the past: region B answers expired.
    let before = regions.item(&key).await;
    let past = (chrono::Utc::now() - chrono::TimeDelta::seconds(1)).to_rfc3339();
    regions.a.update_key(&id, json!({"expires_at": past})).await;
    let after = regions.item(&key).await;
    regions
        .sync(vec![record(2, &key, Some(before), Some(after))])
        .await;
    assert_eq!(regions.b.protected(&key).await.detail(), EXPIRED);
    // A rotation with no grace: the old key ends in region B, the new one verifies there.
    let Issued { id, key: old } = regions.cached_in_both("rotated").await;
    let before = regions.item(&old).await;
    let rotated = regions
        .a
        .admin_api(
            Method::POST,
            &format!("/keys/{id}/rotate"),
            Some(json!({"grace_seconds": 0})),
        )
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let new_key = rotated.body["key"].as_str().unwrap().to_owned();
    let records = vec![
        record(3, &old, Some(before), Some(regions.item(&old).await)),
        record(4, &new_key, None, Some(regions.item(&new_key).await)),
    ];
    assert!(regions.sync(records).await.is_empty());
    assert_eq!(regions.b.protected(&old).await.detail(), REVOKED);
    assert_eq!(regions.b.protected(&new_key).await.status, 200);
}

#[tokio::test]
async fn replayed_and_reordered_records_never_bring_a_revoked_key_back() {
    let alone = alone().await;
    let regions = two_regions(&alone).await;
    let Issued { id, key } = regions.cached_in_both("replayed").await;
    let issued = regions.item(&key).await;
    regions.a.update_key(&id, json!({"name": "renamed"})).await;
    let renamed = regions.item(&key).await;
    regions.a.revoke(&key).await;
    let revoked = regions.item(&key).await;
    let update = record(2, &key, Some(issued.clone()), Some(renamed.clone()));
    let revoke = record(3, &key, Some(renamed.clone()), Some(revoked.clone()));
    // Out of order: the revoke first, then the older update; then the whole batch again.
    regions.sync(vec![revoke.clone(), update.clone()]).await;
    assert_eq!(regions.b.protected(&key).await.detail(), REVOKED);
    regions
        .sync(vec![update.clone(), revoke.clone(), update.clone()])
        .await;
    assert_eq!(regions.b.protected(&key).await.detail(), REVOKED);
    // Even once region B's entry is gone (evicted, expired), replaying the update writes
    // nothing: the next read goes to the table, which says revoked.
    let mut conn = redis::Client::open(regions._redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let entry = regions.b.app.cache.entry_key(&key_hash(&key));
    let _: i64 = redis::cmd("DEL")
        .arg(&entry)
        .query_async(&mut conn)
        .await
        .unwrap();
    regions.sync(vec![update]).await;
    let cached: Option<String> = redis::cmd("GET")
        .arg(&entry)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(cached, None, "a replayed update created an entry");
    assert_eq!(regions.b.protected(&key).await.detail(), REVOKED);
}

#[tokio::test]
async fn a_failing_record_is_reported_while_the_rest_of_the_batch_applies() {
    let alone = alone().await;
    let regions = two_regions(&alone).await;
    let first = regions.cached_in_both("first").await;
    let broken = regions.cached_in_both("broken").await;
    let last = regions.cached_in_both("last").await;
    let mut records = Vec::new();
    for (sequence, key) in [(10, &first.key), (11, &broken.key), (12, &last.key)] {
        let before = regions.item(key).await;
        regions.a.revoke(key).await;
        let mut after = regions.item(key).await;
        if key == &broken.key {
            after.remove("state");
        }
        records.push(record(sequence, key, Some(before), Some(after)));
    }
    // An audit event's record is not a key's: skipped, not a failure.
    let audit = HashMap::from([("pk".to_owned(), AttributeValue::S("AUDIT#evt_1".into()))]);
    let mut other = record(13, &first.key, None, Some(audit.clone()));
    other.change.keys = audit.into();
    records.push(other);
    let failures = regions.sync(records).await;
    assert_eq!(failures, ["11"]);
    assert_eq!(regions.b.protected(&first.key).await.detail(), REVOKED);
    assert_eq!(regions.b.protected(&last.key).await.detail(), REVOKED);
    assert_eq!(
        regions.b.protected(&broken.key).await.status,
        200,
        "not applied"
    );
}

#[tokio::test]
async fn a_key_deleted_by_hand_leaves_the_other_regions_cache() {
    let alone = alone().await;
    let regions = two_regions(&alone).await;
    let Issued { key, .. } = regions.cached_in_both("deleted").await;
    let before = regions.item(&key).await;
    regions
        .a
        .app
        .store
        .client()
        .delete_item()
        .table_name(&regions.a.table)
        .key(
            "pk",
            AttributeValue::S(format!("KEY#{}", key_hash(&key).to_hex())),
        )
        .send()
        .await
        .unwrap();
    assert!(regions
        .sync(vec![record(1, &key, Some(before), None)])
        .await
        .is_empty());
    assert_eq!(regions.b.protected(&key).await.detail(), INVALID);
}

#[tokio::test]
async fn every_write_goes_to_the_home_region_and_verification_reads_the_local_replica() {
    let alone = alone().await;
    // The home region's table on a DynamoDB of its own; this region's replica is the shared
    // one. Nothing replicates between them, so the replica stays empty and shows where each
    // request went.
    let home_region = DynamoDbLocal::start();
    let here = alone.spawn_app().await;
    let away = here.instance_with_home(&home_region.endpoint()).await;
    let issued = away.issue("written at home").await;
    let hash = key_hash(&issued.key);
    assert!(
        away.app.store.get(&hash).await.unwrap().is_some(),
        "the home table has it"
    );
    assert!(
        away.app.store.get_local(&hash).await.unwrap().is_none(),
        "the replica has not"
    );
    // Verification reads the local replica: until replication brings the key, it is unknown
    // here.
    assert_eq!(away.protected(&issued.key).await.detail(), INVALID);
    // A revoke made in this region is decided and written at home.
    let admin = away
        .admin_api(Method::GET, &format!("/keys/{}", issued.id), None)
        .await;
    assert_eq!(admin.status, 200, "the admin reads at home: {}", admin.body);
    let revoked = away.revoke(&issued.key).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let at_home = away.app.store.get(&hash).await.unwrap().unwrap();
    assert_eq!(at_home.state, keygate::domain::record::State::Revoked);
}

#[tokio::test]
async fn an_identity_suspended_in_one_region_is_refused_in_the_other_through_the_stream() {
    let alone = alone().await;
    let regions = two_regions(&alone).await;
    let (id, key) = regions.identity_with_key("acme").await;
    for region in [&regions.a, &regions.b] {
        assert_eq!(region.protected(&key).await.status, 200);
    }
    let action = |what: &str| {
        let path = format!("/identities/{id}/{what}");
        let a = &regions.a;
        async move {
            let reply = a.admin_api(Method::POST, &path, None).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
        }
    };
    let active = regions.identity_item(&id).await;
    action("suspend").await;
    assert_eq!(regions.a.protected(&key).await.detail(), REVOKED);
    // Without the stream, region B would answer from its cached identity until its TTL.
    assert_eq!(regions.b.protected(&key).await.status, 200);
    let suspended = regions.identity_item(&id).await;
    let record = identity_record(1, &id, Some(active.clone()), Some(suspended.clone()));
    assert!(regions.sync(vec![record]).await.is_empty());
    let reply = regions.b.protected(&key).await;
    assert_eq!((reply.status, reply.detail()), (403, REVOKED));
    // The resume is carried too, and the suspend's record replayed after it changes nothing.
    action("resume").await;
    let resumed = regions.identity_item(&id).await;
    let failures = regions
        .sync(vec![
            identity_record(2, &id, Some(suspended.clone()), Some(resumed)),
            identity_record(3, &id, Some(active), Some(suspended)),
        ])
        .await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(regions.b.protected(&key).await.status, 200);
}

#[tokio::test]
async fn an_identity_deleted_in_one_region_leaves_the_other_regions_cache() {
    let alone = alone().await;
    let regions = two_regions(&alone).await;
    let (id, key) = regions.identity_with_key("gone").await;
    assert_eq!(regions.b.protected(&key).await.status, 200);
    let entry = format!("{}:identity:{{{id}}}", regions.b.namespace);
    let mut conn = redis::Client::open(regions.b.endpoints().redis.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let cached: Option<Vec<u8>> = redis::cmd("GET")
        .arg(&entry)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(cached.is_some(), "region B caches the identity");
    let item = regions.identity_item(&id).await;
    assert_eq!(regions.a.revoke(&key).await.status, 200);
    let path = format!("/identities/{id}");
    let deleted = regions.a.admin_api(Method::DELETE, &path, None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert!(regions
        .sync(vec![identity_record(1, &id, Some(item), None)])
        .await
        .is_empty());
    let cached: Option<Vec<u8>> = redis::cmd("GET")
        .arg(&entry)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(cached, None);
}
