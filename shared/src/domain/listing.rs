//! Listing keys and audit events for people: the queries (what to show), the pages, and the
//! opaque cursors that carry DynamoDB's pagination position between pages. Reading a query
//! from a URL is the edge's job (`edge/query.rs`); running it is the store's
//! (`store/listing.rs`, `store/audit.rs`).
//!
//! The list is a Query on the `by_created` index, newest first. A page ends where its last
//! key sits, so the cursor is that key's position on the index: its hash and its
//! `created_at`. The cursor is hex of a small JSON object; it is not secret (the hash of a
//! key is what the table is keyed by, useless without the key) but it is validated strictly,
//! so a mangled cursor is a 400 rather than a DynamoDB error.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::audit::{Action, AuditEvent, Subject};
use crate::domain::key::{KeyHash, KeyId};
use crate::domain::record::{KeyRecord, Status};
use crate::domain::time::timestamp;

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;
pub const MAX_SEARCH_CHARS: usize = 200;
/// Longer than any cursor this module writes; checked before decoding anything.
const MAX_CURSOR_LEN: usize = 512;

/// A position on the `by_created` index: the page after it starts with the next older key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub hash: KeyHash,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorJson {
    /// `created_at`, exactly as stored.
    c: String,
    /// The key's hash, hex.
    h: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let json = CursorJson {
            c: timestamp(self.created_at),
            h: self.hash.to_hex(),
        };
        hex::encode(serde_json::to_vec(&json).expect("a cursor always serializes"))
    }

    /// `None` for anything [`Cursor::encode`] could not have written.
    pub fn decode(text: &str) -> Option<Self> {
        // Only what `encode` writes: lowercase hex, of a bounded length.
        if text.len() > MAX_CURSOR_LEN
            || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return None;
        }
        let bytes = hex::decode(text).ok()?;
        let json: CursorJson = serde_json::from_slice(&bytes).ok()?;
        let created_at = DateTime::parse_from_rfc3339(&json.c)
            .ok()?
            .with_timezone(&Utc);
        // Stored timestamps have one fixed form; any other spelling was not written by us.
        if timestamp(created_at) != json.c || json.h.len() != 64 {
            return None;
        }
        let hash = KeyHash::from_hex(&json.h)?;
        // Lowercase only, as stored, so the position matches the item byte for byte.
        (hash.to_hex() == json.h).then_some(Self { hash, created_at })
    }
}

/// `GET admin/api/keys?status=&q=&cursor=&limit=`, validated. Empty parameters count as
/// absent, so a form can send every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub status: Option<Status>,
    /// Trimmed and lowercased: search ignores case.
    pub search: Option<String>,
    /// Exact owner.
    pub owner: Option<String>,
    /// Keys not used for this many days (never used counts as unused).
    pub unused_days: Option<u32>,
    pub cursor: Option<Cursor>,
    pub limit: usize,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            status: None,
            search: None,
            owner: None,
            unused_days: None,
            cursor: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl ListQuery {
    /// Whether a key matches the search: its name contains the text, or its display prefix
    /// starts with it, ignoring case either way.
    pub fn matches(&self, record: &KeyRecord, now: DateTime<Utc>) -> bool {
        let search = match &self.search {
            None => true,
            Some(q) => {
                record.name.to_lowercase().contains(q.as_str())
                    || record.prefix.to_lowercase().starts_with(q.as_str())
                    || record
                        .owner
                        .as_ref()
                        .is_some_and(|o| o.to_lowercase().contains(q.as_str()))
            }
        };
        let owner = self
            .owner
            .as_ref()
            .is_none_or(|o| record.owner.as_ref() == Some(o));
        let unused = self.unused_days.is_none_or(|days| {
            let cutoff = now - chrono::TimeDelta::days(i64::from(days));
            record.last_used_at.is_none_or(|at| at < cutoff)
        });
        search && owner && unused
    }

    /// Whether anything filters keys after DynamoDB has read them.
    pub fn filters(&self) -> bool {
        self.status.is_some()
            || self.search.is_some()
            || self.owner.is_some()
            || self.unused_days.is_some()
    }
}

/// `GET api/audit?key_id=&action=&cursor=&limit=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only the events about this key, admin credential or identity.
    pub key_id: Option<Subject>,
    /// Only the events of this actor: an admin credential or a key holder.
    pub actor_id: Option<KeyId>,
    pub action: Option<Action>,
    pub cursor: Option<AuditCursor>,
    pub limit: usize,
}

/// A position in the audit log: the last event of the page before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCursor {
    pub event_id: String,
    pub at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditCursorJson {
    e: String,
    c: String,
}

impl AuditCursor {
    pub fn encode(&self) -> String {
        let json = AuditCursorJson {
            e: self.event_id.clone(),
            c: timestamp(self.at),
        };
        hex::encode(serde_json::to_vec(&json).expect("a cursor always serializes"))
    }

    pub fn decode(text: &str) -> Option<Self> {
        if text.len() > MAX_CURSOR_LEN
            || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return None;
        }
        let json: AuditCursorJson = serde_json::from_slice(&hex::decode(text).ok()?).ok()?;
        let id_ok = json
            .e
            .strip_prefix("evt_")
            .is_some_and(|h| h.len() == 24 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        let at = DateTime::parse_from_rfc3339(&json.c)
            .ok()?
            .with_timezone(&Utc);
        (id_ok && timestamp(at) == json.c).then_some(Self {
            event_id: json.e,
            at,
        })
    }
}

/// One page of audit events, newest first.
#[derive(Debug)]
pub struct EventPage {
    pub events: Vec<AuditEvent>,
    pub next: Option<AuditCursor>,
}

/// One page of keys, newest first, and where the next one starts when there may be more.
#[derive(Debug)]
pub struct KeyPage {
    pub records: Vec<KeyRecord>,
    pub next: Option<Cursor>,
}
