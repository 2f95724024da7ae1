// The runtime's service layers wrap the handler's future deeply enough that laying out the
// release build's `main` future exceeds the default query depth of 128 (as the authorizer).
#![recursion_limit = "256"]

use keygate::edge::instance::start;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

keygate::keep_trace_id_env_bounded!();

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = start().await;
    let app = &app;
    run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::dynamodb::Event>| async move {
            Ok::<_, Error>(cache_sync::handle(app, event.payload).await)
        },
    ))
    .await
}
