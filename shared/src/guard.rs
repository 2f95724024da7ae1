//! The one-line guard any Lambda handler uses to require a valid key:
//!
//! ```ignore
//! let key = keygate::guard::require_api_key(&app, &request).await?;
//! ```
//!
//! It reads `X-API-KEY` (any case), verifies it, counts the request against the key's rate
//! limit and quota, records the key's id on the request's log line, and returns the key's
//! id and name, or the [`ApiError`] to answer with (429 over a limit). A handler that
//! answers 200 adds the `RateLimit-*` headers with [`KeyInfo::write_limit_headers`].

use std::future::Future;

use chrono::Utc;
use lambda_http::Request;

use crate::app::App;
use crate::error::ApiError;
use crate::http::single_header;
use crate::limit::Refusal;
use crate::verify::{verify, Denial, KeyInfo, Source};

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
pub async fn require_api_key_with_scopes(
    app: &App,
    req: &Request,
    required: &[&str],
) -> Result<KeyInfo, ApiError> {
    check_api_key_with_scopes(app, presented_api_key(req)?, required).await
}

/// The `X-API-KEY` header's value: `None` when absent; refused when sent twice or when it
/// is not visible ASCII (it then cannot be a key).
pub fn presented_api_key(req: &Request) -> Result<Option<&str>, ApiError> {
    match single_header(req, API_KEY_HEADER)? {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::Forbidden(Denial::Invalid)),
    }
}

/// The guard for callers that already hold the header's value (such as the API Gateway
/// authorizer): `None` when no key was sent.
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
    let raw = presented.map(str::trim).unwrap_or_default();
    if raw.is_empty() {
        return Err(ApiError::Forbidden(Denial::Missing));
    }
    let verification = verify(&app.store, &app.cache, raw, Utc::now()).await?;
    let span = tracing::Span::current();
    if let Some(id) = &verification.key_id {
        span.record("key_id", id.as_str());
    }
    span.record("source", source_name(verification.source));
    let key = verification.verdict.map_err(ApiError::Forbidden)?;
    let rate = key.usage.rate;
    match key.usage.refusal {
        None => {}
        Some(Refusal::RateLimited { retry_after }) => {
            return Err(ApiError::RateLimited { retry_after, rate })
        }
        Some(Refusal::QuotaExhausted { retry_after }) => {
            return Err(ApiError::QuotaExhausted { retry_after, rate })
        }
        Some(Refusal::CacheDown) => {
            return Err(ApiError::Unavailable(
                "This key's rate limit cannot be checked while the cache is unavailable; \
                 retry in a few seconds."
                    .to_owned(),
            ))
        }
    }
    match key.scopes.first_missing(required) {
        Some(scope) => Err(ApiError::MissingScope(scope.to_owned())),
        None => Ok(key),
    }
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Format => "format",
        Source::Cache => "cache",
        Source::Database => "dynamodb",
        Source::DatabaseWithoutCache => "dynamodb_cache_down",
    }
}
