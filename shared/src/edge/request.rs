//! Reading requests: method, headers and JSON bodies, with every bad input turned into an
//! [`ApiError`] rather than a panic.

use lambda_http::http::{header, HeaderValue, Method};
use lambda_http::{Body, Request};
use serde_json::{Map, Value};

use super::error::ApiError;

/// The largest request body Keygate reads.
pub const BODY_LIMIT: usize = 64 * 1024;

pub fn require_method(req: &Request, method: Method) -> Result<(), ApiError> {
    if req.method() == method {
        return Ok(());
    }
    Err(ApiError::MethodNotAllowed(match method {
        Method::GET => "GET",
        Method::POST => "POST",
        _ => "the documented method",
    }))
}

/// A `Content-Type` other than JSON is a 415; a body sent without one is read as JSON.
pub fn require_json_content_type(req: &Request) -> Result<(), ApiError> {
    let Some(content_type) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media_type = content_type
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media_type == "application/json" || media_type.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// The request body as a JSON object.
pub fn json_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    json_object_within(req, BODY_LIMIT)
}

/// A JSON object body of at most `limit` bytes, for a route that takes more than
/// [`BODY_LIMIT`] (an import of a thousand keys).
pub fn json_object_within(req: &Request, limit: usize) -> Result<Map<String, Value>, ApiError> {
    require_json_content_type(req)?;
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > limit {
        return Err(if limit == BODY_LIMIT {
            ApiError::PayloadTooLarge
        } else {
            ApiError::TooLarge(format!(
                "Request body is too large; the limit is {} KiB.",
                limit / 1024
            ))
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "Request body is empty; send a JSON object.".to_owned(),
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        // serde_json's messages give a position, never the input itself.
        ApiError::BadRequest(format!("Request body is not valid JSON: {e}."))
    })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::BadRequest(
            "Request body must be a JSON object.".to_owned(),
        )),
    }
}

/// A JSON object body, or `None` for an empty one (for endpoints whose body is optional).
pub fn optional_json_object(req: &Request) -> Result<Option<Map<String, Value>>, ApiError> {
    let empty = match req.body() {
        Body::Empty => true,
        Body::Text(t) => t.trim().is_empty(),
        Body::Binary(b) => b.iter().all(u8::is_ascii_whitespace),
        _ => true,
    };
    if empty {
        Ok(None)
    } else {
        json_object(req).map(Some)
    }
}

/// A header that must appear at most once. `Ok(None)` when absent.
pub fn single_header<'r>(
    req: &'r Request,
    name: &'static str,
) -> Result<Option<&'r HeaderValue>, ApiError> {
    let mut values = req.headers().get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::BadRequest(format!(
            "Send the {} header only once.",
            name.to_ascii_uppercase()
        )));
    }
    Ok(first)
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub fn bearer_token(req: &Request) -> Result<Option<&str>, ApiError> {
    let Some(value) = single_header(req, "authorization")? else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default();
    let token = text
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    Ok(token.filter(|t| !t.is_empty()))
}
