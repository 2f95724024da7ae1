//! `POST /api/v1/keys/issue/`: issues a key to an administrator.

use chrono::Utc;
use keygate::config::AdminToken;
use keygate::edge::auth::require_admin;
use keygate::edge::input::new_key;
use keygate::edge::request::{json_object, require_method};
use keygate::edge::response::json_response;
use keygate::edge::{origin, telemetry};
use keygate::ops::issue::issue;
use keygate::{ApiError, App};
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
    let new = new_key(&body, now)?;
    let issued = issue(app, new, now, &origin::admin(&req)).await?;
    telemetry::outcome("issued");
    Ok(json_response(StatusCode::CREATED, &issued.view(now)))
}
