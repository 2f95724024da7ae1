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
use super::metrics::{EmfLines, REQUEST_TARGET};
use super::span_json::SpanJson;

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
    let format = json.then(|| EmfLines::new(var("KEYGATE_DEPLOYMENT")));
    logger(writer, level.as_deref(), format).init();
}

/// The logger for `directives` (`RUST_LOG` syntax; a plain level applies to everything):
/// JSON lines when given their format, else text.
fn logger<W>(
    writer: W,
    directives: Option<&str>,
    json: Option<EmfLines>,
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
    match json {
        // The request's line in the Embedded Metric Format (`metrics.rs`): CloudWatch
        // metrics from the line the request writes anyway.
        Some(format) => {
            Box::new(logger.with(lines.json().fmt_fields(SpanJson).event_format(format)))
        }
        None => Box::new(logger.with(lines)),
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
        tracing::info!(target: REQUEST_TARGET, status = response.status().as_u16(), latency_us, "request");
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
            let logger = logger(
                move || writer.clone(),
                Some("trace"),
                json.then(|| EmfLines::new(None)),
            );
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

    /// Every line the JSON logger writes while `run` runs, parsed.
    async fn json_lines<F: Future<Output = ()>>(run: F) -> Vec<serde_json::Value> {
        let out = Captured::default();
        let writer = out.clone();
        let logger = logger(
            move || writer.clone(),
            None,
            Some(EmfLines::new(Some("prod-eu".into()))),
        );
        {
            let _default = tracing::subscriber::set_default(logger);
            run.await;
        }
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    fn request() -> Request {
        lambda_http::http::Request::builder()
            .uri("https://keygate.test/")
            .body(Body::Empty)
            .unwrap()
    }

    #[tokio::test]
    async fn the_request_line_is_cloudwatch_embedded_metric_format() {
        let lines = json_lines(async {
            let ok = serve("test-protected", request(), |_| async {
                let span = Span::current();
                span.record("key_id", "key_0123456789abcdef01234567");
                span.record("source", "dynamodb_cache_down");
                outcome("valid");
                Ok(Response::new(Body::Empty))
            });
            let failed = serve("issue", request(), |_| async {
                Err(ApiError::Unavailable("DynamoDB is unreachable".into()))
            });
            ok.await.unwrap();
            failed.await.unwrap();
        })
        .await;
        let emf: Vec<_> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
        assert_eq!(emf.len(), 2, "{lines:?}");

        let (ok, failed) = (emf[0], emf[1]);
        let declared = &ok["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "Keygate");
        assert_eq!(
            declared["Dimensions"],
            serde_json::json!([
                ["deployment"],
                ["deployment", "function"],
                ["deployment", "function", "outcome"]
            ])
        );
        assert_eq!(ok["deployment"], "prod-eu");
        assert!(ok["_aws"]["Timestamp"].as_i64().unwrap() > 1_700_000_000_000);
        // Every declared metric and dimension is a member at the root, as EMF requires.
        for metric in declared["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(ok[name].is_number(), "{name} missing: {ok}");
        }
        assert_eq!(ok["function"], "test-protected");
        assert_eq!(ok["outcome"], "valid");
        assert_eq!(ok["source"], "dynamodb_cache_down");
        assert_eq!(ok["key_id"], "key_0123456789abcdef01234567");
        assert_eq!(ok["status"], 200);
        assert_eq!(
            (ok["requests"].as_u64(), ok["cache_fallbacks"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(ok["server_errors"], 0);
        assert!(ok["latency_us"].is_u64());

        assert_eq!(failed["function"], "issue");
        assert_eq!(failed["outcome"], "unavailable");
        assert_eq!(
            (failed["status"].as_u64(), failed["server_errors"].as_u64()),
            (Some(503), Some(1))
        );
        assert_eq!(failed["cache_fallbacks"], 0);
    }

    #[tokio::test]
    async fn other_lines_stay_plain_json() {
        let lines = json_lines(async {
            tracing::warn!(target: "keygate::ops::verify", "cache read failed");
        })
        .await;
        assert_eq!(lines.len(), 1);
        assert!(lines[0].get("_aws").is_none());
        assert_eq!(lines[0]["fields"]["message"], "cache read failed");
    }
}
