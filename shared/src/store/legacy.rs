//! Whether this deployment looks up keys in the old system's format (`domain/legacy.rs`).
//!
//! With `LEGACY_KEYS=auto` the answer is an item, `pk = "FLAG#legacy_keys"`, that the first
//! import writes before its keys. An instance reads it only when a legacy-looking string is
//! presented, and at most once per [`RECHECK`] while the answer is no: until a first import,
//! a flood of such strings costs one small read per instance every few seconds and nothing
//! per request. Once the answer is yes the instance keeps it (an import is not undone; a
//! finished migration sets `LEGACY_KEYS=off`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::codec::s;
use super::{Store, StoreError};
use crate::domain::legacy::LegacyKeys;
use crate::domain::time::timestamp;

const FLAG_PK: &str = "FLAG#legacy_keys";
const KIND_FLAG: &str = "flag";
/// How long an instance trusts a "no imported keys yet": every instance learns of a first
/// import within this time.
pub const RECHECK: Duration = Duration::from_secs(2);

/// One instance's view of [`LegacyKeys`].
#[derive(Debug, Default)]
pub struct LegacyGate {
    mode: LegacyKeys,
    imported: AtomicBool,
    /// When the flag was last read and found absent.
    absent_at: Mutex<Option<Instant>>,
}

impl LegacyGate {
    pub fn new(mode: LegacyKeys) -> Self {
        Self {
            mode,
            ..Self::default()
        }
    }
}

impl Store {
    /// Whether a legacy-looking key is to be looked up. A failed read says yes, without
    /// remembering it: the lookup then costs one cache round trip, where a wrong no would
    /// refuse an imported key.
    pub async fn legacy_keys_accepted(&self) -> bool {
        let gate = &self.legacy;
        match gate.mode {
            LegacyKeys::On => return true,
            LegacyKeys::Off => return false,
            LegacyKeys::Auto => {}
        }
        if gate.imported.load(Ordering::Relaxed) {
            return true;
        }
        let fresh = |at: &Option<Instant>| at.is_some_and(|at| at.elapsed() < RECHECK);
        if fresh(
            &gate
                .absent_at
                .lock()
                .expect("the gate's lock is never poisoned"),
        ) {
            return false;
        }
        match self.legacy_flag().await {
            Ok(true) => {
                gate.imported.store(true, Ordering::Relaxed);
                true
            }
            Ok(false) => {
                *gate
                    .absent_at
                    .lock()
                    .expect("the gate's lock is never poisoned") = Some(Instant::now());
                false
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not read whether legacy keys were imported; looking the key up");
                true
            }
        }
    }

    async fn legacy_flag(&self) -> Result<bool, StoreError> {
        let output = self
            .local
            .as_ref()
            .unwrap_or(&self.client)
            .get_item()
            .table_name(&self.table)
            .key("pk", s(FLAG_PK))
            .projection_expression("pk")
            .send()
            .await?;
        Ok(output.item.is_some())
    }

    /// Records that this deployment has imported keys, keeping the time of the first
    /// import. Written before the keys themselves, so no imported key is ever refused for
    /// want of it.
    pub async fn mark_legacy_keys_imported(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        if self.legacy.imported.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(FLAG_PK))
            .update_expression("SET kind = :kind, since = if_not_exists(since, :now)")
            .expression_attribute_values(":kind", s(KIND_FLAG))
            .expression_attribute_values(":now", s(&timestamp(now)))
            .send()
            .await?;
        self.legacy.imported.store(true, Ordering::Relaxed);
        Ok(())
    }
}
