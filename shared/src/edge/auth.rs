//! The administrator's credential: `Authorization: Bearer <ADMIN_TOKEN>`.

use lambda_http::Request;

use super::error::ApiError;
use super::request::bearer_token;
use crate::config::AdminToken;

/// Requires `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time.
pub fn require_admin(req: &Request, admin: &AdminToken) -> Result<(), ApiError> {
    match bearer_token(req)? {
        Some(token) if admin.matches(token) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("Invalid admin token.")),
        None => Err(ApiError::Unauthorized(
            "Authentication credentials were not provided. Send Authorization: Bearer <ADMIN_TOKEN>.",
        )),
    }
}
