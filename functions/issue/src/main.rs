use keygate::edge::instance::{exit_with, start};
use lambda_http::{run, service_fn, Error, Request};

keygate::keep_trace_id_env_bounded!();

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = start().await;
    let admin = app
        .config
        .require_admin_token()
        .unwrap_or_else(|err| exit_with(&err));
    let (app, admin) = (&app, &admin);
    run(service_fn(move |req: Request| {
        keygate::edge::telemetry::serve("issue", req, move |req| issue::handle(app, admin, req))
    }))
    .await
}
