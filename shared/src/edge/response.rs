//! Writing responses: JSON bodies and the `RateLimit-*` headers.

use lambda_http::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::domain::limit::RateStatus;
use crate::domain::outcome::KeyInfo;

/// The answer to a revoke, kept from the system Keygate replaces.
pub const REVOKED: &str = "API Key revoked successfully.";

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).expect("response bodies always serialize");
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`.
pub fn write_rate_headers(rate: &RateStatus, headers: &mut HeaderMap) {
    for (name, value) in [
        ("ratelimit-limit", rate.limit),
        ("ratelimit-remaining", rate.remaining),
        ("ratelimit-reset", rate.reset),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}

/// The `RateLimit-*` headers for a response to this key, when it has a rate limit: a
/// handler that answers 200 adds them.
pub fn write_limit_headers(key: &KeyInfo, headers: &mut HeaderMap) {
    if let Some(rate) = &key.rate {
        write_rate_headers(rate, headers);
    }
}
