//! `POST /api/v1/keys/verify/`: the verify API. A backend that is not a Rust Lambda (Node,
//! Python, Go, anywhere) sends a client's key with an admin credential of role `verify` or
//! higher, and learns whether the key is valid and what it may do, counted against the
//! key's limits exactly as the guard counts it. See `keygate::edge::verify_api`.

use keygate::edge::request::{json_object, require_method};
use keygate::edge::response::json_response;
use keygate::edge::verify_api::{verify_for_caller, VerifyRequest};
use keygate::{ApiError, App};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, Method::POST)?;
    let body = json_object(&req).and_then(|body| VerifyRequest::from_body(&body));
    let answer = verify_for_caller(app, &req, body).await?;
    Ok(json_response(StatusCode::OK, &answer))
}
