//! lambda_runtime still sets `_X_AMZN_TRACE_ID` before each invocation, so the workaround in
//! `keygate::trace_env` still has work to do. When this fails because the variable is no
//! longer set, that module is dead code: delete it (its doc lists what goes with it).
//!
//! A test binary of its own: lambda_runtime reads its settings from the process's
//! environment, and the runtime under test writes the variable, so one test runs here.

#[path = "support/fake_runtime_api.rs"]
mod fake_runtime_api;

use std::time::Duration;

use fake_runtime_api::{FakeRuntimeApi, Outcome, HTTP_GET_EVENT};
use lambda_http::{service_fn, Error, Request};

// As in every function's main.rs, so the runtime's `set_var` takes the same path here.
keygate::keep_trace_id_env_bounded!();

#[tokio::test]
async fn lambda_runtime_sets_the_trace_id_variable_before_each_invocation() {
    let invocations = fake_runtime_api::invocations(4, HTTP_GET_EVENT);
    let api = FakeRuntimeApi::start(invocations.clone());
    std::env::set_var("AWS_LAMBDA_RUNTIME_API", api.runtime_api());
    std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "trace-env-test");
    std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
    std::env::set_var("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
    std::env::remove_var("AWS_LAMBDA_MAX_CONCURRENCY");
    std::env::remove_var("_X_AMZN_TRACE_ID");

    // The handler answers with the variable as it finds it.
    let handler = service_fn(|_: Request| async {
        Ok::<_, Error>(std::env::var("_X_AMZN_TRACE_ID").unwrap_or_else(|err| format!("<{err}>")))
    });
    let waiting = tokio::task::spawn_blocking(move || {
        api.wait_until_idle(Duration::from_secs(60), || Ok(()))
    });
    let served = tokio::select! {
        stopped = lambda_http::run(handler) => panic!("lambda_http::run returned: {stopped:?}"),
        served = waiting => served.unwrap().unwrap_or_else(|err| panic!("{err}")),
    };

    assert_eq!(served.len(), invocations.len());
    for (invocation, outcome) in served {
        let Outcome::Response(response) = outcome else {
            panic!("{}: the runtime posted {outcome:?}", invocation.request_id);
        };
        let response: serde_json::Value = serde_json::from_str(&response).unwrap();
        assert_eq!(
            response["body"].as_str(),
            Some(invocation.trace_id.as_str()),
            "the handler did not find `_X_AMZN_TRACE_ID` set to the invocation's trace id \
             (response: {response}). If lambda_runtime no longer sets it, keygate::trace_env \
             is dead code: delete it, as its doc says"
        );
    }
}
