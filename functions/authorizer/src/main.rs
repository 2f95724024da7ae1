// The runtime's service layers wrap the handler's future deeply enough that laying out the
// release build's `main` future exceeds the default query depth of 128 (rustc's own advice).
#![recursion_limit = "256"]

use authorizer::{authorize, Request};
use keygate::app::start;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = start().await;
    let app = &app;
    run(service_fn(move |event: LambdaEvent<Request>| async move {
        Ok::<_, Error>(authorize(app, &event.payload).await)
    }))
    .await
}
