//! `GET /api/v1/keys/test-protected/`: the smallest endpoint behind the guard, to check a
//! key and to show how any handler requires one.

use keygate::http::{json_response, require_method};
use keygate::{require_api_key, telemetry, ApiError, App};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, Method::GET)?;
    let key = require_api_key(app, &req).await?;
    telemetry::outcome("valid");
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "detail": "Hello from protected endpoint! Your API key is valid.",
            "key_id": key.id.as_str(),
            "name": key.name,
        }),
    ))
}
