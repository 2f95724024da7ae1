//! `usage-fold`: runs on a schedule (every minute; any event will do) and folds every key's
//! usage counts from Redis into DynamoDB (`keygate::ops::usage`). A run that cannot reach
//! Redis is a function error, so it shows in the function's `Errors` metric; the counts
//! wait in Redis for the next run.

use chrono::Utc;
use keygate::edge::instance::start;
use keygate::ops::usage::fold_all;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

keygate::keep_trace_id_env_bounded!();

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = start().await;
    let app = &app;
    run(service_fn(move |_: LambdaEvent<Value>| async move {
        match fold_all(&app.store, &app.cache, Utc::now()).await {
            Ok(report) => {
                tracing::info!(
                    keys = report.keys,
                    folded = report.folded,
                    finished = report.finished,
                    dropped = report.dropped,
                    failed = report.failed,
                    "usage folded"
                );
                Ok::<_, Error>(json!({
                    "keys": report.keys,
                    "folded": report.folded,
                    "finished": report.finished,
                    "dropped": report.dropped,
                    "failed": report.failed,
                }))
            }
            Err(err) => {
                tracing::error!(error = %err, "usage not folded; the counts wait in Redis");
                Err(err.into())
            }
        }
    }))
    .await
}
