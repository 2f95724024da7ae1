//! The HTTP error type, and the one place where errors become responses.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};

use crate::cache::CacheError;
use crate::http::json_response;
use crate::limit::RateStatus;
use crate::store::StoreError;
use crate::verify::Denial;

pub const BODY_LIMIT: usize = 64 * 1024;

/// Every way a request can fail. Clients get a fixed `detail`; the cause, when there is
/// one, goes to the log line (never a secret: none of these carry one).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{}", .0.message())]
    Forbidden(Denial),
    /// A valid key without a scope the handler requires.
    #[error("API Key lacks the required scope: {0}.")]
    MissingScope(String),
    /// A valid key over its rate limit.
    #[error("Rate limit exceeded. Retry after {retry_after} seconds.")]
    RateLimited {
        retry_after: u64,
        rate: Option<RateStatus>,
    },
    /// A valid key with no quota left; `retry_after` is the time to its next refill.
    #[error("Usage quota exhausted.")]
    QuotaExhausted {
        retry_after: Option<u64>,
        rate: Option<RateStatus>,
    },
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported content type")]
    UnsupportedMediaType,
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) | StoreError::Rejected(cause) => {
                tracing::error!(error = %cause, "DynamoDB request failed");
                ApiError::Unavailable(
                    "The key store is unavailable. Nothing was changed; retry in a few seconds."
                        .to_owned(),
                )
            }
            StoreError::Conflict => ApiError::Conflict(
                "The key changed while this request was running; retry.".to_owned(),
            ),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<CacheError> for ApiError {
    fn from(err: CacheError) -> Self {
        ApiError::Internal(err.to_string())
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::MissingScope(_) => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } | ApiError::QuotaExhausted { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
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
            ApiError::Forbidden(denial) => denial.outcome(),
            ApiError::MissingScope(_) => "missing_scope",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::QuotaExhausted { .. } => "quota_exhausted",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub fn into_response(self) -> Response<Body> {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = %cause, "internal error");
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
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::RateLimited { retry_after, rate } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
                if let Some(rate) = rate {
                    rate.write_headers(headers);
                }
            }
            ApiError::QuotaExhausted { retry_after, rate } => {
                if let Some(after) = retry_after {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from(*after));
                }
                if let Some(rate) = rate {
                    rate.write_headers(headers);
                }
            }
            _ => {}
        }
        response
    }
}
