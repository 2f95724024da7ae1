// The runtime's service layers wrap the handler's future deeply enough that laying out the
// release build's `main` future exceeds the default query depth of 128 (rustc's own advice).
#![recursion_limit = "256"]

use authorizer::{authorize_with, Request, RouteScopes};
use keygate::edge::instance::{exit_with, start};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

keygate::keep_trace_id_env_bounded!();

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = start().await;
    let routes = RouteScopes::from_env().unwrap_or_else(|err| exit_with(&err));
    let (app, routes) = (&app, &routes);
    run(service_fn(move |event: LambdaEvent<Request>| async move {
        Ok::<_, Error>(authorize_with(app, routes, &event.payload).await)
    }))
    .await
}
