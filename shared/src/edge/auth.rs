//! Who may administer: `Authorization: Bearer <credential>`, where the credential is a
//! personal admin credential (`kga_…`, with a role) or the bootstrap `ADMIN_TOKEN` (the
//! `admin` role, when the deployment still has one). Each route asks for the least role it
//! needs; a higher one passes.

use chrono::Utc;
use lambda_http::Request;

use super::error::ApiError;
use super::request::bearer_token;
use crate::app::App;
use crate::domain::audit::Acting;
use crate::domain::outcome::{Outcome, Verification};
use crate::domain::role::Role;
use crate::ops::verify::verify_admin;

/// Who is signed in, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub acting: Acting,
    pub role: Role,
}

pub const NO_CREDENTIAL: &str = "Authentication credentials were not provided. Send \
     Authorization: Bearer <admin credential>.";
/// Unknown, malformed, revoked and expired credentials answer alike: a caller learns
/// nothing about a credential it does not hold.
pub const INVALID_CREDENTIAL: &str = "Invalid admin credential.";

/// The caller's credential, which must have at least the role `needed`: 401 without a valid
/// credential, 403 naming the role with one whose role is too low. Verifying a credential
/// costs what verifying a client key costs: one cache round trip on a hit.
pub async fn require_role(app: &App, req: &Request, needed: Role) -> Result<Principal, ApiError> {
    check_credential(app, presented_credential(req)?, needed).await
}

/// The bearer credential of a request: 401 when there is none (nothing is verified).
pub fn presented_credential(req: &Request) -> Result<&str, ApiError> {
    bearer_token(req)?.ok_or(ApiError::Unauthorized(NO_CREDENTIAL))
}

/// [`require_role`] for a credential already read from the request: for a caller that runs
/// this check alongside other work (the verify API checks the key at the same time).
pub async fn check_credential(app: &App, token: &str, needed: Role) -> Result<Principal, ApiError> {
    if let Some(bootstrap) = &app.config.admin_token {
        if bootstrap.matches(token) {
            return allowed(
                Principal {
                    acting: Acting::Bootstrap,
                    role: Role::Admin,
                },
                needed,
            );
        }
    }
    // Boxed: the verification's future inside every admin route's would make the routes'
    // future types too deep for the compiler's layout limit. One allocation per admin call.
    let Verification {
        outcome, key_id, ..
    } = Box::pin(verify_admin(
        &app.store,
        &app.cache,
        token.trim(),
        Utc::now(),
    ))
    .await;
    let span = tracing::Span::current();
    if let Some(id) = &key_id {
        span.record("admin_id", id.as_str());
    }
    match outcome {
        Outcome::Valid(info) => match info.role {
            Some(role) => allowed(
                Principal {
                    acting: Acting::Admin {
                        id: info.id,
                        name: info.name,
                    },
                    role,
                },
                needed,
            ),
            None => Err(refused(INVALID_CREDENTIAL)),
        },
        Outcome::Unavailable(_) => Err(ApiError::Key(outcome)),
        _ => Err(refused(INVALID_CREDENTIAL)),
    }
}

fn allowed(principal: Principal, needed: Role) -> Result<Principal, ApiError> {
    if principal.role.allows(needed) {
        return Ok(principal);
    }
    // Logged with the credential's id (on the span), so an alarm can watch for these.
    tracing::warn!(role = %principal.role, needed = %needed, "admin credential lacks the role");
    Err(ApiError::LacksRole(needed))
}

fn refused(detail: &'static str) -> ApiError {
    tracing::warn!("admin credential refused");
    ApiError::Unauthorized(detail)
}
