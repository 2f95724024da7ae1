//! The operations: what Keygate does with a key (issue, update, rotate, revoke, verify),
//! each in its own file, over the stores and the domain's rules. Handlers call these and
//! never the stores' writes directly, so every change gets its audit event, its retry on a
//! conflicting change, and its cache write, the same way every time:
//!
//! - `retry.rs`: read, decide, write on the condition that nothing changed; again on a
//!   conflict.
//! - `publish.rs`: after a change is in DynamoDB, its cache entry is replaced.
//!
//! One error enum for the layer, [`OpError`]; the edge maps it to HTTP in one place.

pub mod admins;
pub mod identities;
pub mod import;
pub mod issue;
pub mod leak;
pub mod publish;
pub mod retry;
pub mod revoke;
pub mod rotate;
pub mod sync;
pub mod update;
pub mod usage;
pub mod verify;
mod verify_identity;

use crate::cache::CacheError;
use crate::domain::identity::IdentityId;
use crate::domain::invalid::Invalid;
use crate::domain::outcome::Outcome;
use crate::domain::rotation::SelfRotationRefused;
use crate::store::StoreError;

/// Every way an operation can fail.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// A rule refused the request (an expiry moved later, say).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// No key has this hash or id.
    #[error("no such key")]
    NotFound,
    /// A key was given an identity that does not exist.
    #[error("no identity has the id {0}")]
    UnknownIdentity(IdentityId),
    /// No identity has this id.
    #[error("no such identity")]
    IdentityNotFound,
    /// Another identity already has this external id.
    #[error("another identity has this external id")]
    ExternalIdTaken,
    /// The identity still has active keys, so it cannot be deleted.
    #[error("the identity has active keys")]
    IdentityInUse,
    /// The key cannot take this change as it stands (rotating a revoked key): refused with
    /// the guard's own outcome.
    #[error("the key is {}", .0.name())]
    Refused(Outcome),
    /// The key is in the grace period of an earlier rotation.
    #[error("the key was already rotated")]
    AlreadyRotated,
    /// The key holder asked the key to rotate itself, and the rules say no.
    #[error(transparent)]
    SelfRotation(#[from] SelfRotationRefused),
    /// The change is in DynamoDB, but the cache may still hold the key's old entry, for up
    /// to `ttl_seconds`.
    #[error("the key's cache entry was not replaced after a {change}: {source}")]
    CacheNotUpdated {
        change: publish::Change,
        ttl_seconds: u64,
        #[source]
        source: CacheError,
    },
    /// Revoking this admin credential would leave no way to administer the deployment.
    #[error("the last active admin-role credential")]
    LastAdmin,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Redis failed an operation that needs it (a usage fold).
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("the OS random source failed: {0}")]
    Random(#[from] rand::rand_core::OsError),
}
