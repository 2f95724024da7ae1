//! `POST /api/v1/keys/rotate/`: a key holder replaces their own key. The key in `X-API-KEY`
//! is rotated; the optional body `{"grace_seconds": 0..604800}` (default 86400) says how
//! long it keeps working. The answer is the new key, shown once.

use chrono::Utc;
use keygate::audit::Origin;
use keygate::guard::presented_api_key;
use keygate::http::{json_response, optional_json_object, require_method};
use keygate::key::ApiKey;
use keygate::rotate::{grace_seconds, rotate};
use keygate::verify::Denial;
use keygate::{telemetry, ApiError, App};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, Method::POST)?;
    let raw = presented_api_key(&req)?.map(str::trim).unwrap_or_default();
    if raw.is_empty() {
        return Err(ApiError::Forbidden(Denial::Missing));
    }
    let key = ApiKey::parse(raw).map_err(|_| ApiError::Forbidden(Denial::Invalid))?;
    let grace = grace_seconds(optional_json_object(&req)?.as_ref())?;
    let now = Utc::now();
    let rotated = rotate(app, &key.hash(), grace, now, &Origin::key_holder(&req)).await?;
    telemetry::outcome("rotated");
    Ok(json_response(StatusCode::CREATED, &rotated.view(now)))
}
