//! Reading requests and writing JSON responses, with every bad input turned into an
//! [`ApiError`] rather than a panic.

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::AdminToken;
use crate::error::{ApiError, BODY_LIMIT};

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).expect("response bodies always serialize");
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

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

/// The request body as a JSON object.
pub fn json_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
        let media_type = content_type
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if media_type != "application/json" && !media_type.ends_with("+json") {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > BODY_LIMIT {
        return Err(ApiError::PayloadTooLarge);
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

/// A required, non-blank string field of at most `max_chars` characters, with no control
/// characters.
pub fn text_field(
    body: &Map<String, Value>,
    field: &str,
    max_chars: usize,
) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::BadRequest(format!("`{field}` {why}."));
    let value = match body.get(field) {
        None | Some(Value::Null) => return Err(bad("is required")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad("must be a string")),
    };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(bad("must not be blank"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(bad(&format!("must be at most {max_chars} characters")));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Err(bad(
            "must not contain control characters or invisible formatting characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Characters that change how text around them is shown without being visible themselves:
/// bidirectional overrides (which can make a name read backwards on the admin page), zero
/// widths and line or paragraph separators.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
    )
}
