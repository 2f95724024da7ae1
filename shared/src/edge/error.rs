//! The HTTP error type, and the one place where errors and refusals become responses:
//! every status code, public message and error header Keygate answers with is chosen here.

use std::error::Error;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};

use super::request::BODY_LIMIT;
use super::response::{json_response, write_rate_headers};
use crate::domain::invalid::Invalid;
use crate::domain::limit::DEFAULT_LIMIT;
use crate::domain::outcome::{Outcome, Unavailable};
use crate::domain::role::Role;
use crate::domain::rotation::SelfRotationRefused;
use crate::domain::time::timestamp;
use crate::ops::publish::Change;
use crate::ops::OpError;
use crate::store::StoreError;

/// The answer to a key that does not exist, kept from the system Keygate replaces.
pub const NOT_FOUND: &str = "API Key not found.";
/// The answer to an identity id that names none.
pub const IDENTITY_NOT_FOUND: &str = "Identity not found.";

/// Every way a request can fail. Clients get a fixed `detail`; the cause, when there is
/// one, goes to the log line (never a secret: none of these carry one).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A key that verification refused: 403, 429 or 503, as its outcome says.
    #[error("{}", refusal_detail(.0))]
    Key(Outcome),
    /// A request the caller may not make (not a refused key: see `Key`).
    #[error("{0}")]
    Forbidden(&'static str),
    /// A valid admin credential whose role is below the one the route needs.
    #[error("This admin credential lacks the role: {0}.")]
    LacksRole(Role),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    #[error("request body too large")]
    PayloadTooLarge,
    /// A 413 with its own limit in `detail`, for a route that reads more than
    /// [`BODY_LIMIT`] (the leak reports of a secret scanner).
    #[error("{0}")]
    TooLarge(String),
    #[error("unsupported content type")]
    UnsupportedMediaType,
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: the client sees "Internal error." and the log gets the whole chain.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn Error + Send + Sync>),
}

/// The public message for a refused key. The first four are kept from the system Keygate
/// replaces.
fn refusal_detail(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Missing => "API Key is missing. Send it in the X-API-KEY header.".to_owned(),
        Outcome::Invalid => "Invalid API Key.".to_owned(),
        Outcome::Revoked => "API Key is not active or has been revoked.".to_owned(),
        Outcome::Expired => "API Key has expired.".to_owned(),
        Outcome::MissingScope(scope) => format!("API Key lacks the required scope: {scope}."),
        // The single `rate_limit` (the limit `default`) keeps the replaced system's words.
        Outcome::RateLimited {
            retry_after, limit, ..
        } if limit == DEFAULT_LIMIT => {
            format!("Rate limit exceeded. Retry after {retry_after} seconds.")
        }
        Outcome::RateLimited {
            retry_after, limit, ..
        } => format!("Rate limit exceeded ({limit}). Retry after {retry_after} seconds."),
        Outcome::QuotaExhausted { .. } => "Usage quota exhausted.".to_owned(),
        Outcome::Unavailable(Unavailable::Store) => STORE_UNAVAILABLE.to_owned(),
        Outcome::Unavailable(Unavailable::LimitsUncounted) => {
            "This key's rate limit cannot be checked while the cache is unavailable; \
             retry in a few seconds."
                .to_owned()
        }
        // Never an error; named so the match stays closed.
        Outcome::Valid(_) => "Internal error.".to_owned(),
    }
}

const STORE_UNAVAILABLE: &str =
    "The key store is unavailable. Nothing was changed; retry in a few seconds.";

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) | StoreError::Rejected(_) => {
                tracing::error!(error = %err, "DynamoDB request failed");
                ApiError::Unavailable(STORE_UNAVAILABLE.to_owned())
            }
            StoreError::Conflict => ApiError::Conflict(
                "The key changed while this request was running; retry.".to_owned(),
            ),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(err: Invalid) -> Self {
        ApiError::BadRequest(err.0)
    }
}

impl From<OpError> for ApiError {
    fn from(err: OpError) -> Self {
        match err {
            OpError::Invalid(invalid) => invalid.into(),
            OpError::NotFound => ApiError::NotFound(NOT_FOUND),
            OpError::UnknownIdentity(id) => {
                ApiError::BadRequest(format!("`identity_id`: no identity has the id {id}."))
            }
            OpError::IdentityNotFound => ApiError::NotFound(IDENTITY_NOT_FOUND),
            OpError::ExternalIdTaken => {
                ApiError::Conflict("Another identity already has this `external_id`.".to_owned())
            }
            OpError::IdentityInUse => ApiError::Conflict(
                "This identity still has active keys: revoke them, or move them to another \
                 identity, before deleting it."
                    .to_owned(),
            ),
            OpError::Refused(outcome) => ApiError::Key(outcome),
            OpError::AlreadyRotated => ApiError::Conflict(
                "This key was already rotated and is in its grace period. Rotate its \
                 replacement instead, or revoke this key to end it now."
                    .to_owned(),
            ),
            OpError::SelfRotation(SelfRotationRefused::NotAllowed) => {
                ApiError::Forbidden("This key may not rotate itself; ask an administrator.")
            }
            OpError::SelfRotation(SelfRotationRefused::PredecessorInGrace { until }) => {
                ApiError::Conflict(format!(
                    "The key this one replaced is still in its grace period{}. Wait until it \
                     ends before this key rotates itself, or ask an administrator to rotate it.",
                    until
                        .map(|at| format!(" (until {})", timestamp(at)))
                        .unwrap_or_default()
                ))
            }
            OpError::CacheNotUpdated {
                change,
                ttl_seconds,
                ..
            } => ApiError::Unavailable(match change {
                Change::Revoke => format!(
                    "The key is revoked in the database, but the cache could not be updated, \
                     so it may still be accepted for up to {ttl_seconds} seconds. Retry this \
                     request; revoking again is safe."
                ),
                Change::Identity => format!(
                    "The identity is changed in the database, but the cache could not be \
                     updated, so its keys may see the old identity for up to {ttl_seconds} \
                     seconds. Retry this request; sending it again is safe."
                ),
                Change::Update | Change::Rotate | Change::Replicated => format!(
                    "The key is updated in the database, but the cache could not be updated, \
                     so verifications may see the old values for up to {ttl_seconds} seconds. \
                     Retry this request; sending the same update again is safe."
                ),
            }),
            OpError::LastAdmin => ApiError::Conflict(
                "This is the last active admin credential with the admin role and no \
                 ADMIN_TOKEN is configured: revoking it would lock everyone out. Create \
                 another admin credential first."
                    .to_owned(),
            ),
            OpError::Store(err) => err.into(),
            OpError::Cache(err) => {
                tracing::error!(error = %err, "Redis request failed");
                ApiError::Unavailable("The cache could not be reached; retry.".to_owned())
            }
            err @ OpError::Random(_) => ApiError::Internal(Box::new(err)),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Key(outcome) => match outcome {
                Outcome::RateLimited { .. } | Outcome::QuotaExhausted { .. } => {
                    StatusCode::TOO_MANY_REQUESTS
                }
                Outcome::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                Outcome::Valid(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::FORBIDDEN,
            },
            ApiError::Forbidden(_) | ApiError::LacksRole(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge | ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client sees.
    pub fn detail(&self) -> String {
        match self {
            ApiError::MethodNotAllowed(allowed) => {
                format!("Method not allowed. Use {allowed}.")
            }
            ApiError::PayloadTooLarge => {
                format!(
                    "Request body is too large; the limit is {} KiB.",
                    BODY_LIMIT / 1024
                )
            }
            ApiError::UnsupportedMediaType => {
                "Unsupported Content-Type; send a JSON body with Content-Type: application/json."
                    .to_owned()
            }
            ApiError::Internal(_) => "Internal error.".to_owned(),
            other => other.to_string(),
        }
    }

    /// A short name for the log line.
    pub fn outcome(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Key(outcome) => outcome.name(),
            ApiError::Forbidden(_) => "forbidden",
            ApiError::LacksRole(_) => "lacks_role",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::PayloadTooLarge | ApiError::TooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub fn into_response(self) -> Response<Body> {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = %chain(cause.as_ref()), "internal error");
        }
        tracing::Span::current().record("outcome", self.outcome());
        let mut response = json_response(
            self.status(),
            &serde_json::json!({ "detail": self.detail() }),
        );
        let headers = response.headers_mut();
        match &self {
            ApiError::MethodNotAllowed(allowed) => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allowed));
            }
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Unavailable(_) | ApiError::Key(Outcome::Unavailable(_)) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::Key(Outcome::RateLimited {
                retry_after, rate, ..
            }) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
                if let Some(rate) = rate {
                    write_rate_headers(rate, headers);
                }
            }
            ApiError::Key(Outcome::QuotaExhausted { retry_after, rate }) => {
                if let Some(after) = retry_after {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from(*after));
                }
                if let Some(rate) = rate {
                    write_rate_headers(rate, headers);
                }
            }
            _ => {}
        }
        response
    }
}

/// An error and its causes, for one log field.
fn chain(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_keys_answer_as_the_replaced_system_did() {
        for (outcome, status, detail) in [
            (Outcome::Invalid, 403, "Invalid API Key."),
            (
                Outcome::Revoked,
                403,
                "API Key is not active or has been revoked.",
            ),
            (Outcome::Expired, 403, "API Key has expired."),
            (
                Outcome::RateLimited {
                    retry_after: 7,
                    limit: "default".into(),
                    rate: None,
                },
                429,
                "Rate limit exceeded. Retry after 7 seconds.",
            ),
            (
                Outcome::RateLimited {
                    retry_after: 2,
                    limit: "per_second".into(),
                    rate: None,
                },
                429,
                "Rate limit exceeded (per_second). Retry after 2 seconds.",
            ),
            (
                Outcome::Unavailable(Unavailable::Store),
                503,
                STORE_UNAVAILABLE,
            ),
        ] {
            let err = ApiError::Key(outcome);
            assert_eq!(err.status().as_u16(), status, "{err:?}");
            assert_eq!(err.detail(), detail);
        }
    }

    #[test]
    fn an_internal_error_hides_its_cause_from_the_client_but_keeps_the_chain() {
        let err = ApiError::from(OpError::Store(StoreError::Corrupt("bad `v`".into())));
        assert_eq!(err.detail(), "Internal error.");
        let ApiError::Internal(cause) = &err else {
            panic!("{err:?}")
        };
        assert!(chain(cause.as_ref()).contains("bad `v`"));
    }
}
