//! The verify API: a backend in any language asks "is this key valid, and what may it do?"
//! with `POST /api/v1/keys/verify/`, authenticated by an admin credential of role `verify`
//! or higher. Its handler parses the body with [`VerifyRequest::from_body`], calls
//! [`verify_for_caller`] and answers 200 with the [`VerifyAnswer`]; every error goes
//! through [`ApiError`] like any other route's.
//!
//! The key is verified by the guard's own path ([`verify_with_cost`]): it counts against the
//! key's rate limit and quota exactly as a guarded request does, on the same counters.
//!
//! One round trip on a cache hit: the caller's credential and the key are verified at the
//! same time (`tokio::try_join!`), over the one multiplexed Redis connection, which sends
//! both scripts without waiting for the first answer. So the key may be counted before the
//! caller is known to be valid, and a refused caller may still have spent one unit of the
//! key (its cost). That gives nobody a power they lack: whoever holds the key can already
//! spend it through the guard (any guarded route, or test-protected). A refused caller
//! learns nothing about the key: the answer is the credential's 401 alone, sent as soon as
//! the credential is refused, whatever the key's check is still doing. A request without
//! any credential, or with a body that is not a valid request, verifies no key at all.
//! (A key check dropped that way may skip its once-a-minute `last_used_at` write; the next
//! use writes it.)

use chrono::Utc;
use lambda_http::Request;
use serde::Serialize;
use serde_json::{Map, Value};

use super::auth::{check_credential, presented_credential, require_role};
use super::error::ApiError;
use super::input::only_fields_of_request;
use crate::app::App;
use crate::domain::limit::{Cost, Limits, RateStatus};
use crate::domain::outcome::{KeyDetails, Outcome, Verification};
use crate::domain::role::Role;
use crate::domain::scope::Scopes;
use crate::domain::time::timestamp;
use crate::ops::usage::conclude;
use crate::ops::verify::verify_with_cost;

/// The fields of the body; any other is a 400, as in every Keygate request body (a
/// misspelt `scope` must not verify a key without the scope the caller meant to require).
pub const VERIFY_FIELDS: [&str; 3] = ["key", "scopes", "cost"];

/// The least role that may call the verify API.
pub const VERIFY_ROLE: Role = Role::Verify;

/// A well-formed verify request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyRequest {
    /// The presented key, as sent (a malformed one is `NOT_FOUND`, not a 400).
    pub key: String,
    /// Scopes the key must carry, each of them.
    pub scopes: Scopes,
    pub cost: Cost,
}

impl VerifyRequest {
    /// `{"key": "...", "scopes": [...], "cost": N}`: `key` a string, `scopes` a list of
    /// scope names or null, `cost` a whole number in `0..=1000` or null (1).
    pub fn from_body(body: &Map<String, Value>) -> Result<Self, ApiError> {
        only_fields_of_request(body, &VERIFY_FIELDS)?;
        let bad = |detail: &str| ApiError::BadRequest(detail.to_owned());
        let key = match body.get("key") {
            Some(Value::String(key)) => key.clone(),
            None | Some(Value::Null) => return Err(bad("`key` is required.")),
            Some(_) => return Err(bad("`key` must be a string.")),
        };
        let scopes = Scopes::from_json(body.get("scopes").unwrap_or(&Value::Null))
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let cost = match body.get("cost") {
            None | Some(Value::Null) => Cost::ONE,
            Some(value) => parse_cost(value)?,
        };
        Ok(Self { key, scopes, cost })
    }
}

/// A cost given as a JSON value or a query string's text: a whole number in `0..=1000`.
pub fn parse_cost(value: &Value) -> Result<Cost, ApiError> {
    value
        .as_u64()
        .and_then(Cost::new)
        .ok_or_else(|| ApiError::BadRequest(COST_DETAIL.to_owned()))
}

pub const COST_DETAIL: &str = "`cost` must be a whole number from 0 to 1000.";

/// The answer to a well-formed request by an allowed caller: 200, whatever the key's fate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyAnswer {
    pub valid: bool,
    pub code: &'static str,
    pub key_id: Option<String>,
    pub name: Option<String>,
    pub owner: Option<String>,
    /// The key's identity, with its shared limits and quota; null for a key without one.
    pub identity: Option<IdentityAnswer>,
    pub scopes: Option<Vec<String>>,
    pub meta: Option<Value>,
    pub expires_at: Option<String>,
    /// The key's named limits (its `rate_limit` is the one named `default`), in its order.
    /// Empty for a key without one, and for a key not found.
    pub limits: Vec<LimitAnswer>,
    /// Null for a key without a quota (and a key not found).
    pub quota: Option<QuotaAnswer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitAnswer {
    pub name: String,
    pub limit: u64,
    pub window_seconds: u64,
    /// Requests left in the window after this one; null when it was not counted (a refused
    /// key, or Redis unavailable).
    pub remaining: Option<u64>,
    /// Seconds until the current window ends, or for the limit that refused the request,
    /// until it would pass (as `RateLimit-Reset`); null when not counted.
    pub reset: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdentityAnswer {
    pub id: String,
    pub external_id: String,
    pub meta: Option<Value>,
    /// The identity's limits, shared by all its keys, as `limits` for the key's own.
    pub limits: Vec<LimitAnswer>,
    pub quota: Option<QuotaAnswer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaAnswer {
    /// Calls left after this one; null when it was not counted.
    pub remaining: Option<u64>,
}

/// Verifies the caller's credential and the key together, and answers what the key is, or
/// the caller's 401/403 (revealing nothing about the key), or 503 when neither store could
/// answer for one of them. `body` is the parsed request, or its 400: a bad body verifies
/// no key, and is answered only to a caller allowed to call (401/403 come first, as in
/// every admin route).
pub async fn verify_for_caller(
    app: &App,
    req: &Request,
    body: Result<VerifyRequest, ApiError>,
) -> Result<VerifyAnswer, ApiError> {
    let request = match body {
        Ok(request) => request,
        Err(bad_body) => {
            Box::pin(require_role(app, req, VERIFY_ROLE)).await?;
            return Err(bad_body);
        }
    };
    verify_with_credential(app, presented_credential(req)?, &request).await
}

/// [`verify_for_caller`] for a bearer credential already read from the request (the bench
/// times this).
pub async fn verify_with_credential(
    app: &App,
    credential: &str,
    request: &VerifyRequest,
) -> Result<VerifyAnswer, ApiError> {
    let required: Vec<&str> = request
        .scopes
        .as_slice()
        .iter()
        .map(String::as_str)
        .collect();
    let now = Utc::now();
    // Both at once: see the module's docs for why counting the key first is safe. A refused
    // caller is answered the moment its check fails, the key's check dropped: so not even
    // the answer's timing depends on the key (a cache miss on it would take longer). Boxed,
    // as `require_role` boxes its verification: the futures are deep.
    let key = async {
        Ok::<_, ApiError>(
            verify_with_cost(
                &app.store,
                &app.cache,
                request.key.trim(),
                request.cost,
                now,
            )
            .await,
        )
    };
    let (_, verification) = tokio::try_join!(
        Box::pin(check_credential(app, credential, VERIFY_ROLE)),
        Box::pin(key),
    )?;
    let span = tracing::Span::current();
    if let Some(id) = &verification.key_id {
        span.record("key_id", id.as_str());
    }
    span.record("source", verification.source.name());
    let verification = conclude(&app.cache, verification, &required).await;
    answer(verification, &required)
}

/// The answer for a verification and the scopes the caller requires: 503 when it could
/// not be judged, else 200 with its code.
pub fn answer(verification: Verification, required: &[&str]) -> Result<VerifyAnswer, ApiError> {
    let Verification {
        outcome,
        key_id,
        details,
        ..
    } = verification;
    let outcome = outcome.require_scopes(required);
    let code = match &outcome {
        Outcome::Valid(_) => "VALID",
        // A malformed key, a bad checksum, an unknown key, an admin credential: all alike,
        // as the guard's `Invalid API Key.` (nothing tells a made-up key from a deleted one).
        Outcome::Missing | Outcome::Invalid => {
            tracing::Span::current().record("outcome", Outcome::Invalid.name());
            return Ok(not_found());
        }
        Outcome::Revoked => "REVOKED",
        Outcome::Expired => "EXPIRED",
        Outcome::RateLimited { .. } => "RATE_LIMITED",
        Outcome::QuotaExhausted { .. } => "QUOTA_EXHAUSTED",
        Outcome::MissingScope(_) => "MISSING_SCOPE",
        Outcome::Unavailable(_) => return Err(ApiError::Key(outcome)),
    };
    tracing::Span::current().record("outcome", outcome.name());
    let (Some(id), Some(details)) = (key_id, details) else {
        // Every verification of a key that exists carries both (ops/verify.rs).
        return Ok(VerifyAnswer {
            valid: outcome.is_valid(),
            code,
            ..not_found()
        });
    };
    let KeyDetails {
        name,
        owner,
        scopes,
        meta,
        expires_at,
        limits,
        has_quota,
        rates,
        quota_remaining,
        identity,
    } = *details;
    Ok(VerifyAnswer {
        valid: outcome.is_valid(),
        code,
        key_id: Some(id.as_str().to_owned()),
        name: Some(name),
        owner,
        identity: identity.map(|i| IdentityAnswer {
            id: i.info.id.as_str().to_owned(),
            external_id: i.info.external_id.clone(),
            meta: i.info.meta.as_deref().and_then(meta_value),
            limits: limit_answers(&i.limits, &i.rates),
            quota: i.has_quota.then_some(QuotaAnswer {
                remaining: i.quota_remaining,
            }),
        }),
        scopes: Some(scopes.into_vec()),
        meta: meta.as_deref().and_then(meta_value),
        expires_at: expires_at.map(timestamp),
        limits: limit_answers(&limits, &rates),
        quota: has_quota.then_some(QuotaAnswer {
            remaining: quota_remaining,
        }),
    })
}

/// Each limit, with where it stood after this request when it was counted.
fn limit_answers(limits: &Limits, rates: &[RateStatus]) -> Vec<LimitAnswer> {
    limits
        .as_slice()
        .iter()
        .enumerate()
        .map(|(i, l)| LimitAnswer {
            name: l.name.clone(),
            limit: l.limit,
            window_seconds: l.window_seconds,
            remaining: rates.get(i).map(|r| r.remaining),
            reset: rates.get(i).map(|r| r.reset),
        })
        .collect()
}

fn not_found() -> VerifyAnswer {
    VerifyAnswer {
        valid: false,
        code: "NOT_FOUND",
        key_id: None,
        name: None,
        owner: None,
        identity: None,
        scopes: None,
        meta: None,
        expires_at: None,
        limits: Vec::new(),
        quota: None,
    }
}

fn meta_value(text: &str) -> Option<Value> {
    serde_json::from_str(text)
        .inspect_err(|err| tracing::warn!(error = %err, "ignoring a key's unreadable meta"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn detail(value: Value) -> String {
        VerifyRequest::from_body(&body(value)).unwrap_err().detail()
    }

    #[test]
    fn only_the_key_is_required_and_cost_defaults_to_one() {
        let req = VerifyRequest::from_body(&body(json!({"key": "kg_x"}))).unwrap();
        assert_eq!((req.key.as_str(), req.cost), ("kg_x", Cost::ONE));
        assert!(req.scopes.is_empty());
        let req = VerifyRequest::from_body(&body(
            json!({"key": "kg_x", "scopes": ["orders:read"], "cost": 0}),
        ))
        .unwrap();
        assert_eq!(req.cost.get(), 0);
        assert_eq!(req.scopes.as_slice(), ["orders:read"]);
    }

    #[test]
    fn a_cost_outside_zero_to_a_thousand_or_not_whole_is_refused() {
        for cost in [json!(1001), json!(-1), json!(1.5), json!("2"), json!(true)] {
            assert_eq!(detail(json!({"key": "k", "cost": cost})), COST_DETAIL);
        }
    }

    #[test]
    fn a_missing_or_non_string_key_and_bad_scopes_are_refused() {
        assert_eq!(detail(json!({})), "`key` is required.");
        assert_eq!(detail(json!({"key": 7})), "`key` must be a string.");
        assert!(detail(json!({"key": "k", "scopes": ["Bad Scope"]})).contains("scopes"));
        assert!(detail(json!({"key": "k", "scopes": "a"})).contains("list"));
        assert!(detail(json!({"key": "k", "scope": ["a"]})).contains("did you mean `scopes`"));
    }
}
