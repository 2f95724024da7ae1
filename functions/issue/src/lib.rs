//! `POST /api/v1/keys/issue/`: issues a key to an administrator with the `operate` role.

use chrono::Utc;
use keygate::domain::role::Role;
use keygate::edge::auth::require_role;
use keygate::edge::input::new_key;
use keygate::edge::request::{json_object, require_method};
use keygate::edge::response::json_response;
use keygate::edge::{origin, telemetry};
use keygate::ops::issue::issue;
use keygate::{ApiError, App};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, Method::POST)?;
    let who = require_role(app, &req, Role::Operate).await?;
    let body = json_object(&req)?;
    let now = Utc::now();
    let new = new_key(&body, now)?;
    let issued = issue(app, new, now, &origin::admin(&req, &who)).await?;
    telemetry::outcome("issued");
    Ok(json_response(StatusCode::CREATED, &issued.view(now)))
}
