//! The one-line guard any Lambda handler uses to require a valid key:
//!
//! ```ignore
//! let key = keygate::guard::require_api_key(&app, &request).await?;
//! ```
//!
//! It reads `X-API-KEY` (any case), verifies it, records the key's id on the request's log
//! line, and returns the key's id and name, or the [`ApiError`] to answer with.

use chrono::Utc;
use lambda_http::Request;

use crate::app::App;
use crate::error::ApiError;
use crate::http::single_header;
use crate::verify::{verify, Denial, KeyInfo, Source};

pub const API_KEY_HEADER: &str = "x-api-key";

pub async fn require_api_key(app: &App, req: &Request) -> Result<KeyInfo, ApiError> {
    let presented = match single_header(req, API_KEY_HEADER)? {
        None => None,
        // A header that is not visible ASCII cannot be a key.
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::Forbidden(Denial::Invalid))?,
        ),
    };
    check_api_key(app, presented).await
}

/// The guard for callers that already hold the header's value (such as the API Gateway
/// authorizer): `None` when no key was sent.
pub async fn check_api_key(app: &App, presented: Option<&str>) -> Result<KeyInfo, ApiError> {
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
    verification.verdict.map_err(ApiError::Forbidden)
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Format => "format",
        Source::Cache => "cache",
        Source::Database => "dynamodb",
        Source::DatabaseWithoutCache => "dynamodb_cache_down",
    }
}
