//! `POST /api/v1/keys/rotate/`: a key holder replaces their own key, if an administrator
//! allowed the key to rotate itself (`self_rotation`). The key in `X-API-KEY` passes the
//! guard like any request (counted against its limits), then is rotated; the optional body
//! `{"grace_seconds": 0..604800}` (default 86400) says how long it keeps working. The answer
//! is the new key, shown once.

use chrono::Utc;
use keygate::domain::legacy::Presented;
use keygate::domain::outcome::Outcome;
use keygate::edge::guard::{presented_api_key, require_api_key};
use keygate::edge::input::grace_seconds;
use keygate::edge::request::{optional_json_object, require_method};
use keygate::edge::response::json_response;
use keygate::edge::{origin, telemetry};
use keygate::ops::rotate::rotate;
use keygate::{ApiError, App};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, Method::POST)?;
    // Counted and refused like any request: rotating is no way around a limit.
    require_api_key(app, &req).await?;
    let raw = presented_api_key(&req)?.map(str::trim).unwrap_or_default();
    let key = Presented::parse(raw).map_err(|_| ApiError::Key(Outcome::Invalid))?;
    let grace = grace_seconds(optional_json_object(&req)?.as_ref())?;
    let now = Utc::now();
    let rotated = rotate(app, &key.hash(), grace, now, &origin::key_holder(&req)).await?;
    telemetry::outcome("rotated");
    Ok(json_response(StatusCode::CREATED, &rotated.view(now)))
}
