//! The Keygate authorizer: an API Gateway HTTP API Lambda authorizer (REQUEST type, payload
//! format 2.0, simple responses) that puts any route behind Keygate keys without Rust.
//!
//! It reads `X-API-KEY`, verifies it with the same guard as the functions, and answers
//! `{"isAuthorized": true, "context": {"key_id": .., "name": ..}}`, which API Gateway hands
//! to the backend as `requestContext.authorizer.lambda`. Every other outcome is
//! `{"isAuthorized": false}` and API Gateway answers 403 itself.

use std::time::Instant;

use keygate::guard::{check_api_key, API_KEY_HEADER};
use keygate::verify::Denial;
use keygate::{ApiError, App, KeyInfo};
use lambda_http::http::HeaderMap;
use serde::Serialize;
use tracing::{field, Instrument};

/// The event API Gateway sends (payload format 2.0).
pub use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request as Request;

/// A simple response. Our own type rather than the events crate's, so a denial carries no
/// `context` at all instead of `"context": null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub is_authorized: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Caller>,
}

/// Who the backend is talking to: the key's public id and name, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub key_id: String,
    pub name: String,
}

impl Response {
    pub fn allow(key: KeyInfo) -> Self {
        Self {
            is_authorized: true,
            context: Some(Caller {
                key_id: key.id.as_str().to_owned(),
                name: key.name,
            }),
        }
    }

    pub fn deny() -> Self {
        Self {
            is_authorized: false,
            context: None,
        }
    }
}

/// Decides one request and writes its log line, in the same shape as the functions' lines
/// (`function`, `key_id`, `outcome`, `source`, latency), with `authorized` in place of an
/// HTTP status.
pub async fn authorize(app: &App, event: &Request) -> Response {
    let span = tracing::info_span!(
        "request",
        function = "authorizer",
        route = event.route_key.as_deref().unwrap_or_default(),
        key_id = field::Empty,
        outcome = field::Empty,
        source = field::Empty,
    );
    let started = Instant::now();
    let verdict = check(app, &event.headers).instrument(span.clone()).await;
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| {
        let response = match verdict {
            Ok(key) => {
                span.record("outcome", "valid");
                Response::allow(key)
            }
            Err(err) => {
                span.record("outcome", err.outcome());
                if !matches!(err, ApiError::Forbidden(_)) {
                    // Fail closed: a key that cannot be checked is not let through. The
                    // caller sees a 403 like any refusal; this line is how operators tell
                    // an outage from bad keys.
                    tracing::error!(error = %err, "key could not be checked; denying");
                }
                Response::deny()
            }
        };
        tracing::info!(authorized = response.is_authorized, latency_us, "request");
        response
    })
}

async fn check(app: &App, headers: &HeaderMap) -> Result<KeyInfo, ApiError> {
    let presented = presented_key(headers).map_err(ApiError::Forbidden)?;
    check_api_key(app, presented).await
}

/// The `X-API-KEY` value, `None` when absent. API Gateway lower-cases header names and
/// joins repeated headers with commas, so a second value can only come from a hand-made
/// event; it is refused like any other value that cannot be one key.
fn presented_key(headers: &HeaderMap) -> Result<Option<&str>, Denial> {
    let mut values = headers.get_all(API_KEY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Denial::Invalid);
    }
    std::str::from_utf8(value.as_bytes())
        .map(Some)
        .map_err(|_| Denial::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate::key::KeyId;
    use lambda_http::http::HeaderValue;
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_key_is_read_from_x_api_key() {
        let map = headers(&[("x-api-key", "kg_abc"), ("other", "x")]);
        assert_eq!(presented_key(&map), Ok(Some("kg_abc")));
    }

    #[test]
    fn an_absent_header_is_no_key() {
        assert_eq!(presented_key(&headers(&[("other", "x")])), Ok(None));
    }

    #[test]
    fn two_values_are_refused_as_invalid() {
        let map = headers(&[("x-api-key", "kg_a"), ("x-api-key", "kg_b")]);
        assert_eq!(presented_key(&map), Err(Denial::Invalid));
    }

    #[test]
    fn an_allow_carries_the_id_and_name_in_context() {
        let id = KeyId::generate().unwrap();
        let allow = Response::allow(KeyInfo {
            id: id.clone(),
            name: "orders".into(),
            owner: None,
            scopes: Default::default(),
        });
        assert_eq!(
            serde_json::to_value(allow).unwrap(),
            json!({"isAuthorized": true, "context": {"key_id": id.as_str(), "name": "orders"}})
        );
    }

    #[test]
    fn a_deny_carries_no_context() {
        assert_eq!(
            serde_json::to_value(Response::deny()).unwrap(),
            json!({"isAuthorized": false})
        );
    }
}
