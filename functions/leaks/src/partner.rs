//! GitHub's secret scanning partner format. A report is a JSON array of matches,
//! `[{"token", "type", "url", "source"}]`; the answer labels each one,
//! `[{"token_raw", "token_type", "label"}]`, in the same order.
//!
//! Members beyond these four are ignored rather than refused (unlike Keygate's own request
//! bodies): the format is GitHub's, and a new member must not break the integration.

use keygate::domain::audit::LeakReport;
use keygate::ApiError;
use serde::Serialize;
use serde_json::Value;

/// The largest report read: 1 MiB, about a thousand matches with long URLs.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most matches one report may hold.
pub const MAX_MATCHES: usize = 1000;
/// Longer URLs and sources are cut to these many characters in the audit log.
const MAX_URL_CHARS: usize = 2048;
const MAX_SOURCE_CHARS: usize = 64;

/// One reported match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub token: String,
    pub token_type: String,
    pub report: LeakReport,
}

/// The answer for one match.
#[derive(Debug, Serialize)]
pub struct Label<'a> {
    /// The reported token, echoed as the format requires (never logged).
    pub token_raw: &'a str,
    pub token_type: &'a str,
    pub label: &'static str,
}

/// 413 before anything else is read.
pub fn check_size(body: &[u8]) -> Result<(), ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::TooLarge(format!(
            "Request body is too large; the limit is {} KiB.",
            MAX_BODY_BYTES / 1024
        )));
    }
    Ok(())
}

/// Reads the matches of a report; every problem is a 400 (413 for too many) that names the
/// match and member, never the token.
pub fn parse(body: &[u8]) -> Result<Vec<Match>, ApiError> {
    let bad = |detail: String| ApiError::BadRequest(detail);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(
            "Request body is empty; send a JSON array of matches.".to_owned()
        ));
    }
    // serde_json's messages give a position, never the input itself.
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("Request body is not valid JSON: {e}.")))?;
    let Value::Array(items) = value else {
        return Err(bad(
            "Request body must be a JSON array of matches, each {\"token\", \"type\", \"url\", \"source\"}."
                .to_owned(),
        ));
    };
    if items.len() > MAX_MATCHES {
        return Err(ApiError::TooLarge(format!(
            "Too many matches: at most {MAX_MATCHES} per request; send the rest in another."
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::Object(item) = item else {
                return Err(bad(format!("`[{i}]` must be a JSON object.")));
            };
            let text = |name: &str| match item.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err(bad(format!("`[{i}].{name}` must be a string."))),
            };
            let optional = |name: &str, max: usize| match item.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.chars().take(max).collect())),
                Some(_) => Err(bad(format!("`[{i}].{name}` must be a string or null."))),
            };
            Ok(Match {
                token: text("token")?,
                token_type: text("type")?,
                report: LeakReport {
                    url: optional("url", MAX_URL_CHARS)?,
                    source: optional("source", MAX_SOURCE_CHARS)?,
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(body: &str) -> (u16, String) {
        let err = parse(body.as_bytes()).unwrap_err();
        (err.status().as_u16(), err.detail())
    }

    #[test]
    fn githubs_sample_reads_as_one_match() {
        let body = br#"[{"source":"commit","token":"some_token","type":"some_type","url":"https://example.com/base-repo-url/"}]"#;
        assert_eq!(
            parse(body).unwrap(),
            [Match {
                token: "some_token".into(),
                token_type: "some_type".into(),
                report: LeakReport {
                    url: Some("https://example.com/base-repo-url/".into()),
                    source: Some("commit".into()),
                },
            }]
        );
    }

    #[test]
    fn url_and_source_may_be_missing_empty_or_null_and_unknown_members_are_ignored() {
        let body = br#"[{"token":"t","type":"x","url":"","source":null,"new":1}]"#;
        assert_eq!(parse(body).unwrap()[0].report, LeakReport::default());
        assert!(parse(b" [] ").unwrap().is_empty());
    }

    #[test]
    fn each_bad_report_is_a_4xx_that_names_the_problem_and_never_the_token() {
        let secret = "kg_secret";
        for (body, status, needle) in [
            ("", 400, "empty"),
            ("[{", 400, "not valid JSON"),
            (r#"{"token":"kg_secret"}"#, 400, "JSON array"),
            (r#"["kg_secret"]"#, 400, "`[0]` must be a JSON object"),
            (r#"[{"type":"x"}]"#, 400, "`[0].token` must be a string"),
            (
                r#"[{"token":"kg_secret"}]"#,
                400,
                "`[0].type` must be a string",
            ),
            (r#"[{"token":"kg_secret","type":1}]"#, 400, "`[0].type`"),
            (
                r#"[{"token":"kg_secret","type":"x","url":5}]"#,
                400,
                "`[0].url` must be a string or null",
            ),
            (r#"[{"token":7,"type":"x"}]"#, 400, "`[0].token`"),
        ] {
            let (got, detail) = detail(body);
            assert_eq!(got, status, "{body}: {detail}");
            assert!(detail.contains(needle), "{body}: {detail}");
            assert!(!detail.contains(secret), "{body}: {detail}");
        }
        let many = format!(
            "[{}]",
            vec![r#"{"token":"t","type":"x"}"#; MAX_MATCHES + 1].join(",")
        );
        let (status, detail) = detail(&many);
        assert_eq!(status, 413, "{detail}");
        assert!(detail.contains("at most 1000"), "{detail}");
        let exactly = format!(
            "[{}]",
            vec![r#"{"token":"t","type":"x"}"#; MAX_MATCHES].join(",")
        );
        assert_eq!(parse(exactly.as_bytes()).unwrap().len(), MAX_MATCHES);
    }

    #[test]
    fn long_urls_and_sources_are_cut() {
        let body = serde_json::json!([{"token": "t", "type": "x", "url": "u".repeat(5000), "source": "s".repeat(100)}]);
        let report = &parse(body.to_string().as_bytes()).unwrap()[0].report;
        assert_eq!(report.url.as_ref().unwrap().len(), MAX_URL_CHARS);
        assert_eq!(report.source.as_ref().unwrap().len(), MAX_SOURCE_CHARS);
    }

    #[test]
    fn the_size_limit_is_1_mib() {
        assert!(check_size(&vec![b' '; MAX_BODY_BYTES]).is_ok());
        let err = check_size(&vec![b' '; MAX_BODY_BYTES + 1]).unwrap_err();
        assert_eq!(err.status().as_u16(), 413);
        assert!(err.detail().contains("1024 KiB"), "{}", err.detail());
    }
}
