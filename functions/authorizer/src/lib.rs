//! The Keygate authorizer: an API Gateway HTTP API Lambda authorizer (REQUEST type, payload
//! format 2.0, simple responses) that puts any route behind Keygate keys without Rust.
//!
//! It reads `X-API-KEY`, verifies it with the same guard as the functions, and answers
//! `{"isAuthorized": true, "context": {"key_id": .., "name": ..}}`, which API Gateway hands
//! to the backend as `requestContext.authorizer.lambda`. Every other outcome is
//! `{"isAuthorized": false}` and API Gateway answers 403 itself: a simple response has no
//! way to ask for a 429, so a key over its rate limit or quota is denied like any other
//! (the log line's `outcome` says which).

use std::collections::HashMap;
use std::time::Instant;

use keygate::config::ConfigError;
use keygate::domain::outcome::{KeyInfo, Outcome};
use keygate::domain::scope::Scopes;
use keygate::edge::guard::{judge, presented_key};
use keygate::edge::metrics::REQUEST_TARGET;
use keygate::edge::telemetry::{latency_us, request_span};
use keygate::App;
use serde::Serialize;
use tracing::Instrument;

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
    /// The key's identity, when it has one: its id and external id (API Gateway's
    /// context holds strings only, so not its `meta`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl Response {
    pub fn allow(key: KeyInfo) -> Self {
        Self {
            is_authorized: true,
            context: Some(Caller {
                key_id: key.id.as_str().to_owned(),
                name: key.name,
                identity_id: key.identity.as_ref().map(|i| i.id.as_str().to_owned()),
                external_id: key.identity.map(|i| i.external_id),
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
    authorize_with(app, &RouteScopes::default(), event).await
}

/// The scopes each route requires, from `ROUTE_SCOPES`: a JSON object from API Gateway
/// route keys to lists of scopes, such as `{"GET /orders": ["orders:read"]}`. Routes it
/// does not name require none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteScopes(HashMap<String, Vec<String>>);

impl RouteScopes {
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var("ROUTE_SCOPES") {
            Ok(text) if !text.trim().is_empty() => Self::parse(&text),
            _ => Ok(Self::default()),
        }
    }

    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            name: "ROUTE_SCOPES",
            reason,
        };
        let routes: HashMap<String, Vec<String>> = serde_json::from_str(text).map_err(|e| {
            invalid(format!(
                "expected a JSON object of route keys to lists of scopes ({e})"
            ))
        })?;
        for (route, scopes) in &routes {
            Scopes::parse_list(scopes).map_err(|e| invalid(format!("route {route:?}: {e}")))?;
        }
        Ok(Self(routes))
    }

    pub fn for_route(&self, route_key: &str) -> Vec<&str> {
        self.0
            .get(route_key)
            .map(|scopes| scopes.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// Like [`authorize`], requiring the scopes `routes` names for the event's route.
pub async fn authorize_with(app: &App, routes: &RouteScopes, event: &Request) -> Response {
    let route = event.route_key.as_deref().unwrap_or_default();
    let span = request_span("authorizer");
    span.record("route", route);
    let started = Instant::now();
    let required = routes.for_route(route);
    let outcome = async {
        match presented_key(&event.headers) {
            Ok(presented) => judge(app, presented, &required).await,
            Err(refused) => refused,
        }
    }
    .instrument(span.clone())
    .await;
    let latency_us = latency_us(started);
    span.in_scope(|| {
        span.record("outcome", outcome.name());
        let response = match outcome {
            Outcome::Valid(key) => Response::allow(*key),
            Outcome::Unavailable(why) => {
                // Fail closed: a key that cannot be checked is not let through. The caller
                // sees a 403 like any refusal; this line is how operators tell an outage
                // from bad keys.
                tracing::error!(reason = ?why, "key could not be checked; denying");
                Response::deny()
            }
            _ => Response::deny(),
        };
        tracing::info!(
            target: REQUEST_TARGET,
            authorized = response.is_authorized,
            latency_us,
            "request"
        );
        response
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate::domain::key::KeyId;
    use serde_json::json;

    #[test]
    fn route_scopes_are_read_and_validated() {
        let routes = RouteScopes::parse(r#"{"GET /orders": ["orders:read"]}"#).unwrap();
        assert_eq!(routes.for_route("GET /orders"), ["orders:read"]);
        assert!(routes.for_route("GET /other").is_empty());
        for bad in [
            r#"["x"]"#,
            r#"{"GET /a": ["Bad Scope"]}"#,
            r#"{"GET /a": "x"}"#,
        ] {
            let err = RouteScopes::parse(bad).unwrap_err();
            assert!(err.to_string().starts_with("ROUTE_SCOPES"), "{err}");
        }
    }

    #[test]
    fn an_allow_carries_the_id_and_name_in_context() {
        let id = KeyId::generate().unwrap();
        let allow = Response::allow(KeyInfo {
            id: id.clone(),
            name: "orders".into(),
            owner: None,
            identity: None,
            scopes: Default::default(),
            role: None,
            rate: None,
            quota_remaining: None,
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
