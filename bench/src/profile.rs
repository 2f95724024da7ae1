//! `keygate-bench profile test-protected|empty N`: N requests served in this process the way
//! a function serves them (the logger, the request's span and log line, the handler), for
//! a profiler to look at (`valgrind --tool=callgrind`, see bench/PROFILE.md). Without the
//! Lambda runtime's own work, which the empty function's figures hold in `make bench`.
//!
//! `empty` is the empty function's handler behind the same logger setup, so the
//! difference between the two runs is what Keygate adds to a request. `verify` is row 1's
//! path alone: `keygate::ops::verify` on a cache hit of a key without limits, with no
//! request, span or log line around it.

use keygate::edge::telemetry;
use lambda_http::http::{header, Request as HttpRequest, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::inproc::Bench;
use crate::{BenchError, Settings};

pub async fn run(settings: &Settings, subject: &str, n: usize) -> Result<String, BenchError> {
    let mut bench = Bench::new(settings).await?;
    let key = bench.issue_key("bench-profile").await?;
    let limited = bench
        .issue_limited_key(
            "bench-profile-limited",
            keygate::domain::limit::RateLimit {
                limit: keygate::domain::limit::MAX_RATE_LIMIT,
                window_seconds: keygate::domain::limit::MAX_WINDOW_SECONDS,
            },
        )
        .await?;
    telemetry::init();
    let app = &bench.app;
    let request = |key: &str| -> Request {
        HttpRequest::builder()
            .uri("https://example.com/api/v1/keys/test-protected/")
            .header("x-api-key", key)
            .body(Body::Empty)
            .expect("a valid request")
    };
    let mut statuses = [0usize; 6];
    for i in 0..n {
        let req = request(if subject.ends_with("-limited") {
            &limited
        } else {
            &key
        });
        let response = match subject {
            "test-protected" | "test-protected-limited" => {
                telemetry::serve("test-protected", req, |req| {
                    test_protected::handle(app, req)
                })
                .await
            }
            "empty" => Ok(empty(req)),
            "verify" => Ok(verified(app, &key).await),
            _ => return Err(BenchError(format!("unknown subject {subject}"))),
        }
        .map_err(|e| BenchError(format!("request {i}: {e}")))?;
        statuses[usize::from(response.status().as_u16() / 100)] += 1;
    }
    bench.clean_up().await?;
    if statuses[2] != n {
        return Err(BenchError(format!(
            "{subject}: not every request was answered 200: {statuses:?} by hundreds"
        )));
    }
    Ok(format!("{subject}: {n} requests, all 200\n"))
}

/// Row 1's verification, answered as a status so the loop counts it like the others.
async fn verified(app: &keygate::app::App, key: &str) -> Response<Body> {
    let v = keygate::ops::verify::verify(&app.store, &app.cache, key, chrono::Utc::now()).await;
    let status = if v.outcome.is_valid() {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

/// bench/empty's handler.
fn empty(_req: Request) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(r#"{"detail":"ok"}"#.to_owned()))
        .expect("a valid response")
}
