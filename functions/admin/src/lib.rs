//! `admin/`: the admin page (HTML, script and stylesheet compiled into the binary) and the
//! JSON API it calls, under one credential, the admin token, sent as `Authorization: Bearer`.
//!
//! | route                          | what                                         |
//! |--------------------------------|----------------------------------------------|
//! | `GET  admin/`                  | the page                                     |
//! | `GET  admin/app.js`, `app.css`, `favicon.svg` | its script, stylesheet and icon |
//! | `GET  admin/api/keys`          | a page of keys, newest first                 |
//! | `POST admin/api/keys`          | issue a key (as the issue function)          |
//! | `GET  admin/api/keys/{id}`     | one key                                      |
//! | `PATCH admin/api/keys/{id}`    | update its name, owner, meta, scopes, expiry |
//! | `POST admin/api/keys/{id}/revoke` | revoke it (as the revoke function)        |
//! | `POST admin/api/keys/{id}/rotate` | rotate it with a grace period             |
//! | `GET  admin/api/audit`         | a page of audit events, newest first         |
//!
//! Routes are read from the path after its first `admin` segment, or from the whole path when
//! there is none, so the same binary answers behind API Gateway at `/admin/...` (after any
//! stage) and wherever the path reaches it already stripped: `cargo lambda watch` turns
//! `/lambda-url/admin/api/keys` into `/api/keys`, and a function URL has no prefix at all.
//! The page uses relative URLs, so it must be opened with its trailing slash; behind API
//! Gateway `/admin` is redirected to `admin/`.

use chrono::Utc;
use keygate::config::AdminToken;
use keygate::domain::audit::Origin;
use keygate::domain::key::{KeyHash, KeyId};
use keygate::domain::record::KeyRecord;
use keygate::edge::auth::require_admin;
use keygate::edge::error::NOT_FOUND;
use keygate::edge::input::{grace_seconds, key_update, new_key};
use keygate::edge::query::{audit_query, list_query};
use keygate::edge::request::{json_object, optional_json_object};
use keygate::edge::response::{json_response, REVOKED};
use keygate::edge::{origin, telemetry};
use keygate::ops::issue::issue;
use keygate::ops::revoke::revoke_hash;
use keygate::ops::rotate::rotate;
use keygate::ops::update::update;
use keygate::{ApiError, App};
use lambda_http::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const FAVICON_SVG: &str = include_str!("../assets/favicon.svg");

/// Only the page's own script and stylesheet run, nothing inline, and no string ever reaches
/// an HTML sink (`require-trusted-types-for`): even a bug that put a key's name into
/// `innerHTML` would throw instead of running it. `'self'` keeps relative URLs working under
/// any path prefix.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; \
     frame-ancestors 'none'; base-uri 'none'; require-trusted-types-for 'script'; \
     trusted-types 'none'";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'p> {
    /// `.../admin` without its slash: the page's relative URLs need the slash.
    AddSlash,
    Page,
    Script,
    Style,
    Icon,
    Keys,
    Key(&'p str),
    Revoke(&'p str),
    Rotate(&'p str),
    Audit,
    /// Under `api/` but no known route: still needs the token, so that unknown routes say
    /// nothing to a caller without it.
    UnknownApi,
    NotFound,
}

impl Route<'_> {
    fn is_api(self) -> bool {
        matches!(
            self,
            Route::Keys
                | Route::Key(_)
                | Route::Revoke(_)
                | Route::Rotate(_)
                | Route::Audit
                | Route::UnknownApi
        )
    }
}

/// The route for a request path: whatever follows the first `admin` segment.
pub fn route(path: &str) -> Route<'_> {
    let suffix = match path.split('/').position(|segment| segment == "admin") {
        Some(index) => {
            // Byte offset of the segment after `admin`, found by its position.
            let start: usize = path.split('/').take(index + 1).map(|s| s.len() + 1).sum();
            path.get(start - 1..).unwrap_or_default()
        }
        None => path,
    };
    match suffix {
        "" => return Route::AddSlash,
        "/" => return Route::Page,
        "/app.js" => return Route::Script,
        "/app.css" => return Route::Style,
        "/favicon.svg" => return Route::Icon,
        _ => {}
    }
    let Some(api) = suffix
        .strip_prefix("/api")
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
    else {
        return Route::NotFound;
    };
    let api = api.strip_suffix('/').unwrap_or(api);
    let mut parts = api.split('/').skip(1);
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("keys"), None, _, _) => Route::Keys,
        (Some("keys"), Some(id), None, _) if !id.is_empty() => Route::Key(id),
        (Some("keys"), Some(id), Some("revoke"), None) if !id.is_empty() => Route::Revoke(id),
        (Some("keys"), Some(id), Some("rotate"), None) if !id.is_empty() => Route::Rotate(id),
        (Some("audit"), None, _, _) => Route::Audit,
        _ => Route::UnknownApi,
    }
}

/// Answers every request, errors included, with the security headers.
pub async fn handle(
    app: &App,
    admin: &AdminToken,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let response = respond(app, admin, &req)
        .await
        .unwrap_or_else(ApiError::into_response);
    Ok(with_security_headers(response))
}

async fn respond(app: &App, admin: &AdminToken, req: &Request) -> Result<Response<Body>, ApiError> {
    let route = route(req.uri().path());
    if route.is_api() {
        require_admin(req, admin)?;
    }
    let method = req.method();
    match route {
        Route::AddSlash => {
            allow(method, Method::GET, "GET")?;
            Ok(redirect_to_slash())
        }
        Route::Page => asset(method, "text/html; charset=utf-8", INDEX_HTML),
        Route::Script => asset(method, "text/javascript; charset=utf-8", APP_JS),
        Route::Style => asset(method, "text/css; charset=utf-8", APP_CSS),
        Route::Icon => asset(method, "image/svg+xml", FAVICON_SVG),
        Route::Keys if method == Method::GET => list(app, req).await,
        Route::Keys if method == Method::POST => issue_key(app, req).await,
        Route::Keys => Err(ApiError::MethodNotAllowed("GET, POST")),
        Route::Key(id) if method == Method::GET => view(app, id).await,
        Route::Key(id) if method == Method::PATCH => update_key(app, req, id).await,
        Route::Key(_) => Err(ApiError::MethodNotAllowed("GET, PATCH")),
        Route::Revoke(id) => {
            allow(method, Method::POST, "POST")?;
            revoke(app, id, &origin::admin(req)).await
        }
        Route::Rotate(id) => {
            allow(method, Method::POST, "POST")?;
            rotate_key(app, req, id).await
        }
        Route::Audit => {
            allow(method, Method::GET, "GET")?;
            audit(app, req).await
        }
        Route::UnknownApi | Route::NotFound => Err(ApiError::NotFound(
            "Not found. The admin API is GET/POST api/keys, GET/PATCH api/keys/{id}, \
             POST api/keys/{id}/revoke, POST api/keys/{id}/rotate and GET api/audit.",
        )),
    }
}

fn allow(method: &Method, expected: Method, name: &'static str) -> Result<(), ApiError> {
    if *method == expected {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed(name))
    }
}

fn asset(
    method: &Method,
    content_type: &'static str,
    text: &'static str,
) -> Result<Response<Body>, ApiError> {
    allow(method, Method::GET, "GET")?;
    telemetry::outcome("asset");
    let mut response = Response::new(Body::from(text));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

fn redirect_to_slash() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    // Relative, so it is right whatever prefix (stage, `/lambda-url`) comes before `admin`.
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("admin/"));
    response
}

/// The key with this id, or 404.
async fn find(app: &App, id: &KeyId) -> Result<(KeyHash, KeyRecord), ApiError> {
    app.store
        .find_by_id(id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))
}

fn key_id(text: &str) -> Result<KeyId, ApiError> {
    KeyId::parse(text).ok_or_else(|| {
        ApiError::BadRequest(
            "Not a key id: key ids are key_ followed by 24 lowercase hexadecimal digits."
                .to_owned(),
        )
    })
}

async fn list(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let query = list_query(req.uri().query())?;
    let now = Utc::now();
    let page = app.store.list_keys(&query, now).await?;
    telemetry::outcome("listed");
    let keys: Vec<_> = page.records.iter().map(|r| r.view(now)).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "keys": keys, "next_cursor": page.next.map(|c| c.encode()) }),
    ))
}

async fn issue_key(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body = json_object(req)?;
    let now = Utc::now();
    let new = new_key(&body, now)?;
    let issued = issue(app, new, now, &origin::admin(req)).await?;
    telemetry::outcome("issued");
    Ok(json_response(StatusCode::CREATED, &issued.view(now)))
}

async fn update_key(app: &App, req: &Request, id: &str) -> Result<Response<Body>, ApiError> {
    let id = key_id(id)?;
    let body = json_object(req)?;
    let changes = key_update(&body)?;
    let (hash, _) = find(app, &id).await?;
    let now = Utc::now();
    let record = update(app, &hash, &changes, now, &origin::admin(req))
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    telemetry::outcome("updated");
    Ok(json_response(
        StatusCode::OK,
        &live_view(app, &hash, &record, now).await,
    ))
}

async fn rotate_key(app: &App, req: &Request, id: &str) -> Result<Response<Body>, ApiError> {
    let id = key_id(id)?;
    let body = optional_json_object(req)?;
    let grace = grace_seconds(body.as_ref())?;
    let (hash, _) = find(app, &id).await?;
    let now = Utc::now();
    let rotated = rotate(app, &hash, grace, now, &origin::admin(req)).await?;
    telemetry::outcome("rotated");
    Ok(json_response(StatusCode::CREATED, &rotated.view(now)))
}

async fn audit(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let query = audit_query(req.uri().query())?;
    let page = app.store.list_events(&query).await?;
    telemetry::outcome("audit_listed");
    let events: Vec<_> = page.events.iter().map(|e| e.view()).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "events": events, "next_cursor": page.next.map(|c| c.encode()) }),
    ))
}

async fn view(app: &App, id: &str) -> Result<Response<Body>, ApiError> {
    let id = key_id(id)?;
    let (hash, record) = find(app, &id).await?;
    tracing::Span::current().record("key_id", id.as_str());
    telemetry::outcome("viewed");
    let view = live_view(app, &hash, &record, Utc::now()).await;
    Ok(json_response(StatusCode::OK, &view))
}

/// A key as one key's page shows it: with its quota's live count from the cache.
async fn live_view<'r>(
    app: &App,
    hash: &KeyHash,
    record: &'r KeyRecord,
    now: chrono::DateTime<Utc>,
) -> keygate::domain::record::KeyView<'r> {
    let live = match &record.quota {
        Some(quota) => app.cache.live_quota(hash, quota).await,
        None => None,
    };
    record.view_live(now, live.as_ref())
}

async fn revoke(app: &App, id: &str, origin: &Origin) -> Result<Response<Body>, ApiError> {
    let id = key_id(id)?;
    let (hash, _) = find(app, &id).await?;
    let revoked = revoke_hash(app, &hash, Utc::now(), origin).await?;
    telemetry::outcome(if revoked.changed {
        "revoked"
    } else {
        "already_revoked"
    });
    Ok(json_response(StatusCode::OK, &json!({ "detail": REVOKED })))
}

fn with_security_headers(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Every answer is either secret-bearing JSON or a page small enough to refetch, and
        // a stale script after a deploy would be worse than a refetch.
        (header::CACHE_CONTROL, "no-store"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_read_after_the_admin_segment_under_any_prefix() {
        for prefix in ["/lambda-url/admin", "/admin", "/prod/admin"] {
            let at = |suffix: &str| format!("{prefix}{suffix}");
            assert_eq!(route(&at("")), Route::AddSlash);
            assert_eq!(route(&at("/")), Route::Page);
            assert_eq!(route(&at("/app.js")), Route::Script);
            assert_eq!(route(&at("/app.css")), Route::Style);
            assert_eq!(route(&at("/favicon.svg")), Route::Icon);
            assert_eq!(route(&at("/api/keys")), Route::Keys);
            assert_eq!(route(&at("/api/keys/")), Route::Keys);
            assert_eq!(route(&at("/api/keys/key_1")), Route::Key("key_1"));
            assert_eq!(route(&at("/api/keys/key_1/")), Route::Key("key_1"));
            assert_eq!(route(&at("/api/keys/key_1/revoke")), Route::Revoke("key_1"));
        }
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in [
            "/admin/app.jsx",
            "/admin/index.html",
            "/admin/apix",
            "/admin//",
        ] {
            assert_eq!(route(path), Route::NotFound, "{path}");
        }
        for path in [
            "/admin/api",
            "/admin/api/",
            "/admin/api/users",
            "/admin/api/keys//revoke",
            "/admin/api/keys/key_1/delete",
            "/admin/api/keys/key_1/revoke/now",
        ] {
            assert_eq!(route(path), Route::UnknownApi, "{path}");
        }
    }

    #[test]
    fn a_path_without_an_admin_segment_is_routed_whole() {
        assert_eq!(route("/"), Route::Page);
        assert_eq!(route("/api/keys"), Route::Keys);
        assert_eq!(route("/administrator/api/keys"), Route::NotFound);
    }

    #[test]
    fn the_policy_allows_nothing_inline() {
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    }
}
