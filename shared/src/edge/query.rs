//! Reading query strings: the admin key list and the audit log. Every parameter is known
//! and given at most once; a bad one is a 400 that names it.

use std::str::FromStr;

use lambda_http::aws_lambda_events::query_map::QueryMap;

use super::error::ApiError;
use super::input::printable;
use crate::domain::audit::{Action, Subject};
use crate::domain::key::KeyId;
use crate::domain::listing::{
    AuditCursor, AuditQuery, Cursor, ListQuery, DEFAULT_LIMIT, MAX_LIMIT, MAX_SEARCH_CHARS,
};
use crate::domain::record::Status;
use crate::store::IdentityCursor;

/// `GET admin/api/keys?status=&q=&owner=&unused_days=&cursor=&limit=`, from the raw
/// (percent-encoded) query string. Empty parameters count as absent, so a form can send
/// every field.
pub fn list_query(query: Option<&str>) -> Result<ListQuery, ApiError> {
    let params = Params::parse(
        query,
        &["status", "q", "owner", "unused_days", "cursor", "limit"],
    )?;
    let bad = |message: String| Err(ApiError::BadRequest(message));
    let value = |name: &str| params.get(name);
    let mut out = ListQuery::default();

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

/// `GET admin/api/identities?q=&external_id=&cursor=&limit=`: a search in external ids
/// (ignoring case), or the one identity with this external id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityQuery {
    pub search: Option<String>,
    pub external_id: Option<String>,
    pub cursor: Option<IdentityCursor>,
    pub limit: usize,
}

pub fn identity_query(query: Option<&str>) -> Result<IdentityQuery, ApiError> {
    let params = Params::parse(query, &["q", "external_id", "cursor", "limit"])?;
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match params.get(name) {
            None => Ok(None),
            Some(t) if t.chars().count() > MAX_SEARCH_CHARS || t.chars().any(char::is_control) => {
                Err(ApiError::BadRequest(format!(
                    "`{name}` must be at most {MAX_SEARCH_CHARS} characters, without control \
                     characters."
                )))
            }
            Some(t) => Ok(Some(t.to_owned())),
        }
    };
    Ok(IdentityQuery {
        search: text("q")?,
        external_id: text("external_id")?,
        cursor: params.cursor(IdentityCursor::decode)?,
        limit: params.limit()?,
    })
}

/// `GET admin/api/audit?key_id=&actor_id=&action=&cursor=&limit=`.
pub fn audit_query(query: Option<&str>) -> Result<AuditQuery, ApiError> {
    let params = Params::parse(query, &["key_id", "actor_id", "action", "cursor", "limit"])?;
    let value = |name: &str| params.get(name);
    let mut out = AuditQuery {
        key_id: None,
        actor_id: None,
        action: None,
        cursor: None,
        limit: DEFAULT_LIMIT,
    };
    let id = |name: &str, text: &str| {
        KeyId::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`{name}` must be key_ or adm_ followed by 24 lowercase hexadecimal digits."
            ))
        })
    };
    if let Some(text) = value("key_id") {
        out.key_id = Some(Subject::parse(text).ok_or_else(|| {
            ApiError::BadRequest(
                "`key_id` must be key_, adm_ or idt_ followed by 24 lowercase hexadecimal \
                 digits."
                    .to_owned(),
            )
        })?);
    }
    if let Some(text) = value("actor_id") {
        out.actor_id = Some(id("actor_id", text)?);
    }
    if let Some(action) = value("action") {
        out.action = Some(action.parse().map_err(|_| {
            let names: Vec<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
            ApiError::BadRequest(format!("`action` must be one of {}.", names.join(", ")))
        })?);
    }
    out.cursor = params.cursor(AuditCursor::decode)?;
    out.limit = params.limit()?;
    Ok(out)
}

/// A query string whose parameters are all known and each given at most once; empty
/// values count as absent.
pub(super) struct Params(QueryMap);

impl Params {
    pub(super) fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
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

    pub(super) fn get(&self, name: &str) -> Option<&str> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key::{ApiKey, KeyId, KeyPrefix};
    use crate::domain::listing::Cursor;
    use crate::domain::record::KeyRecord;
    use chrono::Utc;

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
        list_query(Some(query)).unwrap_err().detail()
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
        assert_eq!(list_query(None).unwrap(), ListQuery::default());
        assert_eq!(
            list_query(Some("status=&q=&cursor=&limit=")).unwrap(),
            ListQuery::default()
        );
    }

    #[test]
    fn every_parameter_is_read() {
        let c = cursor();
        let q = list_query(Some(&format!(
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
        let q = list_query(Some("q=%3Cimg%20src%3Dx%3E")).unwrap();
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
        assert!(list_query(Some(&format!("q={}", "é".repeat(200)))).is_ok());
    }

    #[test]
    fn search_matches_names_anywhere_and_prefixes_from_the_start_ignoring_case() {
        let r = record("Billing API", "kg_3fa9c1d2");
        let search = |q: &str| list_query(Some(&format!("q={q}"))).unwrap();
        for q in ["billing", "API", "ling+a", "kg_3fa", "KG_3FA9C1D2"] {
            assert!(search(q).matches(&r, Utc::now()), "{q}");
        }
        for q in ["3fa9", "invoices", "kg_3fb"] {
            assert!(!search(q).matches(&r, Utc::now()), "{q}");
        }
        assert!(ListQuery::default().matches(&r, Utc::now()));
    }
}
