//! The table's shape: one table, partition key `pk`; a key's item (or an admin credential's,
//! `kind` `admin`) is `KEY#<sha256 hex>`, an audit event's `AUDIT#<event id>`, an identity's
//! `IDT#<id>` and the reservation of its external id `EXT#<external id>`. The indexes serve people, not the hot path. In AWS the
//! template creates the table; locally `keygate-local create-table` and the tests do.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use super::StoreError;

/// A key's item from its public id (KEYS_ONLY).
pub const INDEX_BY_ID: &str = "by_id";
/// Keys, and audit events, newest first (`kind`, `created_at`).
pub const INDEX_BY_CREATED: &str = "by_created";
/// One key's audit events, newest first.
pub const INDEX_AUDIT_BY_KEY: &str = "audit_by_key";
/// The rotation event that created a key.
pub const INDEX_AUDIT_BY_NEW_KEY: &str = "audit_by_new_key";
/// The keys of an identity, newest first (`identity_id`, `created_at`).
pub const INDEX_BY_IDENTITY: &str = "by_identity";
/// Keys ranked per day by usage volume or refusals (`top`, `rank`: `store/usage.rs`).
pub const INDEX_USAGE_TOP: &str = "usage_top";
/// The attribute DynamoDB's TTL reads: the epoch second after which an item is deleted.
pub const TTL_ATTRIBUTE: &str = "ttl";
pub(super) const KIND_KEY: &str = "key";
pub(super) const KIND_IDENTITY: &str = "identity";
pub(super) const KIND_ADMIN: &str = "admin";
pub(super) const KIND_AUDIT: &str = "audit";
/// The start of an audit event's `pk`, before the event's id.
pub(super) const EVENT_PREFIX: &str = "AUDIT#";

/// Creates the table with its indexes unless it exists. Used by `make dev` and the tests;
/// in AWS the template creates it.
pub async fn create_table(client: &Client, table: &str) -> Result<bool, StoreError> {
    let typed = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .expect("attribute name and type are set")
    };
    let attr = |name: &str| typed(name, ScalarAttributeType::S);
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .expect("attribute name and key type are set")
    };
    let index = |name: &str, hash: &str, range: Option<&str>, projection: ProjectionType| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .set_key_schema(Some(
                std::iter::once(key(hash, KeyType::Hash))
                    .chain(range.map(|r| key(r, KeyType::Range)))
                    .collect(),
            ))
            .projection(Projection::builder().projection_type(projection).build())
            .build()
            .expect("index name, key schema and projection are set")
    };
    let by_id = index(INDEX_BY_ID, "id", None, ProjectionType::KeysOnly);
    let by_created = index(
        INDEX_BY_CREATED,
        "kind",
        Some("created_at"),
        ProjectionType::All,
    );
    // Audit events: one key's, newest first; and the rotation that created a key.
    let audit_by_key = index(
        INDEX_AUDIT_BY_KEY,
        "audit_key",
        Some("created_at"),
        ProjectionType::All,
    );
    let audit_by_new_key = index(
        INDEX_AUDIT_BY_NEW_KEY,
        "new_key_id",
        None,
        ProjectionType::All,
    );
    let by_identity = index(
        INDEX_BY_IDENTITY,
        "identity_id",
        Some("created_at"),
        ProjectionType::All,
    );
    let usage_top = index(INDEX_USAGE_TOP, "top", Some("rank"), ProjectionType::All);
    let mut attributes: Vec<_> = [
        "pk",
        "id",
        "kind",
        "created_at",
        "audit_key",
        "new_key_id",
        "identity_id",
        "top",
    ]
    .into_iter()
    .map(attr)
    .collect();
    attributes.push(typed("rank", ScalarAttributeType::N));
    let indexes = [
        by_id,
        by_created,
        audit_by_key,
        audit_by_new_key,
        by_identity.clone(),
        usage_top.clone(),
    ];
    let result = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes.clone()))
        .key_schema(key("pk", KeyType::Hash))
        .set_global_secondary_indexes(Some(indexes.to_vec()))
        .send()
        .await;
    match result {
        Ok(_) => {
            enable_ttl(client, table).await?;
            Ok(true)
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            // One index per UpdateTable: those added since the table was created.
            for index in [by_identity, usage_top] {
                add_index(client, table, index, attributes.clone()).await?;
            }
            enable_ttl(client, table).await?;
            Ok(false)
        }
        Err(err) => Err(err.into()),
    }
}

/// Lets DynamoDB delete items past their `ttl` (usage buckets, fold markers), on a table
/// that does not yet. In AWS the template enables it.
async fn enable_ttl(client: &Client, table: &str) -> Result<(), StoreError> {
    let described = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await?;
    let enabled = described
        .time_to_live_description()
        .and_then(|d| d.attribute_name())
        .is_some_and(|name| name == TTL_ATTRIBUTE);
    if enabled {
        return Ok(());
    }
    let spec = TimeToLiveSpecification::builder()
        .attribute_name(TTL_ATTRIBUTE)
        .enabled(true)
        .build()
        .expect("attribute name and enabled are set");
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await?;
    Ok(())
}

/// Adds `index` to a table created before it existed (a DynamoDB Local database kept from
/// an earlier release), unless it is there; in AWS the template adds it.
async fn add_index(
    client: &Client,
    table: &str,
    index: GlobalSecondaryIndex,
    attributes: Vec<AttributeDefinition>,
) -> Result<(), StoreError> {
    let described = client.describe_table().table_name(table).send().await?;
    let has_index = described
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .any(|i| i.index_name() == Some(index.index_name()));
    if has_index {
        return Ok(());
    }
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(index.index_name())
        .set_key_schema(Some(index.key_schema().to_vec()))
        .set_projection(index.projection().cloned())
        .build()
        .expect("index name, key schema and projection are set");
    client
        .update_table()
        .table_name(table)
        .set_attribute_definitions(Some(attributes))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder().create(create).build(),
        )
        .send()
        .await?;
    Ok(())
}
