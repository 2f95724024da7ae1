use chrono::Utc;
use keygate::edge::instance::exit_with;
use keygate::store::Store;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use leaks::public_keys::Fetcher;
use leaks_refresh::{refresh, RefreshConfig, Refreshed};
use serde_json::{json, Value};

keygate::keep_trace_id_env_bounded!();

/// Runs on a schedule (any event will do). A failed run is a function error, so it shows
/// in the function's `Errors` metric; the last good copy stays in the table meanwhile.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    keygate::edge::telemetry::init();
    let config = RefreshConfig::from_env().unwrap_or_else(|err| exit_with(&err));
    let store = Store::new(keygate::app::dynamodb_client().await, config.table_name);
    let fetcher = Fetcher::new(config.url).unwrap_or_else(|err| exit_with(&err));
    let (store, fetcher) = (&store, &fetcher);
    run(service_fn(move |_: LambdaEvent<Value>| async move {
        match refresh(store, fetcher, Utc::now()).await {
            Ok(refreshed) => {
                let answer = match refreshed {
                    Refreshed::Stored { keys } => json!({ "outcome": "stored", "keys": keys }),
                    Refreshed::Unchanged => json!({ "outcome": "unchanged" }),
                };
                tracing::info!(url = %fetcher.url(), %answer, "public keys refreshed");
                Ok::<_, Error>(answer)
            }
            Err(err) => {
                tracing::error!(url = %fetcher.url(), error = %err, "public keys not refreshed; the last good copy stays");
                Err(err.into())
            }
        }
    }))
    .await
}
