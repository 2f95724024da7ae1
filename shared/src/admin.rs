//! What only the admin page needs: reading a key-list query, and the opaque cursor that
//! carries DynamoDB's pagination position between pages.
//!
//! The list is a Query on the `by_created` index, newest first. A page ends where its last
//! key sits, so the cursor is that key's position on the index: its hash and its
//! `created_at`. The cursor is hex of a small JSON object; it is not secret (the hash of a
//! key is what the table is keyed by, useless without the key) but it is validated strictly,
//! so a mangled cursor is a 400 rather than a DynamoDB error.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use serde::{Deserialize, Serialize};

use crate::audit::{Action, AuditEvent};
use crate::error::ApiError;
use crate::key::{KeyHash, KeyId};
use crate::record::{timestamp, KeyRecord, Status};

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
    /// Parses a raw (percent-encoded) query string.
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let params = Params::parse(
            query,
            &["status", "q", "owner", "unused_days", "cursor", "limit"],
        )?;
        let bad = |message: String| Err(ApiError::BadRequest(message));
        let value = |name: &str| params.get(name);
        let mut out = Self::default();

        if let Some(status) = value("status") {
            out.status = Some(match status {
                "active" => Status::Active,
                "revoked" => Status::Revoked,
                "expired" => Status::Expired,
                _ => return bad("`status` must be active, revoked or expired.".to_owned()),
            });
        }
        if let Some(q) = value("q") {
            if q.chars().count() > MAX_SEARCH_CHARS {
                return bad(format!(
                    "`q` must be at most {MAX_SEARCH_CHARS} characters."
                ));
            }
            if q.chars().any(char::is_control) {
                return bad("`q` must not contain control characters.".to_owned());
            }
            out.search = Some(q.to_lowercase());
        }
        if let Some(owner) = value("owner") {
            if owner.chars().count() > MAX_SEARCH_CHARS || owner.chars().any(char::is_control) {
                return bad(format!(
                    "`owner` must be at most {MAX_SEARCH_CHARS} characters, without control characters."
                ));
            }
            out.owner = Some(owner.to_owned());
        }
        if let Some(days) = value("unused_days") {
            out.unused_days = Some(match days.parse::<u32>() {
                Ok(n) if (1..=36_500).contains(&n) => n,
                _ => return bad("`unused_days` must be a whole number from 1 to 36500.".to_owned()),
            });
        }
        out.cursor = params.cursor(Cursor::decode)?;
        out.limit = params.limit()?;
        Ok(out)
    }

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
    pub key_id: Option<KeyId>,
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

impl AuditQuery {
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let params = Params::parse(query, &["key_id", "action", "cursor", "limit"])?;
        let value = |name: &str| params.get(name);
        let mut out = Self {
            key_id: None,
            action: None,
            cursor: None,
            limit: DEFAULT_LIMIT,
        };
        if let Some(id) = value("key_id") {
            out.key_id = Some(KeyId::parse(id).ok_or_else(|| {
                ApiError::BadRequest(
                    "`key_id` must be key_ followed by 24 lowercase hexadecimal digits.".to_owned(),
                )
            })?);
        }
        if let Some(action) = value("action") {
            out.action = Some(action.parse().map_err(|_| {
                ApiError::BadRequest("`action` must be issue, update, revoke or rotate.".to_owned())
            })?);
        }
        out.cursor = params.cursor(AuditCursor::decode)?;
        out.limit = params.limit()?;
        Ok(out)
    }
}

/// One page of audit events, newest first.
#[derive(Debug)]
pub struct EventPage {
    pub events: Vec<AuditEvent>,
    pub next: Option<AuditCursor>,
}

/// A query string whose parameters are all known and each given at most once; empty
/// values count as absent.
struct Params(QueryMap);

impl Params {
    fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let map = QueryMap::from_str(query.unwrap_or_default())
            .expect("parsing a query string is infallible");
        for (name, _) in map.iter() {
            if !allowed.contains(&name) {
                return Err(ApiError::BadRequest(format!(
                    "Unknown query parameter `{}`; use {}.",
                    printable(name),
                    allowed.join(", ")
                )));
            }
            if map.all(name).is_some_and(|values| values.len() > 1) {
                return Err(ApiError::BadRequest(format!(
                    "Send the `{name}` parameter only once."
                )));
            }
        }
        Ok(Self(map))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.first(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// `limit`: 1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`].
    fn limit(&self) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(DEFAULT_LIMIT),
            Some(limit) => match limit.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(ApiError::BadRequest(format!(
                    "`limit` must be a whole number from 1 to {MAX_LIMIT}."
                ))),
            },
        }
    }

    /// `cursor`, decoded by `decode`.
    fn cursor<C>(&self, decode: impl Fn(&str) -> Option<C>) -> Result<Option<C>, ApiError> {
        self.get("cursor")
            .map(|c| {
                decode(c).ok_or_else(|| {
                    ApiError::BadRequest(
                        "`cursor` is not valid; use the `next_cursor` of a previous page."
                            .to_owned(),
                    )
                })
            })
            .transpose()
    }
}

/// One page of keys, newest first, and where the next one starts when there may be more.
#[derive(Debug)]
pub struct KeyPage {
    pub records: Vec<KeyRecord>,
    pub next: Option<Cursor>,
}

/// The DynamoDB filter for a status, over `#state` and `expires_at`, given `:active`,
/// `:revoked` and `:now`. It mirrors [`crate::record::status_at`]: revocation wins, and a key
/// expires at its expiry time (stored timestamps have one width, so they compare as strings).
pub fn status_filter(status: Status) -> &'static str {
    match status {
        Status::Active => {
            "#state = :active AND (attribute_not_exists(expires_at) OR expires_at > :now)"
        }
        Status::Revoked => "#state = :revoked",
        Status::Expired => "#state = :active AND expires_at <= :now",
    }
}

/// A name for an error message: printable, and short.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{ApiKey, KeyId, KeyPrefix};

    fn cursor() -> Cursor {
        Cursor {
            hash: ApiKey::generate(&KeyPrefix::default()).unwrap().hash(),
            created_at: "2026-01-01T10:20:30.456Z".parse().unwrap(),
        }
    }

    fn record(name: &str, prefix: &str) -> KeyRecord {
        KeyRecord {
            ..KeyRecord::new(
                KeyId::generate().unwrap(),
                name.to_owned(),
                prefix.to_owned(),
                "2026-01-01T00:00:00Z".parse().unwrap(),
            )
        }
    }

    fn detail(query: &str) -> String {
        ListQuery::parse(Some(query)).unwrap_err().detail()
    }

    #[test]
    fn a_cursor_round_trips() {
        let c = cursor();
        let text = c.encode();
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(Cursor::decode(&text), Some(c));
    }

    #[test]
    fn garbage_cursors_are_rejected() {
        let good = cursor().encode();
        let json = |s: &str| hex::encode(s.as_bytes());
        let hash = "a".repeat(64);
        for bad in [
            String::new(),
            "zz".to_owned(),
            "abc".to_owned(),
            good[..good.len() - 2].to_owned(),
            good.to_uppercase(),
            "0".repeat(2000),
            json("[]"),
            json("{}"),
            json(&format!(r#"{{"c":"2026-01-01T00:00:00Z","h":"{hash}"}}"#)),
            json(&format!(
                r#"{{"c":"2026-01-01T00:00:00.000Z","h":"{}"}}"#,
                "A".repeat(64)
            )),
            json(r#"{"c":"2026-01-01T00:00:00.000Z","h":"abcd"}"#),
            json(&format!(r#"{{"c":"yesterday","h":"{hash}"}}"#)),
            json(&format!(
                r#"{{"c":"2026-01-01T00:00:00.000Z","h":"{hash}","x":1}}"#
            )),
        ] {
            assert_eq!(Cursor::decode(&bad), None, "{bad}");
        }
        assert!(detail(&format!("cursor={}", json("{}"))).contains("`cursor`"));
    }

    #[test]
    fn an_empty_query_gives_the_defaults() {
        assert_eq!(ListQuery::parse(None).unwrap(), ListQuery::default());
        assert_eq!(
            ListQuery::parse(Some("status=&q=&cursor=&limit=")).unwrap(),
            ListQuery::default()
        );
    }

    #[test]
    fn every_parameter_is_read() {
        let c = cursor();
        let q = ListQuery::parse(Some(&format!(
            "status=revoked&q=Billing+API&limit=100&cursor={}",
            c.encode()
        )))
        .unwrap();
        assert_eq!(q.status, Some(Status::Revoked));
        assert_eq!(q.search.as_deref(), Some("billing api"));
        assert_eq!(q.cursor, Some(c));
        assert_eq!(q.limit, 100);
    }

    #[test]
    fn percent_encoded_search_text_is_decoded() {
        let q = ListQuery::parse(Some("q=%3Cimg%20src%3Dx%3E")).unwrap();
        assert_eq!(q.search.as_deref(), Some("<img src=x>"));
    }

    #[test]
    fn bad_parameters_are_rejected_with_their_name() {
        for (query, name) in [
            ("status=deleted", "`status`"),
            ("limit=0", "`limit`"),
            ("limit=101", "`limit`"),
            ("limit=ten", "`limit`"),
            ("limit=-1", "`limit`"),
            ("limit=1&limit=2", "`limit`"),
            ("sort=name", "`sort`"),
            ("q=a%07b", "`q`"),
        ] {
            assert!(detail(query).contains(name), "{query}: {}", detail(query));
        }
        assert!(detail(&format!("q={}", "x".repeat(201))).contains("`q`"));
        assert!(ListQuery::parse(Some(&format!("q={}", "é".repeat(200)))).is_ok());
    }

    #[test]
    fn search_matches_names_anywhere_and_prefixes_from_the_start_ignoring_case() {
        let r = record("Billing API", "kg_3fa9c1d2");
        let search = |q: &str| ListQuery::parse(Some(&format!("q={q}"))).unwrap();
        for q in ["billing", "API", "ling+a", "kg_3fa", "KG_3FA9C1D2"] {
            assert!(search(q).matches(&r, Utc::now()), "{q}");
        }
        for q in ["3fa9", "invoices", "kg_3fb"] {
            assert!(!search(q).matches(&r, Utc::now()), "{q}");
        }
        assert!(ListQuery::default().matches(&r, Utc::now()));
    }

    #[test]
    fn the_status_filters_name_only_the_expected_placeholders() {
        for status in [Status::Active, Status::Revoked, Status::Expired] {
            let filter = status_filter(status);
            let placeholders: Vec<&str> = filter
                .split(|c: char| !(c.is_alphanumeric() || c == ':' || c == '_'))
                .filter(|w| w.starts_with(':'))
                .collect();
            for p in placeholders {
                assert!([":active", ":revoked", ":now"].contains(&p), "{filter}");
            }
        }
    }
}
