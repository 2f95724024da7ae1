use keygate::edge::instance::start;
use lambda_http::{run, service_fn, Error, Request};

keygate::keep_trace_id_env_bounded!();

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = start().await;
    let app = &app;
    run(service_fn(move |req: Request| {
        keygate::edge::telemetry::serve("verify", req, move |req| verify::handle(app, req))
    }))
    .await
}
