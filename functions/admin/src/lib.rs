//! `admin/`: the admin page (HTML, script and stylesheet compiled into the binary) and the
//! JSON API it calls, under `Authorization: Bearer <admin credential>` (or the bootstrap
//! `ADMIN_TOKEN`), each route with the least role it needs (`edge/auth.rs`).
//!
//! | route                          | role    | what                                 |
//! |--------------------------------|---------|--------------------------------------|
//! | `GET  admin/`                  |         | the page                             |
//! | `GET  admin/app.js`, `app.css`, ... |    | its script modules, stylesheet and icon ([`ASSETS`]) |
//! | `GET  admin/config.js`         |         | the constants its script shares with the API |
//! | `GET  admin/api/me`            | verify  | who is signed in, with which role    |
//! | `GET  admin/api/keys`          | read    | a page of keys, newest first         |
//! | `POST admin/api/keys`          | operate | issue a key (as the issue function)  |
//! | `POST admin/api/keys/import`   | operate | import the old system's keys (up to 1,000) |
//! | `GET  admin/api/keys/{id}`     | read    | one key                              |
//! | `PATCH admin/api/keys/{id}`    | operate | update its name, owner, meta, scopes, expiry |
//! | `POST admin/api/keys/{id}/revoke` | operate | revoke it (as the revoke function) |
//! | `POST admin/api/keys/{id}/rotate` | operate | rotate it with a grace period     |
//! | `GET  admin/api/identities`    | read    | a page of identities, or one by `external_id` |
//! | `POST admin/api/identities`    | operate | create an identity                   |
//! | `GET  admin/api/identities/{id}` | read  | one identity, its live quota and keys |
//! | `PATCH admin/api/identities/{id}` | operate | change its external id, meta, limits, quota |
//! | `DELETE admin/api/identities/{id}` | operate | delete it (no active key may remain) |
//! | `POST admin/api/identities/{id}/suspend`, `/resume` | operate | stop or restart all its keys |
//! | `GET  admin/api/audit`         | read    | a page of audit events, newest first |
//! | `GET  admin/api/usage`         | read    | verifications by outcome per hour or day, JSON or CSV (README "Usage") |
//! | `GET  admin/api/usage/top`     | read    | the keys with the most verifications or refusals |
//! | `GET  admin/api/admins`        | admin   | every admin credential               |
//! | `POST admin/api/admins`        | admin   | create one (its secret shown once)   |
//! | `POST admin/api/admins/{id}/revoke` | admin | revoke one (never the last way in) |
//! | `POST admin/api/admins/{id}/rotate` | admin | replace its secret               |
//!
//! Routes are read from the path after its first `admin` segment, or from the whole path when
//! there is none, so the same binary answers behind API Gateway at `/admin/...` (after any
//! stage) and wherever the path reaches it already stripped: `cargo lambda watch` turns
//! `/lambda-url/admin/api/keys` into `/api/keys`, and a function URL has no prefix at all.
//! The page uses relative URLs, so it must be opened with its trailing slash; behind API
//! Gateway `/admin` is redirected to `admin/`.

use chrono::Utc;
use keygate::domain::audit::{Acting, Actor, Origin};
use keygate::domain::key::{KeyHash, KeyId};
use keygate::domain::record::KeyRecord;
use keygate::domain::role::Role;
use keygate::domain::rotation::MAX_GRACE_SECONDS;
use keygate::edge::auth::{require_role, Principal};
use keygate::edge::error::NOT_FOUND;
use keygate::edge::input::{grace_seconds, key_update, new_admin, new_key};
use keygate::edge::query::{audit_query, list_query};
use keygate::edge::request::{json_object, json_object_within, optional_json_object};
use keygate::edge::response::{json_response, REVOKED};
use keygate::edge::usage::{top_query, top_response, usage_query, usage_response};
use keygate::edge::{origin, telemetry};
use keygate::ops::admins;
use keygate::ops::issue::issue;
use keygate::ops::revoke::revoke_hash;
use keygate::ops::rotate::rotate;
use keygate::ops::update::update;
use keygate::{ApiError, App};
use lambda_http::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

mod identities;

const INDEX_HTML: &str = include_str!("../assets/index.html");

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// A file the page loads, compiled into the binary.
#[derive(Debug, PartialEq, Eq)]
pub struct Asset {
    /// The path it is asked for, after `admin`: its file name under `assets/`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub text: &'static str,
}

/// The file `assets/$name`, served at `admin/$name`: one name for both, so that a path
/// cannot serve another file than the one it names.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            path: concat!("/", $name),
            content_type: $content_type,
            text: include_str!(concat!("../assets/", $name)),
        }
    };
}

/// The route table of the page's files: besides the page itself and the generated
/// `config.js`, nothing else under `admin/` is served as a file. The script is ES modules,
/// one job each, that import one another by relative URL, so each module is a route of its
/// own; `app.js` is the entry (its header says what each module does). The charting library
/// is vendored ([`VENDORED`]).
pub const ASSETS: &[Asset] = &[
    asset!("app.css", CSS),
    asset!("favicon.svg", SVG),
    asset!("app.js", JS),
    asset!("adminops.js", JS),
    asset!("admins.js", JS),
    asset!("audit.js", JS),
    asset!("client.js", JS),
    asset!("details.js", JS),
    asset!("dom.js", JS),
    asset!("edit.js", JS),
    asset!("fields.js", JS),
    asset!("format.js", JS),
    asset!("identities.js", JS),
    asset!("identity.js", JS),
    asset!("identityops.js", JS),
    asset!("identitypick.js", JS),
    asset!("issue.js", JS),
    asset!("keys.js", JS),
    asset!("limitrows.js", JS),
    asset!("revoke.js", JS),
    asset!("roles.js", JS),
    asset!("rotate.js", JS),
    asset!("session.js", JS),
    asset!("state.js", JS),
    asset!("ui.js", JS),
    asset!("usage.js", JS),
    asset!("views.js", JS),
    asset!("uplot.iife.min.js", JS),
    asset!("uplot.min.css", CSS),
];

/// Files of [`ASSETS`] that are not the page's own: uPlot, the charting library of the usage
/// charts (`usage.js`), copied unchanged from its npm package with its MIT licence notice on
/// top. The page loads its script as a classic script (it defines the global `uPlot`), not
/// as a module: no module imports it.
pub const VENDORED: &[&str] = &["/uplot.iife.min.js", "/uplot.min.css"];

/// `config.js`: the constants the page's script shares with the API, written from the Rust
/// ones, so that the script never repeats a number that the API checks (the page imports
/// them with `import { MAX_GRACE_SECONDS } from './config.js'`).
///
/// A generated module rather than a `data-` attribute on the page: the scripts import the
/// value by name like anything else, with no parsing, and a name missing here stops the
/// script from loading at all instead of reading as `undefined`; the page stays a plain
/// file with nothing substituted into it; and the CSP needs nothing new (`script-src
/// 'self'`). It is a few bytes, written per request.
pub fn config_js() -> String {
    format!(
        "// Generated by the admin function from the Rust constants (functions/admin/src/lib.rs).\n\
         export const MAX_GRACE_SECONDS = {MAX_GRACE_SECONDS};\n"
    )
}

// The script reads the constant as a JavaScript number, which must hold it exactly.
const _: () = assert!(MAX_GRACE_SECONDS <= 1 << 53);

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
    /// One of the page's files, from [`ASSETS`].
    Asset(&'static Asset),
    /// `config.js`, generated: see [`config_js`].
    Config,
    Keys,
    Import,
    Key(&'p str),
    Revoke(&'p str),
    Rotate(&'p str),
    Identities,
    Identity(&'p str),
    IdentitySuspend(&'p str),
    IdentityResume(&'p str),
    Audit,
    Usage,
    UsageTop,
    Me,
    Admins,
    AdminRevoke(&'p str),
    AdminRotate(&'p str),
    /// Under `api/` but no known route: still needs a credential, so that unknown routes
    /// say nothing to a caller without one.
    UnknownApi,
    NotFound,
}

impl Route<'_> {
    /// The least role that may call this route with this method; `None` for the page and
    /// its files, which hold nothing secret.
    pub fn role(self, method: &Method) -> Option<Role> {
        let reads = *method == Method::GET;
        match self {
            Route::AddSlash | Route::Page | Route::Asset(_) | Route::Config | Route::NotFound => {
                None
            }
            Route::Me | Route::UnknownApi => Some(Role::Verify),
            Route::Keys | Route::Key(_) | Route::Identities | Route::Identity(_) if reads => {
                Some(Role::Read)
            }
            Route::Audit | Route::Usage | Route::UsageTop => Some(Role::Read),
            Route::Keys
            | Route::Key(_)
            | Route::Revoke(_)
            | Route::Rotate(_)
            | Route::Import
            | Route::Identities
            | Route::Identity(_)
            | Route::IdentitySuspend(_)
            | Route::IdentityResume(_) => Some(Role::Operate),
            Route::Admins | Route::AdminRevoke(_) | Route::AdminRotate(_) => Some(Role::Admin),
        }
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
        "/config.js" => return Route::Config,
        _ => {}
    }
    if let Some(file) = ASSETS.iter().find(|file| file.path == suffix) {
        return Route::Asset(file);
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
        (Some("keys"), Some("import"), None, _) => Route::Import,
        (Some("keys"), Some(id), None, _) if !id.is_empty() => Route::Key(id),
        (Some("keys"), Some(id), Some("revoke"), None) if !id.is_empty() => Route::Revoke(id),
        (Some("keys"), Some(id), Some("rotate"), None) if !id.is_empty() => Route::Rotate(id),
        (Some("identities"), None, _, _) => Route::Identities,
        (Some("identities"), Some(id), None, _) if !id.is_empty() => Route::Identity(id),
        (Some("identities"), Some(id), Some("suspend"), None) if !id.is_empty() => {
            Route::IdentitySuspend(id)
        }
        (Some("identities"), Some(id), Some("resume"), None) if !id.is_empty() => {
            Route::IdentityResume(id)
        }
        (Some("audit"), None, _, _) => Route::Audit,
        (Some("usage"), None, _, _) => Route::Usage,
        (Some("usage"), Some("top"), None, _) => Route::UsageTop,
        (Some("me"), None, _, _) => Route::Me,
        (Some("admins"), None, _, _) => Route::Admins,
        (Some("admins"), Some(id), Some("revoke"), None) if !id.is_empty() => {
            Route::AdminRevoke(id)
        }
        (Some("admins"), Some(id), Some("rotate"), None) if !id.is_empty() => {
            Route::AdminRotate(id)
        }
        _ => Route::UnknownApi,
    }
}

/// Answers every request, errors included, with the security headers.
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let response = respond(app, &req)
        .await
        .unwrap_or_else(ApiError::into_response);
    Ok(with_security_headers(response))
}

async fn respond(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let route = route(req.uri().path());
    let method = req.method();
    let who = match route.role(method) {
        Some(needed) => require_role(app, req, needed).await?,
        // Nothing secret: no credential is asked for, and none is recorded.
        None => Principal {
            acting: Acting::Bootstrap,
            role: Role::Verify,
        },
    };
    let origin = || origin::admin(req, &who);
    match route {
        Route::AddSlash => {
            allow(method, Method::GET, "GET")?;
            Ok(redirect_to_slash())
        }
        Route::Page => serve(method, "text/html; charset=utf-8", INDEX_HTML),
        Route::Asset(file) => serve(method, file.content_type, file.text),
        Route::Config => serve(method, JS, config_js()),
        Route::Keys if method == Method::GET => list(app, req).await,
        Route::Keys if method == Method::POST => issue_key(app, req, &origin()).await,
        Route::Keys => Err(ApiError::MethodNotAllowed("GET, POST")),
        Route::Import if method == Method::POST => import_keys(app, req, &origin()).await,
        Route::Import => Err(ApiError::MethodNotAllowed("POST")),
        Route::Key(id) if method == Method::GET => view(app, id).await,
        Route::Key(id) if method == Method::PATCH => update_key(app, req, id, &origin()).await,
        Route::Key(_) => Err(ApiError::MethodNotAllowed("GET, PATCH")),
        Route::Revoke(id) => {
            allow(method, Method::POST, "POST")?;
            revoke(app, id, &origin()).await
        }
        Route::Rotate(id) => {
            allow(method, Method::POST, "POST")?;
            rotate_key(app, req, id, &origin()).await
        }
        Route::Identities if method == Method::GET => identities::list(app, req).await,
        Route::Identities if method == Method::POST => {
            identities::create(app, req, &origin()).await
        }
        Route::Identities => Err(ApiError::MethodNotAllowed("GET, POST")),
        Route::Identity(id) if method == Method::GET => identities::view(app, id).await,
        Route::Identity(id) if method == Method::PATCH => {
            identities::update(app, req, id, &origin()).await
        }
        Route::Identity(id) if method == Method::DELETE => {
            identities::delete(app, id, &origin()).await
        }
        Route::Identity(_) => Err(ApiError::MethodNotAllowed("GET, PATCH, DELETE")),
        Route::IdentitySuspend(id) => {
            allow(method, Method::POST, "POST")?;
            identities::suspend(app, id, true, &origin()).await
        }
        Route::IdentityResume(id) => {
            allow(method, Method::POST, "POST")?;
            identities::suspend(app, id, false, &origin()).await
        }
        Route::Audit => {
            allow(method, Method::GET, "GET")?;
            audit(app, req).await
        }
        Route::Usage => {
            allow(method, Method::GET, "GET")?;
            usage(app, req).await
        }
        Route::UsageTop => {
            allow(method, Method::GET, "GET")?;
            usage_top(app, req).await
        }
        Route::Me => {
            allow(method, Method::GET, "GET")?;
            me(&who)
        }
        Route::Admins if method == Method::GET => list_admins(app).await,
        Route::Admins if method == Method::POST => create_admin(app, req, &origin()).await,
        Route::Admins => Err(ApiError::MethodNotAllowed("GET, POST")),
        Route::AdminRevoke(id) => {
            allow(method, Method::POST, "POST")?;
            revoke_admin(app, id, &origin()).await
        }
        Route::AdminRotate(id) => {
            allow(method, Method::POST, "POST")?;
            rotate_admin(app, id, &origin()).await
        }
        Route::UnknownApi | Route::NotFound => Err(ApiError::NotFound(
            "Not found. The admin API is GET api/me, GET/POST api/keys, POST \
             api/keys/import, GET/PATCH api/keys/{id}, POST api/keys/{id}/revoke, POST api/keys/{id}/rotate, \
             GET/POST api/identities, GET/PATCH/DELETE api/identities/{id}, POST \
             api/identities/{id}/suspend, POST api/identities/{id}/resume, GET \
             api/audit, GET api/usage, GET api/usage/top, GET/POST api/admins, POST api/admins/{id}/revoke and POST \
             api/admins/{id}/rotate.",
        )),
    }
}

/// `GET api/me`: who is signed in, for the page to show and to offer only what the role
/// may do.
fn me(who: &Principal) -> Result<Response<Body>, ApiError> {
    let actor = match &who.acting {
        Acting::Admin { id, name } => Actor::Admin {
            id: id.clone(),
            name: name.clone(),
        },
        _ => Actor::Bootstrap,
    };
    telemetry::outcome("viewed");
    Ok(json_response(
        StatusCode::OK,
        &json!({ "actor": actor, "role": who.role }),
    ))
}

/// `POST api/keys/import`: 200 with what was imported and what was skipped, and why.
async fn import_keys(
    app: &App,
    req: &Request,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let body = json_object_within(req, keygate::edge::import::IMPORT_BODY_LIMIT)?;
    let now = Utc::now();
    let items = keygate::edge::import::import_keys(&body, now)?;
    let report = keygate::ops::import::import(app, items, now, origin).await?;
    telemetry::outcome("imported");
    Ok(json_response(StatusCode::OK, &report))
}

fn admin_id(text: &str) -> Result<KeyId, ApiError> {
    KeyId::parse(text).filter(KeyId::is_admin).ok_or_else(|| {
        ApiError::BadRequest(
            "Not an admin credential id: they are adm_ followed by 24 lowercase \
                 hexadecimal digits."
                .to_owned(),
        )
    })
}

async fn list_admins(app: &App) -> Result<Response<Body>, ApiError> {
    let admins = admins::list(app).await?;
    let now = Utc::now();
    telemetry::outcome("listed");
    let views: Vec<_> = admins.iter().map(|r| r.admin_view(now)).collect();
    Ok(json_response(StatusCode::OK, &json!({ "admins": views })))
}

async fn create_admin(
    app: &App,
    req: &Request,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let body = json_object(req)?;
    let now = Utc::now();
    let new = new_admin(&body, now)?;
    let created = admins::create(app, new, now, origin).await?;
    telemetry::outcome("issued");
    Ok(json_response(StatusCode::CREATED, &created.view(now)))
}

async fn revoke_admin(app: &App, id: &str, origin: &Origin) -> Result<Response<Body>, ApiError> {
    let id = admin_id(id)?;
    admins::revoke(app, &id, Utc::now(), origin)
        .await
        .map_err(admin_error)?;
    telemetry::outcome("revoked");
    Ok(json_response(
        StatusCode::OK,
        &json!({ "detail": "Admin credential revoked." }),
    ))
}

async fn rotate_admin(app: &App, id: &str, origin: &Origin) -> Result<Response<Body>, ApiError> {
    let id = admin_id(id)?;
    let now = Utc::now();
    let rotated = admins::rotate(app, &id, now, origin)
        .await
        .map_err(admin_error)?;
    telemetry::outcome("rotated");
    Ok(json_response(StatusCode::CREATED, &rotated.view(now)))
}

/// The key answers, reworded for an admin credential: its id is not a key's.
fn admin_error(err: keygate::ops::OpError) -> ApiError {
    use keygate::ops::OpError;
    match err {
        OpError::NotFound => ApiError::NotFound("Not found."),
        OpError::Refused(_) | OpError::AlreadyRotated => ApiError::Conflict(
            "This admin credential is revoked or expired; create a new one instead.".to_owned(),
        ),
        other => other.into(),
    }
}

fn allow(method: &Method, expected: Method, name: &'static str) -> Result<(), ApiError> {
    if *method == expected {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed(name))
    }
}

fn serve(
    method: &Method,
    content_type: &'static str,
    text: impl Into<Body>,
) -> Result<Response<Body>, ApiError> {
    allow(method, Method::GET, "GET")?;
    telemetry::outcome("asset");
    let mut response = Response::new(text.into());
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

/// The client key with this id, or 404: an admin credential is not one.
async fn find(app: &App, id: &KeyId) -> Result<(KeyHash, KeyRecord), ApiError> {
    app.store
        .find_by_id(id)
        .await?
        .filter(|(_, record)| record.role.is_none())
        .ok_or(ApiError::NotFound(NOT_FOUND))
}

fn key_id(text: &str) -> Result<KeyId, ApiError> {
    KeyId::parse(text)
        .filter(|id| !id.is_admin())
        .ok_or_else(|| {
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

async fn issue_key(app: &App, req: &Request, origin: &Origin) -> Result<Response<Body>, ApiError> {
    let body = json_object(req)?;
    let now = Utc::now();
    let new = new_key(&body, now)?;
    let issued = issue(app, new, now, origin).await?;
    telemetry::outcome("issued");
    Ok(json_response(StatusCode::CREATED, &issued.view(now)))
}

async fn update_key(
    app: &App,
    req: &Request,
    id: &str,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let id = key_id(id)?;
    let body = json_object(req)?;
    let changes = key_update(&body)?;
    let (hash, _) = find(app, &id).await?;
    let now = Utc::now();
    let record = update(app, &hash, &changes, now, origin)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    telemetry::outcome("updated");
    Ok(json_response(
        StatusCode::OK,
        &live_view(app, &hash, &record, now).await,
    ))
}

async fn rotate_key(
    app: &App,
    req: &Request,
    id: &str,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let id = key_id(id)?;
    let body = optional_json_object(req)?;
    let grace = grace_seconds(body.as_ref())?;
    let (hash, _) = find(app, &id).await?;
    let now = Utc::now();
    let rotated = rotate(app, &hash, grace, now, origin).await?;
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

/// `GET api/usage`: verifications by outcome and bucket, of a key, an identity, an owner
/// or the deployment (`keygate::ops::usage`).
async fn usage(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let query = usage_query(req.uri().query(), Utc::now())?;
    let report =
        keygate::ops::usage::report(&app.store, &app.cache, &query.subject, query.range).await?;
    telemetry::outcome("usage_listed");
    Ok(usage_response(&query, &report))
}

/// `GET api/usage/top`: the keys with the most verifications, or the most refusals, over
/// the last days.
async fn usage_top(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let query = top_query(req.uri().query())?;
    let now = Utc::now();
    let top =
        keygate::ops::usage::top_keys(&app.store, query.by, query.days, query.limit, now).await?;
    telemetry::outcome("usage_listed");
    Ok(top_response(&query, &top, now))
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
    let live = app.cache.live_key_quota(hash, record).await;
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
            for file in ASSETS {
                assert_eq!(route(&at(file.path)), Route::Asset(file));
            }
            assert_eq!(route(&at("/config.js")), Route::Config);
            assert_eq!(route(&at("/api/keys")), Route::Keys);
            assert_eq!(route(&at("/api/keys/")), Route::Keys);
            assert_eq!(route(&at("/api/keys/key_1")), Route::Key("key_1"));
            assert_eq!(route(&at("/api/keys/key_1/")), Route::Key("key_1"));
            assert_eq!(route(&at("/api/keys/key_1/revoke")), Route::Revoke("key_1"));
            assert_eq!(route(&at("/api/me")), Route::Me);
            assert_eq!(route(&at("/api/admins")), Route::Admins);
            assert_eq!(
                route(&at("/api/admins/adm_1/revoke")),
                Route::AdminRevoke("adm_1")
            );
            assert_eq!(
                route(&at("/api/admins/adm_1/rotate")),
                Route::AdminRotate("adm_1")
            );
        }
    }

    /// The role table of the module's header, as the code has it.
    #[test]
    fn each_route_asks_for_the_least_role_that_may_use_it() {
        let (get, post, patch) = (Method::GET, Method::POST, Method::PATCH);
        for (path, method, role) in [
            ("/admin/", &get, None),
            ("/admin/app.js", &get, None),
            ("/admin/api/me", &get, Some(Role::Verify)),
            ("/admin/api/nothing", &get, Some(Role::Verify)),
            ("/admin/api/keys", &get, Some(Role::Read)),
            ("/admin/api/keys/key_1", &get, Some(Role::Read)),
            ("/admin/api/audit", &get, Some(Role::Read)),
            ("/admin/api/keys", &post, Some(Role::Operate)),
            ("/admin/api/keys/key_1", &patch, Some(Role::Operate)),
            ("/admin/api/keys/key_1/revoke", &post, Some(Role::Operate)),
            ("/admin/api/keys/key_1/rotate", &post, Some(Role::Operate)),
            ("/admin/api/admins", &get, Some(Role::Admin)),
            ("/admin/api/admins", &post, Some(Role::Admin)),
            ("/admin/api/admins/adm_1/revoke", &post, Some(Role::Admin)),
            ("/admin/api/admins/adm_1/rotate", &post, Some(Role::Admin)),
        ] {
            assert_eq!(route(path).role(method), role, "{method} {path}");
        }
    }

    /// The files the page asks for by name, with the type each is served as.
    #[test]
    fn the_page_files_are_served_with_their_types() {
        let served = |path: &str| match route(path) {
            Route::Asset(file) => Some(file.content_type),
            _ => None,
        };
        assert_eq!(served("/admin/app.css"), Some(CSS));
        assert_eq!(served("/admin/favicon.svg"), Some(SVG));
        assert_eq!(served("/admin/uplot.iife.min.js"), Some(JS));
        assert_eq!(served("/admin/uplot.min.css"), Some(CSS));
        for module in [
            "app", "adminops", "admins", "audit", "client", "details", "dom", "edit", "fields",
            "format", "issue", "keys", "revoke", "roles", "rotate", "session", "state", "ui",
            "usage", "views",
        ] {
            assert_eq!(served(&format!("/admin/{module}.js")), Some(JS), "{module}");
        }
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in [
            "/admin/app.jsx",
            "/admin/app.js/",
            "/admin/App.js",
            "/admin/config.jsx",
            "/admin/js/app.js",
            "/admin/assets/app.js",
            "/admin/index.html",
            "/admin/apix",
            "/admin/api.js",
            "/admin//",
        ] {
            assert_eq!(route(path), Route::NotFound, "{path}");
        }
        for path in [
            "/admin/api",
            "/admin/api/",
            "/admin/api/users",
            "/admin/api/admins/adm_1",
            "/admin/api/me/x",
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

    /// Every file in `assets/` is served (a module left out would break the page), under
    /// its own name, and none is called `config.js`, which is generated.
    #[test]
    fn every_file_of_the_assets_folder_is_in_the_table() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name != "index.html")
            .map(|name| format!("/{name}"))
            .collect();
        on_disk.sort();
        let mut served: Vec<String> = ASSETS.iter().map(|file| file.path.to_owned()).collect();
        served.sort();
        assert_eq!(served, on_disk);
        assert!(!on_disk.contains(&"/config.js".to_owned()));
    }

    /// The page's own scripts, without the vendored library.
    fn modules() -> impl Iterator<Item = &'static Asset> {
        ASSETS
            .iter()
            .filter(|file| file.content_type == JS && !VENDORED.contains(&file.path))
    }

    /// Each module imports the others by a relative URL that the table serves, so the page
    /// loads whole; the page loads its entry as a module. (The vendored chart library is no
    /// module: the page loads it itself, see below.)
    #[test]
    fn every_import_is_a_served_module() {
        assert!(INDEX_HTML.contains(r#"<script type="module" src="app.js"></script>"#));
        let mut imported = Vec::new();
        for file in modules() {
            for line in file.text.lines().filter(|line| line.starts_with("import ")) {
                let target = line
                    .split_once(" from './")
                    .and_then(|(_, rest)| rest.strip_suffix("';"))
                    .unwrap_or_else(|| panic!("{}: not a relative import: {line}", file.path));
                let path = format!("/admin/{target}");
                let route = route(&path);
                assert!(
                    route == Route::Config
                        || matches!(route, Route::Asset(module) if module.content_type == JS),
                    "{} imports {target}, which is not served",
                    file.path
                );
                imported.push(target);
            }
            assert!(!file.text.contains("import("), "{}", file.path);
        }
        // Each module but the entry is imported somewhere, config.js included.
        for file in modules().filter(|f| f.path != "/app.js") {
            assert!(
                imported.contains(&&file.path[1..]),
                "{} is never imported",
                file.path
            );
        }
        assert!(imported.contains(&"config.js"));
    }

    /// The page's script takes the longest grace period from the Rust constant, and does
    /// not repeat it.
    #[test]
    fn config_js_carries_the_rust_constants() {
        let config = config_js();
        assert!(config.contains(&format!(
            "export const MAX_GRACE_SECONDS = {MAX_GRACE_SECONDS};"
        )));
        let number = MAX_GRACE_SECONDS.to_string();
        for file in ASSETS.iter().filter(|file| file.content_type == JS) {
            assert!(
                !file.text.contains(&number),
                "{} repeats {number}",
                file.path
            );
        }
        assert!(ASSETS.iter().any(|file| file
            .text
            .contains("import { MAX_GRACE_SECONDS } from './config.js';")));
    }

    /// uPlot is loaded by the page itself, script and stylesheet, keeps its licence notice,
    /// and uses nothing that the policy forbids: it writes no HTML (which Trusted Types would
    /// refuse) and no `style` attribute (which `style-src 'self'` would), only the CSSOM.
    #[test]
    fn the_vendored_chart_library_is_loaded_by_the_page_and_fits_the_policy() {
        assert!(INDEX_HTML.contains(r#"<script src="uplot.iife.min.js" defer></script>"#));
        assert!(INDEX_HTML.contains(r#"<link rel="stylesheet" href="uplot.min.css">"#));
        // Before the page's own stylesheet, which may override it.
        assert!(
            INDEX_HTML.find(r#"href="uplot.min.css""#).unwrap()
                < INDEX_HTML.find(r#"href="app.css""#).unwrap()
        );
        for path in VENDORED {
            let file = ASSETS.iter().find(|file| file.path == *path).unwrap();
            let header = file.text.lines().next().unwrap();
            assert!(
                header.starts_with("/*! uPlot 1.6.32 "),
                "{path} starts with {header}"
            );
            assert!(file.text.contains("MIT"), "{path}: its licence");
        }
        let script = ASSETS
            .iter()
            .find(|file| file.path == "/uplot.iife.min.js")
            .unwrap();
        assert!(script
            .text
            .contains("Permission is hereby granted, free of charge"));
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "setAttribute(\"style\"",
            "cssText",
            "eval(",
            "new Function",
        ] {
            assert!(!script.text.contains(forbidden), "uPlot uses {forbidden}");
        }
    }

    #[test]
    fn the_policy_allows_nothing_inline() {
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    }
}
