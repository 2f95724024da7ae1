//! Logging: one structured line per request, JSON in Lambda (`AWS_LAMBDA_LOG_FORMAT=JSON`,
//! set by the template), text locally. The line carries the function, the key's public id
//! when known, the outcome, the status and the latency; never a key or a token.

use std::future::Future;
use std::time::Instant;

use lambda_http::{Body, Request, Response};
use tracing::{field, Instrument};

use crate::error::ApiError;

pub fn init() {
    lambda_http::tracing::init_default_subscriber();
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
    let span = tracing::info_span!(
        "request",
        function,
        key_id = field::Empty,
        outcome = field::Empty,
        source = field::Empty,
    );
    let started = Instant::now();
    let response = async move {
        match handler(req).await {
            Ok(response) => response,
            Err(err) => err.into_response(),
        }
    }
    .instrument(span.clone())
    .await;
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| {
        tracing::info!(status = response.status().as_u16(), latency_us, "request");
    });
    Ok(response)
}

/// Names the outcome of a successful request on its log line.
pub fn outcome(name: &'static str) {
    tracing::Span::current().record("outcome", name);
}
