//! Logging: one structured line per request, JSON in Lambda (`AWS_LAMBDA_LOG_FORMAT=JSON`,
//! set by the template), text locally. The line carries the function, the key's public id
//! when known, the outcome, the source of the answer and the latency; never a key or a
//! token. The functions and the authorizer open their request's span with the same helper,
//! so every line has the same fields.

use std::future::Future;
use std::time::Instant;

use lambda_http::{Body, Request, Response};
use tracing::{field, Instrument, Span};

use super::error::ApiError;

pub fn init() {
    lambda_http::tracing::init_default_subscriber();
}

/// The span of one request: `key_id`, `outcome`, `source` (and the authorizer's `route`)
/// are recorded into it as they become known.
pub fn request_span(function: &'static str) -> Span {
    tracing::info_span!(
        "request",
        function,
        route = field::Empty,
        key_id = field::Empty,
        outcome = field::Empty,
        source = field::Empty,
    )
}

/// Microseconds since `started`, for the request's log line.
pub fn latency_us(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Runs `handler` inside the request's span and writes the request's log line.
pub async fn serve<F, Fut>(
    function: &'static str,
    req: Request,
    handler: F,
) -> Result<Response<Body>, lambda_http::Error>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let span = request_span(function);
    let started = Instant::now();
    let response = async move {
        match handler(req).await {
            Ok(response) => response,
            Err(err) => err.into_response(),
        }
    }
    .instrument(span.clone())
    .await;
    let latency_us = latency_us(started);
    span.in_scope(|| {
        tracing::info!(status = response.status().as_u16(), latency_us, "request");
    });
    Ok(response)
}

/// Names the outcome of a successful request on its log line.
pub fn outcome(name: &'static str) {
    tracing::Span::current().record("outcome", name);
}
