//! `POST /api/v1/keys/revoke/`: revokes the key given in the body.

use chrono::Utc;
use keygate::edge::input::key_field;
use keygate::edge::request::{json_object, require_method};
use keygate::edge::response::{json_response, REVOKED};
use keygate::edge::{origin, telemetry};
use keygate::ops::revoke::revoke;
use keygate::{ApiError, App};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, Method::POST)?;
    let body = json_object(&req)?;
    let raw = key_field(&body)?;
    let revoked = revoke(app, raw, Utc::now(), &origin::key_holder(&req)).await?;
    telemetry::outcome(if revoked.changed {
        "revoked"
    } else {
        "already_revoked"
    });
    Ok(json_response(StatusCode::OK, &json!({ "detail": REVOKED })))
}
