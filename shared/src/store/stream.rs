//! The table's stream, as the `cache-sync` function receives it: which records are keys
//! or identities, and what they hold, read with the same codecs as the table's items.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::from_item;
use super::identities::identity_from_item;
use super::schema::{KIND_ADMIN, KIND_IDENTITY, KIND_KEY};
use super::StoreError;
use crate::domain::identity::{Identity, IdentityId};
use crate::domain::key::KeyHash;
use crate::domain::record::KeyRecord;

/// The key hash of a stream record's `Keys`, when the item is a key's (or an admin
/// credential's): audit events and documents are not.
pub fn key_hash_of(keys: &HashMap<String, AttributeValue>) -> Option<KeyHash> {
    match keys.get("pk") {
        Some(AttributeValue::S(pk)) => pk.strip_prefix("KEY#").and_then(KeyHash::from_hex),
        _ => None,
    }
}

/// The record a key item's image holds; `None` for an image that is not a key's.
pub fn key_record_of(
    image: &HashMap<String, AttributeValue>,
) -> Result<Option<KeyRecord>, StoreError> {
    match image.get("kind") {
        Some(AttributeValue::S(kind)) if kind == KIND_KEY || kind == KIND_ADMIN => {
            from_item(image).map(Some)
        }
        _ => Ok(None),
    }
}

/// The identity id of a stream record's `Keys`, when the item is an identity's (not the
/// `EXT#` item that reserves its external id).
pub fn identity_id_of(keys: &HashMap<String, AttributeValue>) -> Option<IdentityId> {
    match keys.get("pk") {
        Some(AttributeValue::S(pk)) => pk.strip_prefix("IDT#").and_then(IdentityId::parse),
        _ => None,
    }
}

/// The identity an identity item's image holds; `None` for an image that is not one.
pub fn identity_of(
    image: &HashMap<String, AttributeValue>,
) -> Result<Option<Identity>, StoreError> {
    match image.get("kind") {
        Some(AttributeValue::S(kind)) if kind == KIND_IDENTITY => {
            identity_from_item(image).map(Some)
        }
        _ => Ok(None),
    }
}

/// The version an image holds (`v`; items from before versions existed are at 0).
pub fn version_of(image: &HashMap<String, AttributeValue>) -> u64 {
    match image.get("v") {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}
