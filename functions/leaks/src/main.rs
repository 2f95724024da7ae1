use keygate::edge::instance::{exit_with, start};
use lambda_http::{run, service_fn, Error, Request};
use leaks::config::LeakConfig;
use leaks::Leaks;

keygate::keep_trace_id_env_bounded!();

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = start().await;
    let config = LeakConfig::from_env().unwrap_or_else(|err| exit_with(&err));
    let leaks = Leaks::new(config, &app.store).unwrap_or_else(|err| exit_with(&err));
    let (app, leaks) = (&app, &leaks);
    run(service_fn(move |req: Request| {
        keygate::edge::telemetry::serve("leaks", req, move |req| leaks::handle(app, leaks, req))
    }))
    .await
}
