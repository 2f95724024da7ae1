//! The one-line guard any Lambda handler uses to require a valid key:
//!
//! ```ignore
//! let key = keygate::edge::guard::require_api_key(&app, &request).await?;
//! ```
//!
//! It reads `X-API-KEY` (any case), verifies it, counts the request against the key's rate
//! limit and quota and in its usage (`ops/usage.rs`), records the key's id on the request's log line, and returns the key's
//! id and name, or the [`ApiError`] to answer with (429 over a limit). A handler that
//! answers 200 adds the `RateLimit-*` headers with
//! [`write_limit_headers`](super::response::write_limit_headers).
//!
//! Callers that answer in their own shape (the API Gateway authorizer) use [`judge`] and
//! match on the [`Outcome`] itself.

use std::future::Future;

use chrono::Utc;
use lambda_http::http::HeaderMap;
use lambda_http::Request;

use super::error::ApiError;
use super::request::single_header;
use crate::app::App;
use crate::domain::limit::Cost;
use crate::domain::outcome::{KeyInfo, Outcome};
use crate::ops::usage::conclude;
use crate::ops::verify::verify_with_cost;

pub const API_KEY_HEADER: &str = "x-api-key";

// The plain wrappers return the inner future rather than awaiting it: one async layer
// fewer keeps the functions' future types shallow enough for the compiler's layout limit.
pub fn require_api_key<'a>(
    app: &'a App,
    req: &'a Request,
) -> impl Future<Output = Result<KeyInfo, ApiError>> + 'a {
    require_api_key_with_scopes(app, req, &[])
}

/// The guard for a handler that needs rights: the key must carry every scope in
/// `required`, or the answer is 403 naming the first one it lacks. The scopes come with the
/// cache entry, so this costs no I/O beyond verification itself.
pub fn require_api_key_with_scopes<'a>(
    app: &'a App,
    req: &'a Request,
    required: &'a [&'a str],
) -> impl Future<Output = Result<KeyInfo, ApiError>> + 'a {
    require_api_key_with_cost(app, req, required, Cost::ONE)
}

/// The guard for a request that costs `cost` against the key's rate limit and quota (1 for
/// the other guards): a request is refused when a limit has less than that left, and then
/// takes nothing from it; cost 0 checks the key without using anything.
pub async fn require_api_key_with_cost(
    app: &App,
    req: &Request,
    required: &[&str],
    cost: Cost,
) -> Result<KeyInfo, ApiError> {
    match judge_with_cost(app, presented_api_key(req)?, required, cost).await {
        Outcome::Valid(key) => Ok(*key),
        refused => Err(ApiError::Key(refused)),
    }
}

/// The `X-API-KEY` header's value of a request. Sent twice, it is a 400 that says so: a
/// handler can tell the client what is wrong, where the authorizer can only deny.
pub fn presented_api_key(req: &Request) -> Result<Option<&str>, ApiError> {
    single_header(req, API_KEY_HEADER)?;
    presented_key(req.headers()).map_err(ApiError::Key)
}

/// The `X-API-KEY` value, `None` when absent. A header sent twice, or one that is not
/// visible ASCII, cannot be one key: `Invalid`. (API Gateway joins repeated headers with
/// commas, so a second value can only come from a hand-made event.)
pub fn presented_key(headers: &HeaderMap) -> Result<Option<&str>, Outcome> {
    let mut values = headers.get_all(API_KEY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Outcome::Invalid);
    }
    value.to_str().map(Some).map_err(|_| Outcome::Invalid)
}

/// The guard for callers that already hold the header's value: `None` when no key was
/// sent.
pub fn check_api_key<'a>(
    app: &'a App,
    presented: Option<&'a str>,
) -> impl Future<Output = Result<KeyInfo, ApiError>> + 'a {
    check_api_key_with_scopes(app, presented, &[])
}

pub async fn check_api_key_with_scopes(
    app: &App,
    presented: Option<&str>,
    required: &[&str],
) -> Result<KeyInfo, ApiError> {
    match judge(app, presented, required).await {
        Outcome::Valid(key) => Ok(*key),
        refused => Err(ApiError::Key(refused)),
    }
}

/// The outcome for a presented key that must carry `required`, with the key's id and the
/// answer's source recorded on the request's span.
pub fn judge<'a>(
    app: &'a App,
    presented: Option<&'a str>,
    required: &'a [&'a str],
) -> impl Future<Output = Outcome> + 'a {
    judge_with_cost(app, presented, required, Cost::ONE)
}

/// [`judge`] for a request of `cost`.
pub async fn judge_with_cost(
    app: &App,
    presented: Option<&str>,
    required: &[&str],
    cost: Cost,
) -> Outcome {
    let raw = presented.map(str::trim).unwrap_or_default();
    if raw.is_empty() {
        return Outcome::Missing;
    }
    let verification = verify_with_cost(&app.store, &app.cache, raw, cost, Utc::now()).await;
    let span = tracing::Span::current();
    if let Some(id) = &verification.key_id {
        span.record("key_id", id.as_str());
    }
    span.record("source", verification.source.name());
    conclude(&app.cache, verification, required).await.outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

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
        assert_eq!(presented_key(&map), Err(Outcome::Invalid));
    }
}
