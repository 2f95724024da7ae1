//! The smallest `lambda_http` function: the same runtime, event parsing and response
//! encoding as Keygate's functions, and nothing else. `make bench` divides Keygate's
//! figures by this one's, so the ratio is what Keygate adds on top of the platform.

use lambda_http::http::{header, StatusCode};
use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_req: Request| async {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::Text(r#"{"detail":"ok"}"#.to_owned()))
            .map_err(Error::from)
    }))
    .await
}
