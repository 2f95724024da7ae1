//! The usage API's edge: `GET admin/api/usage?key_id=|identity_id=|owner=&from=&to=
//! &granularity=hour|day&format=json|csv` into a query, and a report into JSON or CSV; and
//! `GET admin/api/usage/top?by=volume|refusals&days=&limit=`, the keys ranked highest.

use chrono::{DateTime, SecondsFormat, Utc};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::input::MAX_OWNER_CHARS;
use super::query::Params;
use super::response::json_response;
use crate::domain::identity::IdentityId;
use crate::domain::key::KeyId;
use crate::domain::time::parse_rfc3339;
use crate::domain::usage::{Counts, Granularity, Subject, Tally, UsageRange};
use crate::ops::usage::{TopBy, TopKey, UsageReport};

/// A usage request: whose, over which buckets, and in which format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    pub subject: Subject,
    pub range: UsageRange,
    pub csv: bool,
}

/// The outcomes a usage answer reports, in its columns' order.
const COLUMNS: [(&str, Option<Tally>); 6] = [
    ("valid", None),
    ("rate_limited", Some(Tally::RateLimited)),
    ("quota_exhausted", Some(Tally::QuotaExhausted)),
    ("missing_scope", Some(Tally::MissingScope)),
    ("revoked", Some(Tally::Revoked)),
    ("expired", Some(Tally::Expired)),
];

pub fn usage_query(query: Option<&str>, now: DateTime<Utc>) -> Result<UsageQuery, ApiError> {
    let params = Params::parse(
        query,
        &[
            "key_id",
            "identity_id",
            "owner",
            "from",
            "to",
            "granularity",
            "format",
        ],
    )?;
    let whose: Vec<_> = ["key_id", "identity_id", "owner"]
        .into_iter()
        .filter_map(|name| params.get(name).map(|v| (name, v)))
        .collect();
    let subject = match whose.as_slice() {
        [] => Subject::Total,
        [("key_id", text)] => Subject::Key(
            KeyId::parse(text)
                .filter(|id| !id.is_admin())
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "`key_id` must be key_ followed by 24 lowercase hexadecimal digits."
                            .to_owned(),
                    )
                })?,
        ),
        [("identity_id", text)] => Subject::Identity(IdentityId::parse(text).ok_or_else(|| {
            ApiError::BadRequest(
                "`identity_id` must be idt_ followed by 24 lowercase hexadecimal digits."
                    .to_owned(),
            )
        })?),
        [("owner", text)] => {
            if text.chars().count() > MAX_OWNER_CHARS {
                return Err(ApiError::BadRequest(format!(
                    "`owner` must be at most {MAX_OWNER_CHARS} characters."
                )));
            }
            Subject::Owner((*text).to_owned())
        }
        _ => {
            return Err(ApiError::BadRequest(
                "Give at most one of `key_id`, `identity_id` and `owner` (none: the whole \
                 deployment)."
                    .to_owned(),
            ))
        }
    };
    let granularity = match params.get("granularity") {
        None => Granularity::Hour,
        Some(text) => Granularity::parse(text).ok_or_else(|| {
            ApiError::BadRequest("`granularity` must be `hour` or `day`.".to_owned())
        })?,
    };
    let time = |name: &str| {
        params
            .get(name)
            .map(|text| {
                parse_rfc3339(text).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "`{name}` must be an RFC 3339 time, such as 2026-12-01T10:00:00Z."
                    ))
                })
            })
            .transpose()
    };
    let (from, to) = (time("from")?, time("to")?);
    let range = UsageRange::new(granularity, from, to, now)?;
    let csv = match params.get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "`format` must be `json` or `csv`.".to_owned(),
            ))
        }
    };
    Ok(UsageQuery {
        subject,
        range,
        csv,
    })
}

/// A ranking request: `GET admin/api/usage/top?by=volume|refusals&days=&limit=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopQuery {
    pub by: TopBy,
    /// UTC days, today included: 1 to 30, default 1.
    pub days: u32,
    /// 1 to 50, default 10.
    pub limit: usize,
}

pub fn top_query(query: Option<&str>) -> Result<TopQuery, ApiError> {
    let params = Params::parse(query, &["by", "days", "limit"])?;
    let by = match params.get("by") {
        None | Some("volume") => TopBy::Volume,
        Some("refusals") => TopBy::Refusals,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "`by` must be `volume` or `refusals`.".to_owned(),
            ))
        }
    };
    let number = |name: &str, default: u32, max: u32| match params.get(name) {
        None => Ok(default),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::BadRequest(format!(
                "`{name}` must be a whole number from 1 to {max}."
            ))),
        },
    };
    Ok(TopQuery {
        by,
        days: number("days", 1, 30)?,
        limit: number("limit", 10, 50)? as usize,
    })
}

pub fn top_response(query: &TopQuery, top: &[TopKey], now: DateTime<Utc>) -> Response<Body> {
    let from = Granularity::Day.floor(now) - chrono::Duration::days(i64::from(query.days) - 1);
    let keys: Vec<Value> = top
        .iter()
        .map(|k| json!({ "key_id": k.key_id.as_str(), "count": k.count }))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "by": match query.by { TopBy::Volume => "volume", TopBy::Refusals => "refusals" },
            "days": query.days,
            "from": time(from),
            "keys": keys,
        }),
    )
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn counts_json(counts: &Counts) -> Map<String, Value> {
    COLUMNS
        .iter()
        .map(|(name, tally)| {
            let n = tally.map_or(counts.valid(), |t| counts.get(t));
            ((*name).to_owned(), json!(n))
        })
        .collect()
}

/// The answer: JSON, or CSV with a header row (`start`, then one column per outcome).
pub fn usage_response(query: &UsageQuery, report: &UsageReport) -> Response<Body> {
    if query.csv {
        return csv_response(query, report);
    }
    let buckets: Vec<Value> = report
        .buckets
        .iter()
        .map(|(start, counts)| {
            let mut bucket = Map::new();
            bucket.insert("start".to_owned(), json!(time(*start)));
            bucket.extend(counts_json(counts));
            Value::Object(bucket)
        })
        .collect();
    let mut body = json!({
        "granularity": report.range.granularity.name(),
        "from": time(report.range.from),
        "to": time(report.range.to),
        "buckets": buckets,
        "totals": counts_json(&report.totals),
    });
    let (name, value) = subject_field(&query.subject);
    if let Some(value) = value {
        body[name] = json!(value);
    }
    json_response(StatusCode::OK, &body)
}

fn subject_field(subject: &Subject) -> (&'static str, Option<String>) {
    match subject {
        Subject::Key(id) => ("key_id", Some(id.as_str().to_owned())),
        Subject::Identity(id) => ("identity_id", Some(id.as_str().to_owned())),
        Subject::Owner(owner) => ("owner", Some(owner.clone())),
        Subject::Total => ("", None),
    }
}

fn csv_response(query: &UsageQuery, report: &UsageReport) -> Response<Body> {
    let mut text = String::from("start");
    for (name, _) in COLUMNS {
        text.push(',');
        text.push_str(name);
    }
    text.push_str("\r\n");
    for (start, counts) in &report.buckets {
        text.push_str(&time(*start));
        for (_, tally) in COLUMNS {
            text.push(',');
            text.push_str(&tally.map_or(counts.valid(), |t| counts.get(t)).to_string());
        }
        text.push_str("\r\n");
    }
    let file = match &query.subject {
        Subject::Key(id) => format!("usage-{id}"),
        Subject::Identity(id) => format!("usage-{}", id.as_str()),
        // An owner is free text: not in a file name.
        Subject::Owner(_) => "usage-owner".to_owned(),
        Subject::Total => "usage".to_owned(),
    };
    let mut response = Response::new(Body::Text(text));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let disposition = format!(
        "attachment; filename=\"{file}-{}.csv\"",
        report.range.granularity.name()
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-01T10:20:00Z".parse().unwrap()
    }

    fn detail(query: &str) -> String {
        match usage_query(Some(query), now()) {
            Err(ApiError::BadRequest(detail)) => detail,
            other => panic!("expected a 400 for {query:?}, got {other:?}"),
        }
    }

    #[test]
    fn no_subject_is_the_whole_deployment_by_hour_over_the_last_day() {
        let q = usage_query(None, now()).unwrap();
        assert_eq!(q.subject, Subject::Total);
        assert_eq!(q.range.granularity, Granularity::Hour);
        assert_eq!(q.range.starts().len(), 24);
        assert!(!q.csv);
    }

    #[test]
    fn two_subjects_are_refused() {
        let d = detail("owner=a&identity_id=idt_000000000000000000000000");
        assert!(d.contains("at most one"), "{d}");
    }

    #[test]
    fn each_bad_parameter_is_named() {
        assert!(detail("key_id=nope").contains("`key_id`"));
        assert!(detail("key_id=adm_000000000000000000000000").contains("`key_id`"));
        assert!(detail("identity_id=x").contains("`identity_id`"));
        assert!(detail("granularity=week").contains("`granularity`"));
        assert!(detail("from=yesterday").contains("`from`"));
        assert!(detail("format=xml").contains("`format`"));
        assert!(detail("from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z").contains("`from`"));
        assert!(detail("colour=red").contains("`colour`"));
    }

    #[test]
    fn a_ranking_defaults_to_volume_today_ten_keys() {
        let q = top_query(None).unwrap();
        assert_eq!((q.by, q.days, q.limit), (TopBy::Volume, 1, 10));
        let q = top_query(Some("by=refusals&days=30&limit=50")).unwrap();
        assert_eq!((q.by, q.days, q.limit), (TopBy::Refusals, 30, 50));
        for bad in ["by=speed", "days=0", "days=31", "limit=51", "limit=x"] {
            assert!(
                matches!(top_query(Some(bad)), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn csv_has_a_header_row_and_a_row_per_bucket() {
        let q = usage_query(
            Some("format=csv&granularity=day&from=2026-11-30T00:00:00Z"),
            now(),
        )
        .unwrap();
        let mut counts = Counts::default();
        counts.add(Tally::Presented, 5);
        counts.add(Tally::Revoked, 1);
        let report = UsageReport {
            range: q.range,
            buckets: q.range.starts().into_iter().map(|s| (s, counts)).collect(),
            totals: counts,
        };
        let response = usage_response(&q, &report);
        let Body::Text(text) = response.body() else {
            panic!("a text body")
        };
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "start,valid,rate_limited,quota_exhausted,missing_scope,revoked,expired"
        );
        assert_eq!(lines[1], "2026-11-30T00:00:00Z,4,0,0,0,1,0");
        assert_eq!(lines.len(), 3);
    }
}
