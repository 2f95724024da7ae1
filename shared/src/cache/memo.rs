//! The keys an instance last saw without limits. They are read with a plain pipeline (GET
//! and SET NX), which costs Redis far less than the verify script; the set is bounded, and
//! forgetting a key only costs it one script call until it is seen again.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::domain::key::KeyHash;

/// How many keys an instance remembers as having no limits.
const CAPACITY: usize = 4096;

#[derive(Default)]
pub(super) struct Unlimited(Mutex<HashSet<KeyHash>>);

impl Unlimited {
    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<KeyHash>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn contains(&self, hash: &KeyHash) -> bool {
        self.set().contains(hash)
    }

    pub(super) fn remember(&self, hash: KeyHash) {
        let mut set = self.set();
        if set.len() >= CAPACITY {
            set.clear();
        }
        set.insert(hash);
    }

    pub(super) fn forget(&self, hash: &KeyHash) {
        self.set().remove(hash);
    }
}
