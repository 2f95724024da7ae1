//! `GET /api/v1/keys/test-protected/`: the smallest endpoint behind the guard, to check a
//! key and to show how any handler requires one. `?scope=orders:read,orders:write` requires
//! each listed scope as well; `?cost=N` (0 to 1000, default 1) counts the request as N
//! against the key's rate limit and quota.

use std::str::FromStr;

use keygate::domain::limit::Cost;
use keygate::domain::scope::valid_scope;
use keygate::edge::guard::require_api_key_with_cost;
use keygate::edge::request::require_method;
use keygate::edge::response::{json_response, write_limit_headers};
use keygate::edge::telemetry;
use keygate::edge::verify_api::COST_DETAIL;
use keygate::{ApiError, App};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, Method::GET)?;
    let query = QueryMap::from_str(req.uri().query().unwrap_or_default())
        .expect("parsing a query string is infallible");
    let required = required_scopes(&query)?;
    let cost = cost(&query)?;
    let key = require_api_key_with_cost(app, &req, &required, cost).await?;
    telemetry::outcome("valid");
    let mut response = json_response(
        StatusCode::OK,
        &json!({
            "detail": "Hello from protected endpoint! Your API key is valid.",
            "key_id": key.id.as_str(),
            "name": key.name,
            "owner": key.owner,
            "scopes": key.scopes.as_slice(),
        }),
    );
    write_limit_headers(&key, response.headers_mut());
    Ok(response)
}

/// The scopes named by `?scope=` (comma-separated, possibly repeated).
fn required_scopes(query: &QueryMap) -> Result<Vec<&str>, ApiError> {
    let mut required = Vec::new();
    for value in query.all("scope").unwrap_or_default() {
        for scope in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !valid_scope(scope) {
                return Err(ApiError::BadRequest(
                    "`scope` must be a comma-separated list of scopes such as orders:read,orders:write."
                        .to_owned(),
                ));
            }
            required.push(scope);
        }
    }
    Ok(required)
}

/// `?cost=N`: a whole number from 0 to 1000, given at most once; 1 when absent.
fn cost(query: &QueryMap) -> Result<Cost, ApiError> {
    let values = query.all("cost").unwrap_or_default();
    match values.as_slice() {
        [] => Ok(Cost::ONE),
        [one] => one
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(Cost::new)
            .ok_or_else(|| ApiError::BadRequest(COST_DETAIL.to_owned())),
        _ => Err(ApiError::BadRequest("Send `cost` at most once.".to_owned())),
    }
}
