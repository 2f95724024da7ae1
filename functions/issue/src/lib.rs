//! `POST /api/v1/keys/issue/`: issues a key to an administrator.

use chrono::Utc;
use keygate::audit::Origin;
use keygate::config::AdminToken;
use keygate::http::{json_object, json_response, require_admin, require_method};
use keygate::issue::{issue, NewKey};
use keygate::{telemetry, ApiError, App};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: &App,
    admin: &AdminToken,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    require_method(&req, Method::POST)?;
    require_admin(&req, admin)?;
    let body = json_object(&req)?;
    let now = Utc::now();
    let new = NewKey::from_json(&body, now)?;
    let issued = issue(app, new, now, &Origin::admin(&req)).await?;
    telemetry::outcome("issued");
    Ok(json_response(StatusCode::CREATED, &issued.view(now)))
}
