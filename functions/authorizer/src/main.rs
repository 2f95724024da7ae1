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
