//! Logging: one structured line per request, JSON in Lambda (`AWS_LAMBDA_LOG_FORMAT=JSON`,
//! set by the template), text locally. The line carries the function, the key's public id
//! when known, the outcome, the source of the answer and the latency; never a key or a
//! token. The functions and the authorizer open their request's span with the same helper,
//! so every line has the same fields.

use std::future::Future;
use std::time::Instant;

use lambda_http::tracing::subscriber::filter::{LevelFilter, Targets};
use lambda_http::tracing::subscriber::fmt::{self, MakeWriter};
use lambda_http::tracing::subscriber::prelude::*;
use lambda_http::tracing::subscriber::{registry, EnvFilter};
use lambda_http::{Body, Request, Response};
use tracing::{field, Instrument, Span};

use super::error::ApiError;

/// Installs the process's logger, writing to stdout (CloudWatch, in Lambda).
pub fn init() {
    init_with_writer(std::io::stdout);
}

/// The logger, as Lambda's own default sets it up (level from `AWS_LAMBDA_LOG_LEVEL`, else
/// `RUST_LOG`, else INFO; JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`), plus one rule that no
/// level can lift: only Keygate's own code logs at TRACE.
pub fn init_with_writer<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let var = |name: &str| std::env::var(name).ok();
    let level = var("AWS_LAMBDA_LOG_LEVEL").or_else(|| var("RUST_LOG"));
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    logger(writer, level.as_deref(), json).init();
}

/// The logger for `directives` (`RUST_LOG` syntax; a plain level applies to everything).
fn logger<W>(
    writer: W,
    directives: Option<&str>,
    json: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(directives.unwrap_or_default());
    let lines = fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(writer);
    let logger = registry().with(no_trace_but_ours()).with(filter);
    if json {
        Box::new(logger.with(lines.json()))
    } else {
        Box::new(logger.with(lines))
    }
}

/// Other crates write request and response bodies at TRACE: lambda_runtime logs every raw
/// event, with its `X-API-KEY` header and its body (a revoke's key), and the HTTP and AWS
/// clients log what they send. So whatever `RUST_LOG` or `AWS_LAMBDA_LOG_LEVEL` ask for,
/// everything but Keygate's own crate stops at DEBUG: an operator who turns on TRACE to
/// debug never puts a key into CloudWatch.
fn no_trace_but_ours() -> Targets {
    Targets::new()
        .with_default(LevelFilter::DEBUG)
        .with_target("keygate", LevelFilter::TRACE)
}

/// The span of one request: `key_id`, `outcome`, `source` (and the authorizer's `route`)
/// are recorded into it as they become known.
pub fn request_span(function: &'static str) -> Span {
    tracing::info_span!(
        "request",
        function,
        route = field::Empty,
        key_id = field::Empty,
        admin_id = field::Empty,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn trace_asked_for_everything_still_stops_other_crates_at_debug() {
        let out = Captured::default();
        for json in [false, true] {
            let writer = out.clone();
            let logger = logger(move || writer.clone(), Some("trace"), json);
            tracing::subscriber::with_default(logger, || {
                // What lambda_runtime 1.5 writes for every event (layers/api_response.rs).
                tracing::trace!(
                    target: "lambda_runtime::layers::api_response",
                    body = "{\"headers\":{\"x-api-key\":\"kg_secret\"}}",
                    "raw JSON event received from Lambda"
                );
                tracing::trace!(target: "keygate::ops::verify", "our own trace line");
                tracing::debug!(target: "lambda_runtime::runtime", "their debug line");
            });
        }
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("kg_secret"), "{text}");
        assert_eq!(text.matches("our own trace line").count(), 2, "{text}");
        assert_eq!(text.matches("their debug line").count(), 2, "{text}");
    }
}
